//! `grant_type=client_credentials` (RFC 6749 §4.4): confidential clients only,
//! an access token with `sub` = the client id, no refresh token, no ID token.
//! Without a `scope` parameter the client gets every scope it is allowed.

use axum::response::Response;
use devauth_proto::{ErrorCode, Scope};

use super::super::client_auth::AuthenticatedClient;
use super::super::error::OAuthError;
use super::super::form::OAuthForm;
use super::super::issue::{mint, resolve_scope, respond};
use crate::audit::{Event, EventKind};
use crate::model::Requester;
use crate::state::AppState;

pub(super) async fn handle(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &OAuthForm,
    requester: &Requester,
) -> Result<Response, OAuthError> {
    if client.client().is_public() {
        return Err(OAuthError::bad(
            ErrorCode::UnauthorizedClient,
            "public clients may not use client_credentials",
        ));
    }
    // No scope asked: everything the client may have, minus the user-only scopes.
    let default = Scope::from_tokens(
        client
            .client()
            .allowed_scopes
            .iter()
            .filter(|t| !matches!(*t, "openid" | "offline_access" | "profile" | "email")),
    );
    let resource = super::super::resource::requested(state, form).await?;
    let scope = resolve_scope(client, form.get("scope"), &default, resource.as_ref())?;
    if scope.contains("openid") || scope.contains("offline_access") {
        return Err(OAuthError::bad(
            ErrorCode::InvalidScope,
            "openid and offline_access need a user",
        ));
    }
    let now = state.clock.now();
    let minted = mint(
        state,
        client.client(),
        client.id(),
        None,
        &scope,
        None,
        None,
        None,
        resource.as_ref().map(|r| r.url.as_str()),
        now,
    )?;
    state
        .record_audit(Event {
            client_id: Some(client.id()),
            ip: Some(&requester.ip),
            details: serde_json::json!({ "grant_type": "client_credentials", "jti": minted.jti }),
            ..Event::of(EventKind::TokenIssued)
        })
        .await;
    Ok(respond(state, minted, None, &scope))
}
