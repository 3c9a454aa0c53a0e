//! `POST /oauth/token` (RFC 6749 §3.2): authenticates the client, then hands
//! the request to one file per grant type. The password and implicit grants
//! do not exist (RFC 9700); unknown grant types are `unsupported_grant_type`.

mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use devauth_proto::{ErrorCode, GrantType};

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::form::OAuthForm;
use crate::client_addr::RequesterInfo;
use crate::state::AppState;

/// The path.
pub const PATH: &str = "/oauth/token";

/// The handler.
#[tracing::instrument(name = "token", skip_all, fields(grant_type))]
pub async fn handle(
    State(state): State<AppState>,
    RequesterInfo(requester): RequesterInfo,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let grant = GrantType::parse(form.require("grant_type")?);
    if let GrantType::Unknown(_) = grant {
        return Err(OAuthError::bad(
            ErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        ));
    }
    tracing::Span::current().record("grant_type", grant.as_str());
    let client = authenticate(&state, &headers, &form).await?;
    if !client.client().allows_grant(&grant) {
        return Err(OAuthError::bad(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ));
    }
    match grant {
        GrantType::DeviceCode => device_code::handle(&state, &client, &form, &requester).await,
        GrantType::RefreshToken => refresh_token::handle(&state, &client, &form, &requester).await,
        GrantType::AuthorizationCode => {
            authorization_code::handle(&state, &client, &form, &requester).await
        }
        GrantType::ClientCredentials => {
            client_credentials::handle(&state, &client, &form, &requester).await
        }
        GrantType::Unknown(_) => Err(OAuthError::bad(
            ErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        )),
    }
}
