//! `303 See Other` answers: after a form post, to the login page and back,
//! and to a client's redirect URI.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::PageError;

/// `303 See Other` to `location` (a local path or an absolute redirect URI).
pub fn see_other(location: &str) -> Result<Response, PageError> {
    let value = HeaderValue::from_str(location)
        .map_err(|_| PageError::BadRequest("The address is not valid."))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}
