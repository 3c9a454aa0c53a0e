//! Checking an access token the server issued: signature and `typ`
//! (`at+jwt`), issuer (any audience: this server or a resource it issued
//! the token for), expiry on the injected clock, and
//! revocation — its own `jti`, its family (`sid`), and its user.
//! Used by `/oauth/userinfo` and `/oauth/introspect`.

use crate::app::AppState;
use crate::keys::AccessClaims;
use crate::model::User;
use crate::store::StoreResult;

/// An access token that is active now.
#[derive(Debug, Clone)]
pub struct ActiveAccessToken {
    /// Its claims.
    pub claims: AccessClaims,
    /// The user, for user tokens (`None` for client credentials).
    pub user: Option<User>,
}

/// `Ok(None)` for anything that is not an active access token.
pub async fn check(state: &AppState, token: &str) -> StoreResult<Option<ActiveAccessToken>> {
    let now = state.clock.now();
    let issuer = &state.config.issuer;
    let Ok(claims) = state
        .keys
        .get()
        // Any audience: this server signed the token, and `aud` is either
        // the issuer or the resource it was asked for (RFC 8707); both
        // userinfo and introspection answer for either.
        .verify::<AccessClaims>(token, issuer, None, Some("at+jwt"), now)
    else {
        return Ok(None);
    };
    if state
        .stores
        .durable
        .is_access_token_revoked(&claims.jti)
        .await?
    {
        return Ok(None);
    }
    let mut user = None;
    if let Some(sid) = &claims.sid {
        let family = state.stores.durable.family(sid).await?;
        if family.is_none_or(|f| f.revoked_at.is_some()) {
            return Ok(None);
        }
        match state.stores.durable.user_by_id(&claims.sub).await? {
            Some(u) if !u.disabled => user = Some(u),
            _ => return Ok(None),
        }
    }
    Ok(Some(ActiveAccessToken { claims, user }))
}
