//! Parsing of form bodies and query strings into typed fields.
//!
//! axum's `Form` and `Query` extractors answer malformed input with their own
//! plain-text rejections; the pages parse by hand instead, so that a bad body
//! is the readable 400 page like every other refusal. A field sent twice is
//! refused (RFC 6749 §3.1 asks the same of OAuth parameters).

use serde::de::DeserializeOwned;

use super::error::PageError;

/// Parses an `application/x-www-form-urlencoded` body or query string.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(raw)
        .map_err(|_| PageError::BadRequest("The form could not be read."))
}

/// Parses an optional query string (absent = empty).
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, PageError> {
    parse(raw.unwrap_or_default().as_bytes())
}

/// The pairs of a body or query string, in order (for duplicate checks).
pub fn pairs(raw: &[u8]) -> Result<Vec<(String, String)>, PageError> {
    serde_urlencoded::from_bytes(raw)
        .map_err(|_| PageError::BadRequest("The request could not be read."))
}

/// A whole request body, refused as a readable 400 page (not axum's plain
/// text) when it cannot be read, e.g. past the body size limit.
#[derive(Debug)]
pub struct Body(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|_| PageError::BadRequest("The form could not be read."))
    }
}
