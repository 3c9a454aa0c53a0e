//! The refresh token grant (RFC 6749 §6).
//!
//! `invalid_grant` (GitHub: `bad_refresh_token`) means the refresh token is dead (expired, revoked, reused):
//! that is [`Error::RefreshRejected`], which callers turn into "needs login"
//! and never retry. Network trouble stays [`Error::Unreachable`], so the agent
//! can tell the two apart.

use devauth_proto::token::TokenResponse;
use devauth_proto::{ErrorCode, Secret};

use crate::Error;
use crate::http::{ClientAuth, Http, OAuthReply};

/// `invalid_grant` (RFC 6749), or GitHub's own `bad_refresh_token`, which
/// it sends with HTTP 200 for an expired or revoked refresh token.
fn is_dead_refresh_token(code: &ErrorCode) -> bool {
    match code {
        ErrorCode::InvalidGrant => true,
        ErrorCode::Unknown(c) => c == "bad_refresh_token",
        _ => false,
    }
}

/// Exchanges a refresh token for new tokens, naming the `resource` they
/// are for when the login was for one (RFC 8707 §2.2), so that an
/// authorization server with resource indicators issues a token for that
/// audience again rather than a default one.
pub fn refresh(
    http: &Http,
    token_endpoint: &str,
    auth: ClientAuth<'_>,
    refresh_token: &Secret,
    resource: Option<&str>,
) -> Result<TokenResponse, Error> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    let reply = http.post_oauth::<TokenResponse>(token_endpoint, auth, &form)?;
    match reply {
        OAuthReply::Ok(t) => Ok(t),
        OAuthReply::Err(e) if is_dead_refresh_token(&e.error) => Err(Error::RefreshRejected),
        OAuthReply::Err(e) => Err(Error::oauth(e)),
    }
}
