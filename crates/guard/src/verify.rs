//! One bearer token → who it is for and what it may do, or why not.
//!
//! Checked, in this order: the `Authorization: Bearer` header; the JWT's
//! algorithm (asymmetric only: RS*, PS*, ES256/384, EdDSA — never `none`
//! or an HMAC the public JWKS could forge); the signature, with the key its
//! `kid` names (a JWK that pins an `alg` must match); `iss` equal to the
//! issuer; `aud` holding the resource exactly (RFC 8707: a token for another
//! resource is refused, so a token cannot be replayed across services);
//! `exp` and `nbf` with the leeway; then the required scopes (`scope` as a
//! space-separated string, RFC 9068, or `scp` as Entra sends it).
//!
//! A token that passed is remembered ([`Verified`] by the SHA-256 of the
//! token, in a [`Seen`]) until its `exp`: the same token on the next request
//! — a client sends one token many times — skips the signature and JSON
//! work and is only checked against the clock. A JWT cannot be revoked at
//! the guard either way, so this changes no answer; it only stops paying for
//! the same proof twice.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::jwks::Keys;

/// Longest token accepted.
const MAX_TOKEN: usize = 16 * 1024;

/// A token that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `sub`.
    pub subject: String,
    /// The scopes it carries.
    pub scopes: Vec<String>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No bearer token (RFC 6750 §3.1: no error code).
    Missing,
    /// A token that is not valid here: what is wrong, in a few words that
    /// never quote the token.
    Invalid(&'static str),
    /// A valid token without every required scope.
    InsufficientScope,
}

/// Most tokens remembered; the memory starts over when full.
const MAX_SEEN: usize = 16 * 1024;

/// Tokens that passed, until they expire.
#[derive(Debug, Default)]
pub struct Seen {
    tokens: Mutex<HashMap<[u8; 32], (Verified, u64)>>,
}

impl Seen {
    fn get(&self, key: &[u8; 32], now: u64, leeway: u64) -> Option<Result<Verified, Rejection>> {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (verified, exp) = tokens.get(key)?;
        if now > exp.saturating_add(leeway) {
            tokens.remove(key);
            return Some(Err(Rejection::Invalid("the token has expired")));
        }
        Some(Ok(verified.clone()))
    }

    fn put(&self, key: [u8; 32], verified: &Verified, exp: u64) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tokens.len() >= MAX_SEEN {
            tokens.clear();
        }
        tokens.insert(key, (verified.clone(), exp));
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<serde_json::Value>,
}

const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The token of an `Authorization` header value, if it is a bearer token.
pub fn bearer(header: Option<&str>) -> Result<&str, Rejection> {
    let value = header.ok_or(Rejection::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(Rejection::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::Missing);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN || token.contains(' ') {
        return Err(Rejection::Invalid("the bearer token is malformed"));
    }
    Ok(token)
}

/// Verifies the request's `Authorization` header, remembering tokens that
/// pass in `seen`.
pub async fn verify(
    keys: &Keys,
    config: &Config,
    seen: &Seen,
    authorization: Option<&str>,
) -> Result<Verified, Rejection> {
    let token = bearer(authorization)?;
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = jsonwebtoken::get_current_timestamp();
    if let Some(known) = seen.get(&key, now, config.leeway.as_secs()) {
        return known;
    }
    let (verified, exp) = verify_signed(keys, config, token).await?;
    seen.put(key, &verified, exp);
    Ok(verified)
}

async fn verify_signed(
    keys: &Keys,
    config: &Config,
    token: &str,
) -> Result<(Verified, u64), Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Invalid("not a JWT"))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(Rejection::Invalid("the token's algorithm is not accepted"));
    }
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = config.leeway.as_secs();
    validation.validate_nbf = true;

    let candidates = keys.candidates(header.kid.as_deref()).await;
    if candidates.is_empty() {
        return Err(Rejection::Invalid(
            "the token was signed with an unknown key",
        ));
    }
    let mut reason = "the signature does not verify";
    for key in candidates {
        if key.alg.is_some_and(|a| a != header.alg) {
            continue;
        }
        match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
            Ok(data) => {
                let exp = data.claims.exp;
                return authorize(data.claims, config).map(|v| (v, exp));
            }
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind as K;
                reason = match e.kind() {
                    K::ExpiredSignature => "the token has expired",
                    K::ImmatureSignature => "the token is not valid yet",
                    K::InvalidIssuer => "the token is from another issuer",
                    K::InvalidAudience => "the token is for another resource",
                    K::MissingRequiredClaim(_) => "the token lacks a required claim",
                    K::InvalidSignature => "the signature does not verify",
                    _ => "the token is not valid",
                };
                // A definite answer about the claims ends the search; only a
                // signature mismatch tries the next key.
                if !matches!(e.kind(), K::InvalidSignature | K::InvalidAlgorithm) {
                    break;
                }
            }
        }
    }
    Err(Rejection::Invalid(reason))
}

fn authorize(claims: Claims, config: &Config) -> Result<Verified, Rejection> {
    let mut scopes: Vec<String> = claims
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    match claims.scp {
        Some(serde_json::Value::String(s)) => {
            scopes.extend(s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
        }
        Some(serde_json::Value::Array(a)) => {
            scopes.extend(a.iter().filter_map(|v| v.as_str()).map(str::to_owned));
        }
        _ => {}
    }
    if !config.required_scopes.iter().all(|r| scopes.contains(r)) {
        return Err(Rejection::InsufficientScope);
    }
    Ok(Verified {
        subject: claims.sub,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer(None), Err(Rejection::Missing));
        assert_eq!(bearer(Some("Basic dXNlcg==")), Err(Rejection::Missing));
        assert!(matches!(
            bearer(Some("Bearer ")),
            Err(Rejection::Invalid(_))
        ));
        assert!(matches!(
            bearer(Some("Bearer a b")),
            Err(Rejection::Invalid(_))
        ));
    }

    #[test]
    fn remembered_tokens_still_expire() {
        let seen = Seen::default();
        let v = Verified {
            subject: "u".into(),
            scopes: vec![],
        };
        seen.put([7; 32], &v, 1_000);
        assert_eq!(seen.get(&[7; 32], 1_000, 0), Some(Ok(v.clone())));
        assert_eq!(seen.get(&[7; 32], 1_020, 30), Some(Ok(v)));
        assert_eq!(
            seen.get(&[7; 32], 1_031, 30),
            Some(Err(Rejection::Invalid("the token has expired")))
        );
        assert_eq!(
            seen.get(&[7; 32], 1_000, 30),
            None,
            "forgotten once expired"
        );
        assert_eq!(seen.get(&[8; 32], 0, 0), None);
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let mut c = Config::new("https://a", "https://t/mcp", "http://127.0.0.1:1").unwrap();
        c.required_scopes = vec!["mcp:tools".into()];
        let claims = |scope: Option<&str>, scp: Option<serde_json::Value>| Claims {
            sub: "u".into(),
            exp: 0,
            scope: scope.map(str::to_owned),
            scp,
        };
        assert!(authorize(claims(Some("openid mcp:tools"), None), &c).is_ok());
        assert!(authorize(claims(None, Some(serde_json::json!(["mcp:tools"]))), &c).is_ok());
        assert_eq!(
            authorize(claims(Some("openid"), None), &c),
            Err(Rejection::InsufficientScope)
        );
    }
}
