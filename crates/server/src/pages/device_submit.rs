//! `POST /device` (`user_code`, `csrf`): checks a typed code.
//!
//! Rate limited per session and per IP, and wrong codes spend the shared
//! wrong-code budget ([`super::throttle`]). A code that cannot be confirmed shows
//! the form again with one message for every reason. A good code shows the
//! confirm page, or the login form first (which then returns to
//! `/device/confirm?user_code=…`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::state::AppState;

use super::error::PageError;
use super::session;
use super::throttle::{self, Action, CodeEntrant};
use super::view::{self, DevicePage, LoginPage};
use super::{confirm_show, device_code, form};
use crate::client_addr::RequesterInfo;
use crate::model::Requester;

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    csrf: String,
}

/// Checks the code and moves on to login or confirmation.
#[tracing::instrument(name = "pages.device.submit", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    form::Body(body): form::Body,
) -> Result<Response, PageError> {
    let fields: Fields = form::parse(&body)?;
    let session = session::load(&state, &headers)
        .await?
        .ok_or(PageError::SessionExpired)?;
    session::check_form(&state, &headers, &session, &fields.csrf)?;
    throttle::check(&state, Action::CodeEntry, session.throttle_key(), &ip).await?;
    let user = session.user(&state).await?;
    let who = CodeEntrant {
        session: session.throttle_key(),
        account: user.as_ref().map(|u| u.id.as_str()),
        ip: &ip,
    };
    let Some(grant) = device_code::find(&state, who, &fields.user_code).await? else {
        let page = DevicePage {
            csrf: session.record.csrf_token.clone(),
            user_code: device_code::refill(&fields.user_code),
            error: Some(
                device_code::why_not(&state, &fields.user_code)
                    .await?
                    .into(),
            ),
        };
        return Ok(view::render(StatusCode::BAD_REQUEST, &page));
    };
    match user {
        Some(user) => confirm_show::render(&state, &session, &user, &grant, &ip).await,
        None => {
            let page = LoginPage {
                csrf: session.record.csrf_token.clone(),
                next: confirm_show::path(&grant.user_code),
                username: String::new(),
                error: None,
                purpose: Some(super::login_show::for_grant(&state, &grant).await?),
            };
            Ok(view::render(StatusCode::OK, &page))
        }
    }
}
