//! `POST /oauth/revoke` (RFC 7009).
//!
//! The client authenticates (public clients send `client_id`). A refresh
//! token revokes its whole family, which also ends the access tokens carrying
//! the family's `sid`; an access token is revoked by `jti` until it expires.
//! Unknown, foreign, expired or already revoked tokens still get 200 (§2.2).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::form::OAuthForm;
use crate::audit::{Event, EventKind};
use crate::client_addr::RequesterInfo;
use crate::keys::AccessClaims;
use crate::metrics::Outcome;
use crate::model::{Timestamp, TokenHash};
use crate::state::AppState;

/// The path.
pub const PATH: &str = "/oauth/revoke";

/// The handler.
#[tracing::instrument(name = "revoke", skip_all)]
pub async fn handle(
    State(state): State<AppState>,
    RequesterInfo(requester): RequesterInfo,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let client = authenticate(&state, &headers, &form).await?;
    let token = form.require("token")?;
    let now = state.clock.now();
    let hint = form.get("token_type_hint");
    let mut revoked = None;
    if hint != Some("access_token")
        && let Some(rt) = state
            .stores
            .durable
            .refresh_token(&TokenHash::of(token))
            .await?
        && rt.client_id == client.id()
    {
        state
            .stores
            .durable
            .revoke_family(&rt.family_id, now)
            .await?;
        revoked = Some((
            "refresh_token",
            rt.family_id.clone(),
            Some(rt.user_id.clone()),
        ));
    }
    if revoked.is_none() {
        let issuer = &state.config.issuer;
        // Expiry does not matter here: an expired token needs no revocation,
        // and the revocation list entry lapses at `exp` anyway.
        if let Ok(claims) = state.keys.get().verify::<AccessClaims>(
            token,
            issuer,
            // Any audience: the issuer or a resource (RFC 8707).
            None,
            Some("at+jwt"),
            Timestamp::from_secs(0),
        ) && claims.client_id == client.id()
        {
            state
                .stores
                .durable
                .revoke_access_token(&claims.jti, Timestamp::from_secs(claims.exp))
                .await?;
            let user = claims.sid.as_ref().map(|_| claims.sub.clone());
            revoked = Some(("access_token", claims.jti, user));
        }
    }
    if let Some((kind, id, user)) = revoked {
        state
            .record_audit(Event {
                kind: EventKind::TokenRevoked,
                client_id: Some(client.id()),
                user_id: user.as_deref(),
                ip: Some(&requester.ip),
                details: serde_json::json!({ "token_type": kind, "id": id }),
            })
            .await;
    }
    let mut res = StatusCode::OK.into_response();
    res.extensions_mut().insert(Outcome("ok".into()));
    Ok(res)
}
