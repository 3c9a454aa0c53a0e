//! `GET /metrics`: Prometheus text exposition (see [`crate::metrics`] for the list).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The path.
pub const PATH: &str = "/metrics";

/// The handler.
pub async fn handle() -> Response {
    let text = crate::metrics::handle()
        .map(|h| h.render())
        .unwrap_or_default();
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
