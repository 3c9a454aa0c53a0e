//! `GET /`: what this server is, for a person who opens its address: a link
//! to the code entry page, the issuer and its discovery document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::state::AppState;

use super::view::{self, HomePage};

/// Shows the home page.
pub async fn handler(State(state): State<AppState>) -> Response {
    view::render(
        StatusCode::OK,
        &HomePage {
            issuer: state.config.issuer.clone(),
        },
    )
}
