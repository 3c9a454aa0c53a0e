//! `GET /oauth/authorize`: the start of the loopback + PKCE flow (RFC 8252).
//! Checks the request (see [`super::authorize_request`]),
//! sends a person who is not logged in through `/login` and back, then shows
//! the consent page.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::state::AppState;

use super::authorize_request::{self, Valid};
use super::error::PageError;
use super::form;
use super::headers;
use super::login_show;
use super::redirect;
use super::session::{self, Session};
use super::view::{self, ConsentPage, ScopeLine};
use crate::client_addr::RequesterInfo;
use crate::model::Requester;

/// Checks the request and asks for consent.
#[tracing::instrument(name = "pages.authorize.show", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    let pairs = form::pairs(query.as_bytes())?;
    let request = match authorize_request::check(&state, &pairs).await? {
        Ok(valid) => valid,
        Err(refusal) => return refusal.respond(&state),
    };
    let here = format!("/oauth/authorize?{query}");
    let session = session::load_or_start(&state, &headers, &ip).await?;
    let Some(user) = session.user(&state).await? else {
        return Ok(session.attach(redirect::see_other(&login_show::location(&here))?));
    };
    Ok(session.attach(consent(&session, &user.username, request, here)?))
}

/// The consent page, whose CSP lets its form lead to the client's redirect URI.
fn consent(
    session: &Session,
    username: &str,
    request: Valid,
    here: String,
) -> Result<Response, PageError> {
    let redirect_origin = authorize_request::origin_of(&request.redirect_uri);
    let page = ConsentPage {
        csrf: session.record.csrf_token.clone(),
        client_name: request.client.name.clone(),
        client_id: request.client.id.clone(),
        redirect_origin: redirect_origin.clone(),
        scopes: ScopeLine::all(&request.scope),
        hidden: request.hidden,
        username: username.to_owned(),
        here,
    };
    let mut response = view::render(StatusCode::OK, &page);
    let csp = HeaderValue::from_str(&headers::csp_with_form_action(&redirect_origin))
        .map_err(|_| PageError::InvalidAuthorization("The redirect address is not valid."))?;
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, csp);
    Ok(response)
}
