//! `GET /device`: the code entry form; `?user_code=XXXX-XXXX` pre-fills it
//! (RFC 8628 §3.3.1 `verification_uri_complete`) and checks it at once
//! (within the wrong-code budget of [`super::throttle`]), so a dead code says
//! so before Continue. The person still presses Continue, so a link alone
//! never reaches the confirm page.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use crate::state::AppState;

use super::device_code;
use super::error::PageError;
use super::form;
use super::session;
use super::throttle::CodeEntrant;
use super::view::{self, DevicePage};
use crate::client_addr::RequesterInfo;
use crate::model::Requester;

#[derive(Deserialize)]
struct Query {
    user_code: Option<String>,
}

/// Shows the code entry form, starting a session if needed.
#[tracing::instrument(name = "pages.device.show", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query: Query = form::parse_query(query.as_deref())?;
    let session = session::load_or_start(&state, &headers, &ip).await?;
    // A link carrying a code (the complete URI) is checked at once, within
    // the wrong-code budget: a dead code says so now, not after Continue.
    let mut error = None;
    if let Some(typed) = query.user_code.as_deref() {
        let user = session.user(&state).await?;
        let who = CodeEntrant {
            session: session.throttle_key(),
            account: user.as_ref().map(|u| u.id.as_str()),
            ip: &ip,
        };
        let found = match device_code::find(&state, who, typed).await {
            Ok(found) => found,
            Err(refused) => return Ok(session.attach(refused.into_response())),
        };
        if found.is_none() {
            error = Some(device_code::why_not(&state, typed).await?.to_owned());
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = DevicePage {
        csrf: session.record.csrf_token.clone(),
        user_code: query
            .user_code
            .as_deref()
            .map(device_code::refill)
            .unwrap_or_default(),
        error,
    };
    Ok(session.attach(view::render(status, &page)))
}
