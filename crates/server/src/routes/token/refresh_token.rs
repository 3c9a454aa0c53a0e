//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2).
//!
//! Every use rotates: the presented token is spent and a new one is issued
//! in the same family, in one compare-and-swap transaction, so a family has
//! at most one live refresh token. What a presentation means is decided by
//! [`RefreshToken::presented`]:
//! * the live token: rotated;
//! * the newest rotated token again, within
//!   [`crate::model::REFRESH_GRACE_MILLIS`], while its successor was never
//!   used (the response carrying it was probably lost): the successor dies
//!   in its place and the retry gets a new pair;
//! * any other spent token: reuse — the whole family is revoked (every
//!   refresh token, and the access tokens carrying its `sid`), the event
//!   `refresh.reuse_detected` is recorded, and the answer is `invalid_grant`.

use axum::response::Response;
use devauth_proto::{ErrorCode, Scope};

use super::super::client_auth::AuthenticatedClient;
use super::super::error::OAuthError;
use super::super::form::OAuthForm;
use super::super::issue::{mint, new_refresh_token, respond};
use crate::audit::{Event, EventKind};
use crate::model::{RefreshToken, RefreshVerdict, Requester, TokenFamily, TokenHash};
use crate::state::AppState;

/// Attempts before a run of lost races becomes `temporarily_unavailable`.
const MAX_ATTEMPTS: usize = 5;

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

pub(super) async fn handle(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &OAuthForm,
    requester: &Requester,
) -> Result<Response, OAuthError> {
    let hash = TokenHash::of(form.require("refresh_token")?);
    let requested = form
        .get("scope")
        .map(Scope::parse)
        .transpose()
        .map_err(|_| OAuthError::bad(ErrorCode::InvalidScope, "invalid scope syntax"))?;
    // RFC 8707: a refresh may name the resource it was granted for, never another.
    let asked_resource = form.get("resource");
    for _ in 0..MAX_ATTEMPTS {
        let Some(token) = state.stores.durable.refresh_token(&hash).await? else {
            return Err(invalid());
        };
        let now = state.clock.now();
        if !token.presentable_by(client.id(), now) {
            return Err(invalid());
        }
        let Some(family) = state.stores.durable.family(&token.family_id).await? else {
            return Err(invalid());
        };
        if family.revoked_at.is_some() {
            return Err(invalid());
        }
        if asked_resource.is_some_and(|r| family.resource.as_deref() != Some(r)) {
            return Err(super::super::resource::invalid_target());
        }
        if let Some(req) = &requested
            && !req.is_subset(&token.scope)
        {
            return Err(OAuthError::bad(
                ErrorCode::InvalidScope,
                "the requested scope exceeds what was granted",
            ));
        }
        let latest = if token.is_active() {
            None
        } else {
            state.stores.durable.latest_in_family(&family.id).await?
        };
        let verdict = token.presented(now, latest.as_ref());
        let to_spend = match &verdict {
            RefreshVerdict::Rotate => token,
            RefreshVerdict::Retry { successor } => (**successor).clone(),
            RefreshVerdict::Reuse => {
                state.stores.durable.revoke_family(&family.id, now).await?;
                state
                    .record_audit(Event {
                        kind: EventKind::RefreshReuseDetected,
                        client_id: Some(client.id()),
                        user_id: Some(&family.user_id),
                        ip: Some(&requester.ip),
                        details: serde_json::json!({
                            "family_id": family.id,
                            "token_id": token.id,
                        }),
                    })
                    .await;
                return Err(invalid());
            }
        };
        match rotate(
            state,
            client,
            &family,
            to_spend,
            &verdict,
            requested.as_ref(),
            requester,
        )
        .await?
        {
            Some(response) => return Ok(response),
            None => continue,
        }
    }
    Err(OAuthError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TemporarilyUnavailable,
        "too much contention on this refresh token, retry",
    ))
}

/// Spends `old` (the family's live token) and issues tokens; `None` when
/// another request spent it first.
async fn rotate(
    state: &AppState,
    client: &AuthenticatedClient,
    family: &TokenFamily,
    old: RefreshToken,
    verdict: &RefreshVerdict,
    requested: Option<&Scope>,
    requester: &Requester,
) -> Result<Option<Response>, OAuthError> {
    let user = state.stores.durable.user_by_id(&family.user_id).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(invalid());
    };
    let now = state.clock.now();
    let version = old.version;
    let (raw, new) = new_refresh_token(state, family, &old.scope, now, Some(&old.id));
    let used = old.spent(verdict, now);
    if !state
        .stores
        .durable
        .rotate_refresh_token(&used, version, &new)
        .await?
    {
        return Ok(None);
    }
    let scope = requested.cloned().unwrap_or_else(|| new.scope.clone());
    let minted = mint(
        state,
        client.client(),
        &user.id,
        Some(&user),
        &scope,
        Some(&family.id),
        Some(family.auth_time),
        None,
        family.resource.as_deref(),
        now,
    )?;
    state
        .record_audit(Event {
            kind: EventKind::TokenIssued,
            client_id: Some(client.id()),
            user_id: Some(&user.id),
            ip: Some(&requester.ip),
            details: serde_json::json!({
                "grant_type": "refresh_token",
                "family_id": family.id,
                "jti": minted.jti,
            }),
        })
        .await;
    Ok(Some(respond(state, minted, Some(raw), &scope)))
}
