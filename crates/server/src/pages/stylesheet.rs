//! `GET /assets/devauth.css`: the pages' one stylesheet (no external fonts,
//! no images), compiled into the binary from `templates/devauth.css`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../templates/devauth.css");

/// Serves the stylesheet.
pub async fn handler() -> Response {
    let mut response = CSS.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}
