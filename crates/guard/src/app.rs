//! The guard's router.
//!
//! | path | answer |
//! |---|---|
//! | `/.well-known/oauth-protected-resource` and the same + the resource's path | the metadata document (RFC 9728), readable cross-origin |
//! | `/healthz` | `ok` |
//! | under the resource's path | verified ([`crate::verify`]), then proxied ([`crate::proxy`]) or refused ([`crate::challenge`]) |
//! | anything else | 404 |

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::Config;
use crate::jwks::{Keys, KeysError};
use crate::metadata::{Document, WELL_KNOWN};
use crate::proxy::{self, Upstream};
use crate::verify;

/// A guard ready to serve.
#[derive(Debug)]
pub struct Guard {
    config: Config,
    keys: Keys,
    seen: verify::Seen,
    upstream: Upstream,
}

/// Why the guard did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The issuer's keys could not be fetched.
    #[error(
        "cannot get the signing keys of {issuer}: {source}; check --issuer (or pass --jwks-uri)"
    )]
    Keys {
        /// The issuer.
        issuer: String,
        /// What failed.
        source: KeysError,
    },
}

impl Guard {
    /// Fetches the issuer's keys: a guard that cannot verify does not start.
    pub async fn start(config: Config) -> Result<Arc<Self>, StartError> {
        let keys = Keys::fetch(&config.issuer, config.jwks_uri.as_deref(), config.jwks_ttl)
            .await
            .map_err(|source| StartError::Keys {
                issuer: config.issuer.clone(),
                source,
            })?;
        Ok(Arc::new(Self {
            config,
            keys,
            seen: verify::Seen::default(),
            upstream: proxy::client(),
        }))
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The keys in use.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new()
            .route(WELL_KNOWN, get(metadata))
            .route("/healthz", get(|| async { "ok\n" }));
        let suffixed = format!("{WELL_KNOWN}{}", self.config.resource_path());
        if suffixed != WELL_KNOWN {
            router = router.route(&suffixed, get(metadata));
        }
        router.fallback(guarded).with_state(self.clone())
    }
}

async fn metadata(State(guard): State<Arc<Guard>>) -> Response {
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        axum::Json(Document::of(&guard.config)),
    )
        .into_response()
}

async fn guarded(
    State(guard): State<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    if proxy::upstream_uri(&guard.config, req.uri()).is_none() {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match verify::verify(&guard.keys, &guard.config, &guard.seen, authorization).await {
        Ok(verified) => {
            metrics::counter!("devauth_guard_requests_total", "outcome" => "allowed").increment(1);
            let req = req.map(Body::new);
            proxy::forward(&guard.upstream, &guard.config, req, &verified, peer).await
        }
        Err(rejection) => {
            let outcome = match rejection {
                verify::Rejection::Missing => "no_token",
                verify::Rejection::Invalid(_) => "invalid_token",
                verify::Rejection::InsufficientScope => "insufficient_scope",
            };
            metrics::counter!("devauth_guard_requests_total", "outcome" => outcome).increment(1);
            crate::challenge::response(&guard.config, &rejection)
        }
    }
}
