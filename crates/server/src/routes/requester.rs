//! Who is asking: the peer IP from `ConnectInfo<SocketAddr>` (the server must
//! be served with `into_make_service_with_connect_info`) and the
//! `User-Agent`. `X-Forwarded-For` is not trusted: behind a reverse proxy
//! every request appears to come from the proxy.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::model::Requester;

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;

/// The requester of the current request.
#[derive(Debug, Clone)]
pub struct RequesterInfo(pub Requester);

impl<S: Send + Sync> FromRequestParts<S> for RequesterInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_USER_AGENT).collect())
            .unwrap_or_default();
        Ok(Self(Requester { ip, user_agent }))
    }
}
