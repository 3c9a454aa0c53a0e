//! Signing keys, JWKS, and the JWTs the server issues.
//!
//! * Two current keys at any time: RS256 (RSA 2048; OIDC requires it, and it
//!   signs ID tokens and access tokens) and ES256 (P-256, published for
//!   resource servers that prefer it). Both are generated with aws-lc-rs on
//!   first start and stored as PKCS#8 DER in the [`DurableStore`].
//! * Rotation ([`rotate`]) makes a new pair current and retires the old keys;
//!   a retired key stays in JWKS until every token it signed has expired
//!   (`retired_at` + the longest token lifetime), then it is deleted.
//! * Access tokens follow RFC 9068 (`typ: at+jwt`, `iss`, `sub`, `aud`,
//!   `client_id`, `scope`, `jti`, `iat`, `exp`, `auth_time`), plus `sid`, the
//!   refresh-token family, so that revoking the family revokes them.
//!   ID tokens follow OIDC Core §2 (`aud` = client id, `nonce`, `at_hash`).
//! * Expiry is checked against the injected clock, not inside jsonwebtoken.
//!
//! Private key bytes never leave this module except into the store.

use std::sync::{Arc, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm as JwkAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{KeyAlgorithm, SigningKeyRecord, Timestamp};
use crate::store::{DurableStore, StoreError};

/// A key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation, parsing or signing failed in the crypto library.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// There is no current key for the algorithm.
    #[error("no current {0} signing key")]
    NoKey(&'static str),
    /// A claim set could not be encoded.
    #[error("could not encode claims: {0}")]
    Encode(String),
}

/// Why a presented JWT was refused. Deliberately coarse: callers answer
/// `invalid_token` whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, unknown `kid`, bad signature, wrong `iss`/`aud`/`typ`.
    #[error("the token is malformed or its signature does not verify")]
    Invalid,
    /// Past `exp`.
    #[error("the token has expired")]
    Expired,
    /// Signed with a `kid` this set does not hold (maybe a key another
    /// replica loaded first: reload and try once more).
    #[error("the token's key is unknown")]
    UnknownKey,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// One loaded key: signer, public JWK and verifier.
pub struct SigningKey {
    kid: String,
    alg: KeyAlgorithm,
    signer: Signer,
    jwk: Jwk,
    decoding: DecodingKey,
    /// When it starts signing: its record's `created_at`, which a rotation
    /// sets [`PUBLISH_AHEAD_SECS`] ahead so it is published first.
    active_from: Timestamp,
    retired_at: Option<Timestamp>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a stored key.
    pub fn from_record(rec: &SigningKeyRecord) -> Result<Self, KeyError> {
        let common = |alg| CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(alg),
            key_id: Some(rec.kid.clone()),
            ..Default::default()
        };
        let (signer, jwk) = match rec.alg {
            KeyAlgorithm::Rs256 => {
                let kp = RsaKeyPair::from_pkcs8(&rec.private_pkcs8_der)
                    .map_err(|_| KeyError::Crypto("bad RSA PKCS#8 key"))?;
                let pc = PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                let jwk = Jwk {
                    common: common(JwkAlgorithm::RS256),
                    algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                        key_type: RSAKeyType::RSA,
                        n: URL_SAFE_NO_PAD.encode(&pc.n),
                        e: URL_SAFE_NO_PAD.encode(&pc.e),
                    }),
                };
                (Signer::Rsa(kp), jwk)
            }
            KeyAlgorithm::Es256 => {
                let kp = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &rec.private_pkcs8_der,
                )
                .map_err(|_| KeyError::Crypto("bad EC PKCS#8 key"))?;
                let point = kp.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(KeyError::Crypto("unexpected EC public key encoding"));
                }
                let jwk = Jwk {
                    common: common(JwkAlgorithm::ES256),
                    algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                        key_type: EllipticCurveKeyType::EC,
                        curve: EllipticCurve::P256,
                        x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                        y: URL_SAFE_NO_PAD.encode(&point[33..65]),
                    }),
                };
                (Signer::Ec(kp), jwk)
            }
        };
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Crypto("bad public key"))?;
        Ok(Self {
            kid: rec.kid.clone(),
            alg: rec.alg,
            signer,
            jwk,
            decoding,
            active_from: rec.created_at,
            retired_at: rec.retired_at,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> KeyAlgorithm {
        self.alg
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| KeyError::Crypto("RSA signing failed"))?;
                Ok(sig)
            }
            Signer::Ec(kp) => kp
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing failed")),
        }
    }

    /// Signs `claims` as a compact JWS with header `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = serde_json::json!({ "alg": self.alg.as_str(), "typ": typ, "kid": self.kid });
        let header = serde_json::to_vec(&header).map_err(|e| KeyError::Encode(e.to_string()))?;
        let claims = serde_json::to_vec(claims).map_err(|e| KeyError::Encode(e.to_string()))?;
        let mut out = URL_SAFE_NO_PAD.encode(header);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let sig = self.sign_bytes(out.as_bytes())?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(out)
    }
}

/// Generates a fresh key record (CPU-heavy for RSA: call from `spawn_blocking`).
pub fn generate(alg: KeyAlgorithm, now: Timestamp) -> Result<SigningKeyRecord, KeyError> {
    use aws_lc_rs::encoding::AsDer as _;
    let der = match alg {
        KeyAlgorithm::Rs256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| KeyError::Crypto("RSA key generation failed"))?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = kp
                .as_der()
                .map_err(|_| KeyError::Crypto("RSA key export failed"))?;
            der.as_ref().to_vec()
        }
        KeyAlgorithm::Es256 => {
            let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| KeyError::Crypto("EC key generation failed"))?;
            kp.to_pkcs8v1()
                .map_err(|_| KeyError::Crypto("EC key export failed"))?
                .as_ref()
                .to_vec()
        }
    };
    let mut kid = [0u8; 12];
    crate::random::fill(&mut kid);
    Ok(SigningKeyRecord {
        kid: format!(
            "{}-{}",
            alg.as_str().to_ascii_lowercase(),
            URL_SAFE_NO_PAD.encode(kid)
        ),
        alg,
        private_pkcs8_der: der,
        created_at: now,
        retired_at: None,
    })
}

async fn generate_blocking(
    alg: KeyAlgorithm,
    now: Timestamp,
) -> Result<SigningKeyRecord, KeyError> {
    tokio::task::spawn_blocking(move || generate(alg, now))
        .await
        .map_err(|_| KeyError::Crypto("key generation task failed"))?
}

/// The keys in use: the current key per algorithm, and every published key.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// Builds a set from stored records (newest first), skipping keys whose
    /// publication period ended before `now`.
    pub fn from_records(
        records: &[SigningKeyRecord],
        now: Timestamp,
        max_token_ttl_secs: i64,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for rec in records {
            if rec
                .retired_at
                .is_some_and(|r| r.plus_secs(max_token_ttl_secs) <= now)
            {
                continue;
            }
            keys.push(SigningKey::from_record(rec)?);
        }
        Ok(Self { keys })
    }

    /// The key that signs for `alg` at `now`: the newest one already active
    /// and not yet retired (a rotated-in key is published before it signs).
    pub fn current(&self, alg: KeyAlgorithm, now: Timestamp) -> Result<&SigningKey, KeyError> {
        let live = |k: &&SigningKey| k.alg == alg && k.retired_at.is_none_or(|r| r > now);
        self.keys
            .iter()
            .filter(live)
            .filter(|k| k.active_from <= now)
            .max_by_key(|k| k.active_from)
            // A clock behind the one that made the key: better the newest
            // live key than none.
            .or_else(|| self.keys.iter().filter(live).min_by_key(|k| k.active_from))
            .ok_or(KeyError::NoKey(alg.as_str()))
    }

    /// The JWKS document: every published key.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// Checks a JWT's signature (by `kid`), `iss`, `aud` (when given) and
    /// `typ` (when given), then its `exp` against `now`.
    pub fn verify<T: DeserializeOwned + HasExpiry>(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
        typ: Option<&str>,
        now: Timestamp,
    ) -> Result<T, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        if let Some(want) = typ
            && !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(want))
        {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::Invalid)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(VerifyError::UnknownKey)?;
        let alg = match key.alg {
            KeyAlgorithm::Rs256 => Algorithm::RS256,
            KeyAlgorithm::Es256 => Algorithm::ES256,
        };
        if header.alg != alg {
            return Err(VerifyError::Invalid);
        }
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.set_issuer(&[issuer]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map_err(|_| VerifyError::Invalid)?;
        if now.secs() >= data.claims.exp() {
            return Err(VerifyError::Expired);
        }
        Ok(data.claims)
    }
}

/// Claims that carry an `exp`.
pub trait HasExpiry {
    /// `exp`, seconds since the epoch.
    fn exp(&self) -> i64;
}

/// An RFC 9068 access token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user id, or the client id for `client_credentials`.
    pub sub: String,
    /// Audience: the resource the token is for (RFC 8707), else the issuer.
    pub aud: String,
    /// The client.
    pub client_id: String,
    /// Granted scope, space-separated.
    pub scope: String,
    /// Unique id, for revocation.
    pub jti: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// When the user authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The refresh-token family (revoking it revokes this token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl HasExpiry for AccessClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// An OIDC ID token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Issuer.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The client id.
    pub aud: String,
    /// Authorized party (the client id).
    pub azp: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Echo of the authorization request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of SHA-256 of the access token, base64url (OIDC Core §3.1.3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The login name, with the `profile` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

impl HasExpiry for IdClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// `at_hash` of an access token for RS256/ES256 ID tokens.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// How far ahead of its first signature a rotated-in key is published: two
/// sweeper ticks ([`crate::sweeper::INTERVAL`], when every replica reloads its
/// keys), so every replica lists it in JWKS before any replica signs with it.
pub const PUBLISH_AHEAD_SECS: i64 = 60;

/// Least time between two reloads forced by an unknown `kid`.
const FORCED_RELOAD_GAP: std::time::Duration = std::time::Duration::from_secs(1);

/// The shared, reloadable key set held by the application state.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    inner: Arc<RwLock<Arc<KeySet>>>,
    /// When an unknown `kid` last forced a reload (single-flight, rate-limited).
    last_forced: Arc<tokio::sync::Mutex<Option<std::time::Instant>>>,
}

impl Keys {
    /// The key set as of the last (re)load.
    pub fn get(&self) -> Arc<KeySet> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Shares `other`'s current set (used once at start-up).
    pub fn replace_with(&self, other: &Keys) {
        let set = other.get();
        match self.inner.write() {
            Ok(mut g) => *g = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    /// Reloads from the store (after a rotation by `devauth admin keys rotate`
    /// or by another replica), dropping keys whose tokens have all expired.
    pub async fn reload(
        &self,
        store: &dyn DurableStore,
        now: Timestamp,
        max_token_ttl_secs: i64,
    ) -> Result<(), KeyError> {
        store
            .delete_keys_retired_before(now.plus_secs(-max_token_ttl_secs))
            .await?;
        let records = store.list_keys().await?;
        let set = KeySet::from_records(&records, now, max_token_ttl_secs)?;
        match self.inner.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    /// Reloads once because a token named a `kid` this set lacks (a key
    /// added since the last reload): at most once per `FORCED_RELOAD_GAP`,
    /// and one caller at a time, so garbage `kid`s cannot hammer the store.
    /// Returns whether a reload ran.
    pub async fn reload_for_unknown_kid(
        &self,
        store: &dyn DurableStore,
        now: Timestamp,
        max_token_ttl_secs: i64,
    ) -> Result<bool, KeyError> {
        let mut last = self.last_forced.lock().await;
        if last.is_some_and(|at| at.elapsed() < FORCED_RELOAD_GAP) {
            return Ok(false);
        }
        *last = Some(std::time::Instant::now());
        self.reload(store, now, max_token_ttl_secs).await?;
        Ok(true)
    }

    /// Makes sure a current RS256 and ES256 key exist (generating the missing
    /// ones), then loads the set.
    pub async fn ensure(
        store: &dyn DurableStore,
        now: Timestamp,
        max_token_ttl_secs: i64,
    ) -> Result<Self, KeyError> {
        ensure_current(store, now).await?;
        let keys = Self::default();
        keys.reload(store, now, max_token_ttl_secs).await?;
        Ok(keys)
    }
}

/// Generates the current RS256 and ES256 keys that are missing (first
/// start); deletes nothing.
pub async fn ensure_current(store: &dyn DurableStore, now: Timestamp) -> Result<(), KeyError> {
    let records = store.list_keys().await?;
    for alg in [KeyAlgorithm::Rs256, KeyAlgorithm::Es256] {
        if !records
            .iter()
            .any(|r| r.alg == alg && r.retired_at.is_none())
        {
            let rec = generate_blocking(alg, now).await?;
            store.add_key(&rec).await?;
        }
    }
    Ok(())
}

/// Rotates: a new RS256 and ES256 key are published now and sign from
/// `now + PUBLISH_AHEAD_SECS`, when every older key is retired (and stays
/// published until its tokens expire). Until then the old keys sign, so no
/// replica signs with a key another replica does not publish yet. Returns
/// the new key ids.
pub async fn rotate(store: &dyn DurableStore, now: Timestamp) -> Result<Vec<String>, KeyError> {
    let switch = now.plus_secs(PUBLISH_AHEAD_SECS);
    let rs = generate_blocking(KeyAlgorithm::Rs256, switch).await?;
    let es = generate_blocking(KeyAlgorithm::Es256, switch).await?;
    store.add_key(&rs).await?;
    // Retire everything but the new RSA key, then add the new EC key, so the
    // single-`keep` store call leaves exactly the new pair current.
    store.retire_keys_except(&rs.kid, switch).await?;
    store.add_key(&es).await?;
    Ok(vec![rs.kid, es.kid])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn claims(now: Timestamp) -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1:1".into(),
            sub: "u".into(),
            aud: "http://127.0.0.1:1".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            jti: "j".into(),
            iat: now.secs(),
            exp: now.plus_secs(60).secs(),
            auth_time: None,
            sid: None,
        }
    }

    #[tokio::test]
    async fn sign_verify_rotate() {
        let store = SqliteStore::open_temporary().await.unwrap();
        let now = Timestamp::from_secs(1_700_000_000);
        let keys = Keys::ensure(&store, now, 3600).await.unwrap();
        let set = keys.get();
        assert_eq!(set.jwks().keys.len(), 2);
        let rs = set.current(KeyAlgorithm::Rs256, now).unwrap();
        let es = set.current(KeyAlgorithm::Es256, now).unwrap();
        for key in [rs, es] {
            let jwt = key.sign("at+jwt", &claims(now)).unwrap();
            let back: AccessClaims = set
                .verify(
                    &jwt,
                    "http://127.0.0.1:1",
                    Some("http://127.0.0.1:1"),
                    Some("at+jwt"),
                    now,
                )
                .unwrap();
            assert_eq!(back, claims(now));
            assert_eq!(
                set.verify::<AccessClaims>(&jwt, "http://other", None, None, now),
                Err(VerifyError::Invalid)
            );
            assert_eq!(
                set.verify::<AccessClaims>(
                    &jwt,
                    "http://127.0.0.1:1",
                    None,
                    None,
                    now.plus_secs(60)
                ),
                Err(VerifyError::Expired)
            );
            // A flipped signature byte fails.
            let mut bad = jwt.clone().into_bytes();
            let last = bad.len() - 2;
            bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bad).unwrap();
            assert!(
                set.verify::<AccessClaims>(&bad, "http://127.0.0.1:1", None, None, now)
                    .is_err()
            );
        }
        let old = set
            .current(KeyAlgorithm::Rs256, now)
            .unwrap()
            .kid()
            .to_owned();
        let old_jwt = set
            .current(KeyAlgorithm::Rs256, now)
            .unwrap()
            .sign("at+jwt", &claims(now))
            .unwrap();

        let new = rotate(&store, now.plus_secs(10)).await.unwrap();
        keys.reload(&store, now.plus_secs(10), 3600).await.unwrap();
        let set = keys.get();
        // Published at once…
        assert_eq!(set.jwks().keys.len(), 4);
        // …but the old keys sign until every replica has reloaded twice,
        let before = now.plus_secs(10 + PUBLISH_AHEAD_SECS - 1);
        assert_eq!(set.current(KeyAlgorithm::Rs256, before).unwrap().kid(), old);
        assert_ne!(
            set.current(KeyAlgorithm::Es256, before).unwrap().kid(),
            new[1]
        );
        // then the new pair takes over.
        let switched = now.plus_secs(10 + PUBLISH_AHEAD_SECS);
        assert_eq!(
            set.current(KeyAlgorithm::Rs256, switched).unwrap().kid(),
            new[0]
        );
        assert_eq!(
            set.current(KeyAlgorithm::Es256, switched).unwrap().kid(),
            new[1]
        );
        // Old tokens still verify while their key is published.
        assert!(
            set.verify::<AccessClaims>(&old_jwt, "http://127.0.0.1:1", None, None, now)
                .is_ok()
        );
        // Once every token of the old key has expired, it is gone.
        let later = now.plus_secs(10 + PUBLISH_AHEAD_SECS + 3600);
        keys.reload(&store, later, 3600).await.unwrap();
        let set = keys.get();
        assert_eq!(set.jwks().keys.len(), 2);
        assert!(
            set.jwks()
                .keys
                .iter()
                .all(|k| k.common.key_id.as_deref() != Some(&old))
        );
    }

    #[test]
    fn rotated_keys_are_published_for_two_reloads_before_they_sign() {
        let tick = i64::try_from(crate::sweeper::INTERVAL.as_secs()).unwrap();
        assert!(PUBLISH_AHEAD_SECS >= 2 * tick);
    }

    #[tokio::test]
    async fn an_unknown_kid_reloads_once_and_not_more_than_once_a_second() {
        let store = SqliteStore::open_temporary().await.unwrap();
        let now = Timestamp::from_secs(1_700_000_000);
        let keys = Keys::ensure(&store, now, 3600).await.unwrap();
        assert!(
            keys.reload_for_unknown_kid(&store, now, 3600)
                .await
                .unwrap()
        );
        assert!(
            !keys
                .reload_for_unknown_kid(&store, now, 3600)
                .await
                .unwrap()
        );
    }

    #[test]
    fn at_hash_is_left_half() {
        // OIDC Core example values are for a different token; check the shape.
        assert_eq!(at_hash("abc").len(), 22);
    }
}
