//! `POST /logout` (`csrf`, `next`): ends the session ("Not you? Sign out")
//! and returns to the login form, which then goes back to `next`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;

use crate::state::AppState;

use super::error::PageError;
use super::form;
use super::login_show::{self, safe_next};
use super::redirect;
use super::session;

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// Deletes the session and clears its cookie.
#[tracing::instrument(name = "pages.logout", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    form::Body(body): form::Body,
) -> Result<Response, PageError> {
    let fields: Fields = form::parse(&body)?;
    let next = safe_next(fields.next.as_deref());
    if let Some(session) = session::load(&state, &headers).await? {
        session::check_form(&state, &headers, &session, &fields.csrf)?;
        state
            .stores
            .flow
            .delete_session(&session.record.id_hash)
            .await?;
    }
    let mut response = redirect::see_other(&login_show::location(&next))?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::clear_cookie(&state)?);
    Ok(response)
}
