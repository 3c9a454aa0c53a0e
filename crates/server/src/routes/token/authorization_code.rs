//! `grant_type=authorization_code` with PKCE S256 (RFC 6749 §4.1.3, RFC 7636 §4.5).
//!
//! The code is taken atomically (single use, even across replicas), then
//! checked: same client, not expired, the exact `redirect_uri` it was issued
//! for, and the verifier matching its S256 challenge. Every failure is
//! `invalid_grant`; the code is gone either way.
//!
//! A code presented again after it was redeemed is a replay (RFC 6749
//! §4.1.2): the tokens its first use issued are revoked (their family
//! remembers the code's hash), and `authorization_code.replayed` is recorded.

use axum::response::Response;
use devauth_proto::GrantType;

use super::super::client_auth::AuthenticatedClient;
use super::super::error::OAuthError;
use super::super::form::OAuthForm;
use super::super::issue::{Login, issue_login};
use crate::audit::{Event, EventKind};
use crate::model::{Requester, TokenHash};
use crate::state::AppState;

pub(super) async fn handle(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &OAuthForm,
    requester: &Requester,
) -> Result<Response, OAuthError> {
    let code = form.require("code")?;
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.require("code_verifier")?;
    let hash = TokenHash::of(code);
    let Some(code) = state.stores.flow.take_authorization_code(&hash).await? else {
        revoke_replayed(state, client, &hash, requester).await?;
        return Err(OAuthError::invalid_grant(
            "unknown, expired or already used authorization code",
        ));
    };
    let now = state.clock.now();
    if code.client_id != client.id() || now >= code.expires_at {
        return Err(OAuthError::invalid_grant(
            "unknown, expired or already used authorization code",
        ));
    }
    if code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    // RFC 8707 §2.2: the token request may repeat the resource of the
    // authorization request, never name another.
    if form
        .get("resource")
        .is_some_and(|r| code.resource.as_deref() != Some(r))
    {
        return Err(super::super::resource::invalid_target());
    }
    if !devauth_proto::pkce::verify_s256(verifier, &code.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "the code verifier does not match the code challenge",
        ));
    }
    let user = state.stores.durable.user_by_id(&code.user_id).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(OAuthError::invalid_grant("the user is disabled"));
    };
    issue_login(
        state,
        client,
        Login {
            user: &user,
            scope: &code.scope,
            auth_time: code.auth_time,
            nonce: code.nonce.clone(),
            grant: GrantType::AuthorizationCode,
            code_hash: Some(&hash),
            resource: code.resource.as_deref(),
            ip: &requester.ip,
        },
    )
    .await
}

/// A code that is gone may have been redeemed: if a family was issued from
/// it, that was the first use, and this is a replay — revoke the family (its
/// refresh tokens, and the access tokens carrying its `sid`).
async fn revoke_replayed(
    state: &AppState,
    client: &AuthenticatedClient,
    hash: &TokenHash,
    requester: &Requester,
) -> Result<(), OAuthError> {
    let Some(family) = state.stores.durable.family_by_code(hash).await? else {
        return Ok(());
    };
    let now = state.clock.now();
    if state.stores.durable.revoke_family(&family.id, now).await? {
        state
            .record_audit(Event {
                kind: EventKind::AuthorizationCodeReplayed,
                client_id: Some(client.id()),
                user_id: Some(&family.user_id),
                ip: Some(&requester.ip),
                details: serde_json::json!({ "family_id": family.id }),
            })
            .await;
    }
    Ok(())
}
