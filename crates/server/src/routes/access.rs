//! Checking an access token the server issued: signature and `typ`
//! (`at+jwt`), issuer (any audience: this server or a resource it issued
//! the token for), expiry on the injected clock, and
//! revocation — its own `jti`, its family (`sid`), and its user.
//! Used by `/oauth/userinfo` and `/oauth/introspect`.

use crate::keys::{AccessClaims, VerifyError};
use crate::model::User;
use crate::state::AppState;
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
    // Any audience: this server signed the token, and `aud` is either the
    // issuer or the resource it was asked for (RFC 8707); both userinfo and
    // introspection answer for either.
    let verify = || {
        state
            .keys
            .get()
            .verify::<AccessClaims>(token, issuer, None, Some("at+jwt"), now)
    };
    let verified = match verify() {
        // A key added since the last reload (another replica's, or a
        // rotation): reload once, rate-limited, and look again.
        Err(VerifyError::UnknownKey) => {
            let durable = state.stores.durable.as_ref();
            let ttl = state.config.max_token_ttl_secs();
            match state.keys.reload_for_unknown_kid(durable, now, ttl).await {
                Ok(true) => verify(),
                Ok(false) => Err(VerifyError::UnknownKey),
                Err(e) => {
                    tracing::warn!(error = %e, "reloading signing keys failed");
                    Err(VerifyError::UnknownKey)
                }
            }
        }
        other => other,
    };
    let Ok(claims) = verified else {
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
