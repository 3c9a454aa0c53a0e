//! `GET /oauth/jwks.json`: every published signing key (current and retired
//! ones whose tokens may still be valid), each with its `kid`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The path.
pub const PATH: &str = "/oauth/jwks.json";

/// The handler.
pub async fn handle(State(state): State<AppState>) -> Response {
    let mut res = axum::Json(state.keys.get().jwks()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    res
}
