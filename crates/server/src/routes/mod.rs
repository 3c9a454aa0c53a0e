//! OAuth and JSON endpoints, one file per route (the shared pieces — errors,
//! form parsing, client authentication, token minting — have their own files).
//!
//! Every OAuth endpoint answers errors as RFC 6749 §5.2 JSON with
//! `Cache-Control: no-store`; bad input is a 4xx, never a 500 or a panic.

pub mod access;
pub mod client_auth;
pub mod device_authorization;
pub mod discovery;
pub mod error;
pub mod form;
pub mod healthz;
pub mod introspect;
pub mod issue;
pub mod jwks;
pub mod metrics;
pub mod register;
pub mod resource;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of the OAuth/JSON surface.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(discovery::OAUTH_PATH, get(discovery::handle))
        .route(discovery::OIDC_PATH, get(discovery::handle))
        .route(
            device_authorization::PATH,
            post(device_authorization::handle),
        )
        .route(token::PATH, post(token::handle))
        .route(register::PATH, post(register::handle))
        .route(revoke::PATH, post(revoke::handle))
        .route(introspect::PATH, post(introspect::handle))
        .route(userinfo::PATH, get(userinfo::handle).post(userinfo::handle))
        .route(jwks::PATH, get(jwks::handle))
        .route(healthz::PATH, get(healthz::handle))
}
