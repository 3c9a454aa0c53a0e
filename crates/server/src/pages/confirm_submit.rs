//! `POST /device/confirm` (`user_code`, `csrf`, `action=approve|deny`): the
//! decision.
//!
//! Order of checks: a logged-in session, then CSRF token and `Origin`, then
//! the shared wrong-code budget ([`super::throttle`]) for the code. A
//! logged-in post for a live code that fails those checks counts as a wrong
//! confirmation on the grant ([`DeviceGrant::refuse_confirmation`]); after
//! [`crate::model::MAX_FAILED_CONFIRMATIONS`] the code is locked (denied),
//! so it cannot be pushed through by retrying.
//!
//! The grant is re-read and moved with [`DeviceGrant::decide`] under a
//! version check, retried on a lost race; the decision is audited
//! (`device_code.approved`, `device_code.denied`, `device_code.locked`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::audit::{self, EventKind};
use crate::model::{Decision, DeviceGrant, RefusedConfirmation, Requester, User};
use crate::state::AppState;

use super::error::PageError;
use super::session;
use super::throttle::CodeEntrant;
use super::view::{self, ErrorPage, ResultPage};
use super::{device_code, form};
use crate::client_addr::RequesterInfo;

/// How often a lost update race is retried before giving up.
const RACE_RETRIES: usize = 5;

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// Applies the person's decision.
#[tracing::instrument(name = "pages.device.confirm_submit", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    form::Body(body): form::Body,
) -> Result<Response, PageError> {
    let fields: Fields = form::parse(&body)?;
    let decision = match fields.action.as_str() {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        _ => return Err(PageError::BadRequest("Choose Approve or Deny.")),
    };
    let session = session::load(&state, &headers)
        .await?
        .ok_or(PageError::SessionExpired)?;
    let user = session
        .user(&state)
        .await?
        .ok_or(PageError::SessionExpired)?;
    if let Err(refused) = session::check_form(&state, &headers, &session, &fields.csrf) {
        count_failure(&state, &fields.user_code, &user, &ip).await?;
        return Err(refused);
    }

    // Like every page that looks a code up: the shared wrong-code budget.
    let who = CodeEntrant {
        session: session.throttle_key(),
        account: Some(&user.id),
        ip: &ip,
    };
    if device_code::find(&state, who, &fields.user_code)
        .await?
        .is_none()
    {
        return already_decided(&state, &fields.user_code, &user, decision).await;
    }
    for _ in 0..RACE_RETRIES {
        let Some(grant) = device_code::pending(&state, &fields.user_code).await? else {
            return already_decided(&state, &fields.user_code, &user, decision).await;
        };
        let now = state.clock.now();
        let version = grant.version;
        let Ok(moved) = grant.clone().decide(decision, &user.id, now) else {
            return already_decided(&state, &fields.user_code, &user, decision).await;
        };
        if state
            .stores
            .flow
            .update_device_grant(&moved, version)
            .await?
        {
            let kind = match decision {
                Decision::Approve => EventKind::DeviceCodeApproved,
                Decision::Deny => EventKind::DeviceCodeDenied,
            };
            audit(&state, kind, &grant, &user, &ip).await;
            return Ok(result(decision));
        }
    }
    Err(PageError::Internal(
        "device grant kept changing while it was being decided".into(),
    ))
}

/// The grant is no longer pending: a double click on the same decision by
/// the same person shows the same result again; anything else is the usual
/// "not valid" message.
async fn already_decided(
    state: &AppState,
    typed: &str,
    user: &User,
    decision: Decision,
) -> Result<Response, PageError> {
    if let Some(code) = devauth_proto::UserCode::normalize(typed) {
        let grant = state
            .stores
            .flow
            .device_grant_by_user_code(code.as_str())
            .await?;
        if grant.is_some_and(|g| g.carries(decision, &user.id)) {
            return Ok(result(decision));
        }
    }
    let page = ErrorPage {
        title: "This code cannot be confirmed".into(),
        message: device_code::why_not(state, typed).await?.into(),
        back: "/device".into(),
    };
    Ok(view::render(StatusCode::BAD_REQUEST, &page))
}

fn result(decision: Decision) -> Response {
    let page = match decision {
        Decision::Approve => ResultPage {
            title: "You’re all set".into(),
            message: "The device is now signed in. Return to your device; it will continue \
                      on its own in a few seconds."
                .into(),
            approved: true,
        },
        Decision::Deny => ResultPage {
            title: "Request denied".into(),
            message: "Nothing was shared with the device. If you did not start this request, \
                      someone may have tried to trick you; no action is needed."
                .into(),
            approved: false,
        },
    };
    view::render(StatusCode::OK, &page)
}

/// Counts a refused confirmation against a live code, locking it at the limit.
async fn count_failure(
    state: &AppState,
    typed: &str,
    user: &User,
    ip: &str,
) -> Result<(), PageError> {
    for _ in 0..RACE_RETRIES {
        let Some(grant) = device_code::pending(state, typed).await? else {
            return Ok(());
        };
        let version = grant.version;
        let (next, locked) = match grant.clone().refuse_confirmation(state.clock.now()) {
            Ok(RefusedConfirmation::Counted(next)) => (next, false),
            Ok(RefusedConfirmation::Locked(next)) => (next, true),
            Err(e) => return Err(PageError::Internal(e.to_string())),
        };
        if state
            .stores
            .flow
            .update_device_grant(&next, version)
            .await?
        {
            if locked {
                audit(state, EventKind::DeviceCodeLocked, &grant, user, ip).await;
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Records a decision (ids only, never the user code).
async fn audit(state: &AppState, kind: EventKind, grant: &DeviceGrant, user: &User, ip: &str) {
    let event = audit::Event {
        kind,
        client_id: Some(&grant.client_id),
        user_id: Some(&user.id),
        ip: Some(ip),
        details: serde_json::json!({
            "grant_id": grant.id,
            "requester_ip": grant.requester.ip,
        }),
    };
    state.record_audit(event).await;
}
