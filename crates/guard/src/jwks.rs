//! The issuer's signing keys.
//!
//! At start the `jwks_uri` comes from the issuer's metadata (RFC 8414, then
//! OpenID discovery, the `issuer` member checked), unless `--jwks-uri` names
//! it. Keys are used for [`crate::Config::jwks_ttl`], then fetched again; a
//! token signed with a `kid` not in the set makes the guard fetch the set at
//! once — that is how a key rotation at the issuer is followed — but at most
//! once per [`MIN_REFETCH`], one fetch at a time, so tokens with made-up
//! `kid`s cannot make the guard hammer the issuer. A failed fetch keeps the
//! keys it had.
//!
//! Fetching is blocking ureq on the blocking pool: it happens every few
//! minutes, never on the request path unless a key is unknown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Fewest seconds between two fetches caused by unknown `kid`s.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// Largest metadata or JWKS document read.
const MAX_DOCUMENT: u64 = 256 * 1024;

/// One verification key.
#[derive(Clone)]
pub struct Key {
    /// The key.
    pub key: DecodingKey,
    /// The algorithm the JWK pins, if it names one.
    pub alg: Option<Algorithm>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The issuer or the JWKS could not be fetched.
    #[error("cannot fetch {url}: {detail}")]
    Fetch {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// A document is not what it should be.
    #[error("{url} is not usable: {detail}")]
    Invalid {
        /// The URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

#[derive(Debug)]
struct Cached {
    by_kid: HashMap<String, Arc<Key>>,
    /// Keys without a `kid`: tried for tokens without one.
    anonymous: Vec<Arc<Key>>,
    fetched_at: Instant,
}

/// The issuer's keys, cached.
#[derive(Debug)]
pub struct Keys {
    jwks_uri: String,
    ttl: Duration,
    agent: ureq::Agent,
    cached: tokio::sync::RwLock<Cached>,
    /// Held while fetching; holds when the last fetch for an unknown `kid` ran.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .user_agent(concat!("devauth-guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Result<serde_json::Value, KeysError> {
    let fetch = |detail: String| KeysError::Fetch {
        url: url.to_owned(),
        detail,
    };
    let mut resp = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| fetch(e.to_string()))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(fetch(format!("HTTP {status}")));
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT)
        .read_to_string()
        .map_err(|e| fetch(e.to_string()))?;
    serde_json::from_str(&body).map_err(|e| KeysError::Invalid {
        url: url.to_owned(),
        detail: format!("not JSON ({e})"),
    })
}

/// The issuer's `jwks_uri`, from its metadata.
fn discover(agent: &ureq::Agent, issuer: &str) -> Result<String, KeysError> {
    let parsed = url::Url::parse(issuer).map_err(|e| KeysError::Invalid {
        url: issuer.to_owned(),
        detail: e.to_string(),
    })?;
    let path = parsed.path().trim_end_matches('/');
    let origin = parsed.origin().ascii_serialization();
    let candidates = [
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{issuer}/.well-known/openid-configuration"),
    ];
    let mut last = None;
    for url in candidates {
        match get_json(agent, &url) {
            Ok(meta) => {
                if meta["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer) {
                    return Err(KeysError::Invalid {
                        url,
                        detail: format!("it names another issuer than {issuer}"),
                    });
                }
                return meta["jwks_uri"].as_str().map(str::to_owned).ok_or_else(|| {
                    KeysError::Invalid {
                        url,
                        detail: "no jwks_uri".into(),
                    }
                });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| KeysError::Fetch {
        url: issuer.to_owned(),
        detail: "no metadata".into(),
    }))
}

fn load(agent: &ureq::Agent, jwks_uri: &str) -> Result<Cached, KeysError> {
    let doc = get_json(agent, jwks_uri)?;
    let set: JwkSet = serde_json::from_value(doc).map_err(|e| KeysError::Invalid {
        url: jwks_uri.to_owned(),
        detail: format!("not a JWK set ({e})"),
    })?;
    let mut cached = Cached {
        by_kid: HashMap::new(),
        anonymous: Vec::new(),
        fetched_at: Instant::now(),
    };
    for jwk in &set.keys {
        let Some(key) = usable(jwk) else { continue };
        match &jwk.common.key_id {
            Some(kid) => {
                cached.by_kid.insert(kid.clone(), Arc::new(key));
            }
            None => cached.anonymous.push(Arc::new(key)),
        }
    }
    Ok(cached)
}

/// A signing key the guard can verify with: public, for signatures, not HMAC.
fn usable(jwk: &Jwk) -> Option<Key> {
    use jsonwebtoken::jwk::{AlgorithmParameters, PublicKeyUse};
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        Some(a) => Some(Algorithm::try_from(a).ok()?),
        None => None,
    };
    if matches!(
        alg,
        Some(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    ) {
        return None;
    }
    Some(Key {
        key: DecodingKey::from_jwk(jwk).ok()?,
        alg,
    })
}

impl Keys {
    /// Finds the JWKS (from `jwks_uri`, else the issuer's metadata) and
    /// fetches it: the guard does not start without keys.
    pub async fn fetch(
        issuer: &str,
        jwks_uri: Option<&str>,
        ttl: Duration,
    ) -> Result<Self, KeysError> {
        let agent = agent();
        let issuer = issuer.to_owned();
        let given = jwks_uri.map(str::to_owned);
        let a = agent.clone();
        let (jwks_uri, cached) = tokio::task::spawn_blocking(move || {
            let uri = match given {
                Some(u) => u,
                None => discover(&a, &issuer)?,
            };
            let cached = load(&a, &uri)?;
            Ok::<_, KeysError>((uri, cached))
        })
        .await
        .map_err(|e| KeysError::Fetch {
            url: "the JWKS".into(),
            detail: e.to_string(),
        })??;
        Ok(Self {
            jwks_uri,
            ttl,
            agent,
            cached: tokio::sync::RwLock::new(cached),
            fetching: tokio::sync::Mutex::new(None),
        })
    }

    /// The JWKS URL in use.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// The keys that may have signed a token with `kid`.
    pub async fn candidates(&self, kid: Option<&str>) -> Vec<Arc<Key>> {
        let (found, stale) = self.lookup(kid).await;
        if !found.is_empty() && !stale {
            return found;
        }
        // Stale keys are refreshed; an unknown kid refetches now, rate-limited.
        self.refetch(found.is_empty()).await;
        let (again, _) = self.lookup(kid).await;
        again
    }

    async fn lookup(&self, kid: Option<&str>) -> (Vec<Arc<Key>>, bool) {
        let c = self.cached.read().await;
        let stale = c.fetched_at.elapsed() >= self.ttl;
        let found = match kid {
            Some(kid) => c.by_kid.get(kid).cloned().into_iter().collect(),
            None => {
                let mut all = c.anonymous.clone();
                all.extend(c.by_kid.values().cloned());
                all
            }
        };
        (found, stale)
    }

    async fn refetch(&self, unknown_kid: bool) {
        let mut last = self.fetching.lock().await;
        if unknown_kid && last.is_some_and(|t| t.elapsed() < MIN_REFETCH) {
            return;
        }
        if !unknown_kid && self.cached.read().await.fetched_at.elapsed() < self.ttl {
            return; // another request refreshed them while we waited
        }
        *last = Some(Instant::now());
        let (agent, uri) = (self.agent.clone(), self.jwks_uri.clone());
        match tokio::task::spawn_blocking(move || load(&agent, &uri)).await {
            Ok(Ok(fresh)) => {
                metrics::counter!("devauth_guard_jwks_fetches_total", "result" => "ok")
                    .increment(1);
                *self.cached.write().await = fresh;
            }
            Ok(Err(e)) => {
                metrics::counter!("devauth_guard_jwks_fetches_total", "result" => "error")
                    .increment(1);
                tracing::warn!(error = %e, "JWKS fetch failed; keeping the keys already held");
                // Try again after MIN_REFETCH, not on every request.
                self.cached.write().await.fetched_at =
                    Instant::now() - self.ttl + MIN_REFETCH.min(self.ttl);
            }
            Err(e) => tracing::warn!(error = %e, "JWKS fetch task failed"),
        }
    }
}
