//! `POST /oauth/authorize`: the consent form. Re-checks the whole request,
//! the session and its CSRF token, then redirects to the client: with a
//! single-use authorization code (random 256 bits, stored only as a hash,
//! valid [`CODE_TTL_SECS`]) on approval, `error=access_denied` on denial.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use devauth_proto::ErrorCode;

use crate::audit::{self, EventKind};
use crate::model::{AuthorizationCode, Requester, TokenHash};
use crate::random;
use crate::state::AppState;

use super::authorize_request;
use super::error::PageError;
use super::form;
use super::session;
use crate::client_addr::RequesterInfo;

/// Lifetime of an authorization code, seconds.
pub const CODE_TTL_SECS: i64 = 60;

/// Applies the person's decision.
#[tracing::instrument(name = "pages.authorize.submit", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    form::Body(body): form::Body,
) -> Result<Response, PageError> {
    let pairs = form::pairs(&body)?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let approve = match field("action") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return Err(PageError::BadRequest("Choose Allow or Deny.")),
    };
    let csrf = field("csrf").unwrap_or_default().to_owned();
    let request = match authorize_request::check(&state, &pairs).await? {
        Ok(valid) => valid,
        Err(refusal) => return refusal.respond(&state),
    };
    let session = session::load(&state, &headers)
        .await?
        .ok_or(PageError::SessionExpired)?;
    let user = session
        .user(&state)
        .await?
        .ok_or(PageError::SessionExpired)?;
    session::check_form(&state, &headers, &session, &csrf)?;

    let now = state.clock.now();
    let event = |kind| audit::Event {
        kind,
        client_id: Some(&request.client.id),
        user_id: Some(&user.id),
        ip: Some(&ip),
        details: serde_json::json!({ "redirect_uri": request.redirect_uri }),
    };
    if !approve {
        state
            .record_audit(event(EventKind::AuthorizationDenied))
            .await;
        return authorize_request::redirect(
            &state,
            &request.redirect_uri,
            &[
                ("error", Some(ErrorCode::AccessDenied.as_str())),
                ("error_description", Some("the user denied the request")),
                ("state", request.state.as_deref()),
            ],
        );
    }
    let code = random::secret();
    let record = AuthorizationCode {
        code_hash: TokenHash::of(code.expose()),
        client_id: request.client.id.clone(),
        user_id: user.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        resource: request.resource.as_ref().map(|r| r.url.clone()),
        auth_time: session.record.authenticated_at.unwrap_or(now),
        created_at: now,
        expires_at: now.plus_secs(CODE_TTL_SECS),
    };
    state.stores.flow.add_authorization_code(&record).await?;
    state
        .record_audit(event(EventKind::AuthorizationCodeIssued))
        .await;
    authorize_request::redirect(
        &state,
        &request.redirect_uri,
        // The code leaves here for the browser's redirect, its only way out.
        &[
            ("code", Some(code.expose())),
            ("state", request.state.as_deref()),
        ],
    )
}
