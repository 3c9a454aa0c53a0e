//! The address of the browser, for rate limits and the audit log.
//!
//! Read from axum's `ConnectInfo<SocketAddr>`, which exists only when the
//! server is run with `into_make_service_with_connect_info::<SocketAddr>()`.
//! Forwarding headers (`X-Forwarded-For`) are not trusted: anyone can send
//! them. Without connect info every browser shares the key `unknown`, so the
//! per-IP limits become global ones (safe, but coarse).

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The peer IP address as text (`"unknown"` without connect info).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |ci| ci.0.ip().to_string());
        Ok(Self(ip))
    }
}
