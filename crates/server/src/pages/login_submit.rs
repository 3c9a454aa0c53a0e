//! `POST /login` (`username`, `password`, `csrf`, `next`): checks a password.
//!
//! Rate limited per session and per IP, and per account name with growing
//! delays after a few failures ([`throttle::account_login_allowed`]), so
//! guesses at one account from many addresses slow down too. An unknown user and a wrong password
//! get the same message, and an unknown user still costs one argon2
//! verification (against a dummy hash), so neither the text nor the timing
//! says which names exist. A disabled account is refused (said so only once
//! the password was right). Success starts a fresh session (new id, new CSRF
//! token) and deletes the old one, then goes to `next`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use devauth_proto::Secret;
use serde::Deserialize;

use crate::audit::{self, EventKind};
use crate::model::{Requester, User};
use crate::password;
use crate::state::AppState;

use super::error::PageError;
use super::form;
use super::login_show::safe_next;
use super::redirect;
use super::session;
use super::throttle::{self, Action};
use super::view::{self, LoginPage};
use crate::client_addr::RequesterInfo;

const WRONG: &str = "Wrong user name or password.";
const DISABLED: &str = "This account is disabled. Ask your administrator.";

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: Secret,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// A PHC string to verify against when the user does not exist.
static DUMMY_HASH: OnceLock<Option<String>> = OnceLock::new();

/// Checks the credentials and logs in.
#[tracing::instrument(name = "pages.login.submit", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    form::Body(body): form::Body,
) -> Result<Response, PageError> {
    let fields: Fields = form::parse(&body)?;
    let next = safe_next(fields.next.as_deref());
    let old = session::load(&state, &headers)
        .await?
        .ok_or(PageError::SessionExpired)?;
    session::check_form(&state, &headers, &old, &fields.csrf)?;
    throttle::check(&state, Action::Login, old.throttle_key(), &ip).await?;

    let username = fields.username.trim();
    throttle::account_login_allowed(&state, username).await?;
    let user = if username.is_empty() || username.len() > 256 {
        None
    } else {
        state.stores.durable.user_by_name(username).await?
    };
    let password_ok = verify(&fields.password, user.as_ref()).await?;
    let refusal = match &user {
        Some(u) if password_ok && !u.disabled => None,
        Some(u) if password_ok => Some((StatusCode::FORBIDDEN, DISABLED, Some(u))),
        other => Some((StatusCode::BAD_REQUEST, WRONG, other.as_ref())),
    };
    if let Some((status, message, known)) = refusal {
        if !password_ok {
            throttle::account_login_failed(&state, username).await?;
        }
        audit(&state, EventKind::UserLoginFailed, known, &ip).await;
        // The purpose again, without spending the wrong-code budget twice:
        // only an authorization request's application is looked up here.
        let purpose = super::login_show::purpose(&state, &next).await?;
        let page = LoginPage {
            csrf: old.record.csrf_token.clone(),
            next,
            username: username.chars().take(256).collect(),
            error: Some(message.into()),
            purpose,
        };
        return Ok(view::render(status, &page));
    }
    let Some(user) = user else {
        return Err(PageError::Internal("login accepted without a user".into()));
    };
    let fresh = session::rotate_into_login(&state, Some(&old), user.id.clone()).await?;
    audit(&state, EventKind::UserLogin, Some(&user), &ip).await;
    Ok(fresh.attach(redirect::see_other(&next)?))
}

/// argon2 verification off the async threads; against a dummy hash when
/// there is no such user, so the answer takes as long either way.
async fn verify(password: &Secret, user: Option<&User>) -> Result<bool, PageError> {
    let password = password.clone();
    let phc = user.map(|u| u.password_hash.clone());
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => password::verify(password.expose(), &phc),
        None => {
            let dummy = DUMMY_HASH.get_or_init(|| password::hash("devauth-dummy-password").ok());
            if let Some(dummy) = dummy {
                let _ = password::verify(password.expose(), dummy);
            }
            false
        }
    })
    .await
    .map_err(|e| PageError::Internal(format!("password check failed: {e}")))
}

/// Records a login or a failed one (never the password, nor an unknown
/// user name, which may be a password typed in the wrong field).
async fn audit(state: &AppState, kind: EventKind, user: Option<&User>, ip: &str) {
    let event = audit::Event {
        user_id: user.map(|u| u.id.as_str()),
        ip: Some(ip),
        ..audit::Event::of(kind)
    };
    state.record_audit(event).await;
}
