//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4, §3.5).
//!
//! Each poll goes through [`DeviceGrant::poll`] and is stored with a version
//! check, so `slow_down` (+5 s, kept), `last_polled_at` and the single
//! exchange hold across concurrent polls and replicas. A lost race re-reads;
//! a request that keeps losing to concurrent polls gets `slow_down`. A poll
//! that leaves the grant unchanged (`slow_down` once the interval is at
//! [`crate::model::MAX_POLL_INTERVAL_SECS`], or an expired code) is answered
//! from one read without a write.
//!
//! The exchange is stored before the tokens are issued (so two concurrent
//! polls cannot both redeem); when issuing then fails, the approval is given
//! back ([`DeviceGrant::undo_exchange`]) and the device's next poll succeeds.

use axum::response::Response;
use devauth_proto::{ErrorCode, GrantType};

use super::super::client_auth::AuthenticatedClient;
use super::super::error::OAuthError;
use super::super::form::OAuthForm;
use super::super::issue::{Login, issue_login};
use crate::audit::{Event, EventKind};
use crate::model::{DeviceGrant, DeviceGrantState, PollVerdict, Requester, TokenHash};
use crate::state::AppState;

/// Attempts before a run of lost races becomes `slow_down`.
const MAX_ATTEMPTS: usize = 5;

pub(super) async fn handle(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &OAuthForm,
    requester: &Requester,
) -> Result<Response, OAuthError> {
    let hash = TokenHash::of_device_code(form.require("device_code")?);
    for _ in 0..MAX_ATTEMPTS {
        let Some(grant) = state.stores.flow.device_grant_by_code(&hash).await? else {
            return Err(OAuthError::invalid_grant("unknown device code"));
        };
        if grant.client_id != client.id() {
            return Err(OAuthError::invalid_grant(
                "the device code was issued to another client",
            ));
        }
        let now = state.clock.now();
        let version = grant.version;
        let approved_at = match &grant.state {
            DeviceGrantState::Approved { approved_at, .. } => Some(*approved_at),
            _ => None,
        };
        let (verdict, updated) = grant.clone().poll(now);
        // Unchanged (expired, or `slow_down` at the interval cap): nothing to
        // store, and the verdict holds whatever a concurrent writer does.
        if updated != grant
            && !state
                .stores
                .flow
                .update_device_grant(&updated, version)
                .await?
        {
            continue;
        }
        return match verdict {
            PollVerdict::SlowDown => Err(OAuthError::bad(
                ErrorCode::SlowDown,
                format!(
                    "polling too fast; wait at least {} seconds between polls",
                    updated.interval_secs
                ),
            )),
            PollVerdict::Pending => Err(OAuthError::bad(
                ErrorCode::AuthorizationPending,
                "the user has not yet approved the request",
            )),
            PollVerdict::Denied => Err(OAuthError::bad(
                ErrorCode::AccessDenied,
                "the user denied the request",
            )),
            PollVerdict::Expired => Err(OAuthError::bad(
                ErrorCode::ExpiredToken,
                "the device code has expired; start a new device authorization",
            )),
            PollVerdict::AlreadyExchanged => Err(OAuthError::invalid_grant(
                "the device code was already used",
            )),
            PollVerdict::Redeem { user_id } => {
                let user = state.stores.durable.user_by_id(&user_id).await?;
                let Some(user) = user.filter(|u| !u.disabled) else {
                    return Err(OAuthError::invalid_grant("the approving user is disabled"));
                };
                state
                    .record_audit(Event {
                        kind: EventKind::DeviceCodeExchanged,
                        client_id: Some(client.id()),
                        user_id: Some(&user.id),
                        ip: Some(&requester.ip),
                        details: serde_json::json!({ "grant_id": updated.id }),
                    })
                    .await;
                let issued = issue_login(
                    state,
                    client,
                    Login {
                        user: &user,
                        scope: &updated.scope,
                        auth_time: approved_at.unwrap_or(now),
                        nonce: None,
                        grant: GrantType::DeviceCode,
                        code_hash: None,
                        resource: updated.resource.as_deref(),
                        ip: &requester.ip,
                    },
                )
                .await;
                if issued.is_err() {
                    give_back(state, &grant, updated).await;
                }
                issued
            }
        };
    }
    // Every attempt lost to a concurrent poll of the same code: this request
    // was, by definition, too soon after another one.
    Err(OAuthError::bad(
        ErrorCode::SlowDown,
        "this device code is being polled concurrently; slow down",
    ))
}

/// Puts the approval back after tokens could not be issued for it (a store
/// or signing failure after the exchange was stored), so the device's next
/// poll redeems it instead of hearing `invalid_grant`. `exchanged` is the
/// grant as this poll stored it; if anything changed it since, or the store
/// fails again, the approval stays spent and the person starts over (the
/// only case where an approval is lost, logged as an error).
async fn give_back(state: &AppState, before: &DeviceGrant, exchanged: DeviceGrant) {
    let stored_version = before.version + 1;
    let restored = match exchanged.undo_exchange(before) {
        Ok(restored) => restored,
        Err(e) => {
            tracing::error!(grant_id = %before.id, error = %e, "cannot give the approval back");
            return;
        }
    };
    match state
        .stores
        .flow
        .update_device_grant(&restored, stored_version)
        .await
    {
        Ok(true) => {
            tracing::warn!(
                grant_id = %before.id,
                "tokens could not be issued; the approval stays redeemable"
            );
        }
        Ok(false) => {
            tracing::error!(grant_id = %before.id, "approval changed meanwhile; not given back");
        }
        Err(e) => {
            tracing::error!(grant_id = %before.id, error = %e, "approval lost: store failed twice");
        }
    }
}
