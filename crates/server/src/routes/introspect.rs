//! `POST /oauth/introspect` (RFC 7662). Only confidential clients may ask
//! (a public client cannot prove who it is). A client may introspect the
//! tokens issued to it; only a client given the right (`devauth admin client
//! add|update --introspect`, a resource server) may introspect other
//! clients' tokens. Anything not active, or not the caller's to see, answers
//! exactly `{"active": false}` (RFC 7662 §2.2), so the answer does not tell
//! a foreign token from a dead one.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use devauth_proto::introspection::IntrospectionResponse;

use super::client_auth::authenticate;
use super::error::{OAuthError, no_store_json};
use super::form::OAuthForm;
use crate::model::{RefreshTokenState, TokenHash};
use crate::state::AppState;

/// The path.
pub const PATH: &str = "/oauth/introspect";

/// The handler.
#[tracing::instrument(name = "introspect", skip_all)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let client = authenticate(&state, &headers, &form).await?;
    if client.client().is_public() {
        return Err(OAuthError::invalid_client());
    }
    let token = form.require("token")?;
    let caller = client.client();
    let may_see = |owner: &str| caller.may_introspect || owner == caller.id;
    let issuer = state.config.issuer.clone();
    let now = state.clock.now();

    if let Some(rt) = state
        .stores
        .durable
        .refresh_token(&TokenHash::of(token))
        .await?
    {
        let family = state.stores.durable.family(&rt.family_id).await?;
        let user = state.stores.durable.user_by_id(&rt.user_id).await?;
        let active = may_see(&rt.client_id)
            && rt.state == RefreshTokenState::Active
            && now < rt.expires_at
            && family.is_some_and(|f| f.revoked_at.is_none());
        return Ok(match user.filter(|u| active && !u.disabled) {
            Some(user) => no_store_json(&IntrospectionResponse {
                active: true,
                scope: Some(rt.scope.to_string()),
                client_id: Some(rt.client_id),
                username: Some(user.username),
                token_type: Some("refresh_token".into()),
                exp: Some(rt.expires_at.secs()),
                iat: Some(rt.created_at.secs()),
                sub: Some(rt.user_id),
                aud: None,
                iss: Some(issuer),
                jti: None,
            }),
            None => no_store_json(&IntrospectionResponse::inactive()),
        });
    }
    Ok(match super::access::check(&state, token).await? {
        Some(active) if may_see(&active.claims.client_id) => {
            let c = active.claims;
            no_store_json(&IntrospectionResponse {
                active: true,
                scope: Some(c.scope),
                client_id: Some(c.client_id),
                username: active.user.map(|u| u.username),
                token_type: Some("Bearer".into()),
                exp: Some(c.exp),
                iat: Some(c.iat),
                sub: Some(c.sub),
                aud: Some(c.aud),
                iss: Some(c.iss),
                jti: Some(c.jti),
            })
        }
        _ => no_store_json(&IntrospectionResponse::inactive()),
    })
}
