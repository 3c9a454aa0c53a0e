//! `GET|POST /oauth/userinfo` (OIDC Core §5.3): a Bearer access token
//! (RFC 6750 §2.1) that is active and carries `openid` gets the user's claims.
//! A bad token is 401 with `WWW-Authenticate: Bearer error="invalid_token"`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use devauth_proto::ErrorCode;

use super::error::{OAuthError, no_store_json};
use crate::state::AppState;

/// The path.
pub const PATH: &str = "/oauth/userinfo";

/// The handler.
#[tracing::instrument(name = "userinfo", skip_all)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(devauth_proto::bearer::parse_authorization)
        .ok_or_else(OAuthError::invalid_token)?;
    let active = super::access::check(&state, token)
        .await?
        .ok_or_else(OAuthError::invalid_token)?;
    let Some(user) = active.user else {
        return Err(OAuthError::invalid_token());
    };
    let scopes: Vec<&str> = active.claims.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InsufficientScope,
            "the access token lacks the openid scope",
        ));
    }
    let mut body = serde_json::json!({ "sub": user.id });
    if scopes.contains(&"profile") {
        body["preferred_username"] = serde_json::Value::String(user.username);
    }
    Ok(no_store_json(&body))
}
