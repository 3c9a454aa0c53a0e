//! Browser sessions of the verification pages.
//!
//! The cookie holds 256 random bits ([`random::secret`]); the store only ever sees
//! their SHA-256 ([`TokenHash`]). The cookie is `HttpOnly`, `SameSite=Lax`,
//! `Path=/`, `Secure` (and named with the `__Host-` prefix) when the issuer is
//! https, and lives [`SESSION_TTL_SECS`]: sessions are short and never
//! extended. Logging in always starts a new session (new id, new CSRF token)
//! and deletes the old one, so a session id planted before login is useless.
//!
//! Every session carries a CSRF token that each form echoes in a hidden
//! `csrf` field; [`check_form`] compares it in constant time and also checks
//! the `Origin` header when the browser sends one.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::model::{BrowserSession, TokenHash, User};
use crate::random;
use crate::state::AppState;

use super::error::PageError;
use super::throttle;

/// How long a session lives, seconds (absolute, not sliding).
pub const SESSION_TTL_SECS: i64 = 30 * 60;

const PLAIN_NAME: &str = "devauth_session";
const SECURE_NAME: &str = "__Host-devauth_session";

/// A session as loaded for one request.
#[derive(Debug, Clone)]
pub struct Session {
    /// The stored record.
    pub record: BrowserSession,
    /// `Set-Cookie` to send when the session was just created.
    pub set_cookie: Option<HeaderValue>,
}

impl Session {
    /// The logged-in user, if the session is authenticated and the user is
    /// still enabled.
    pub async fn user(&self, state: &AppState) -> Result<Option<User>, PageError> {
        let Some(user_id) = &self.record.user_id else {
            return Ok(None);
        };
        let user = state.stores.durable.user_by_id(user_id).await?;
        Ok(user.filter(|u| !u.disabled))
    }

    /// Adds the session's `Set-Cookie` (when it was just created) to `response`.
    pub fn attach(&self, mut response: Response) -> Response {
        if let Some(cookie) = &self.set_cookie {
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie.clone());
        }
        response
    }

    /// A stable key naming this session in rate-limit counters.
    pub fn throttle_key(&self) -> &str {
        self.record.id_hash.as_str()
    }
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        SECURE_NAME
    } else {
        PLAIN_NAME
    }
}

fn set_cookie(state: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, PageError> {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(state)
    ))
    .map_err(|_| PageError::Internal("cookie value is not a header value".into()))
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clear_cookie(state: &AppState) -> Result<HeaderValue, PageError> {
    set_cookie(state, "", 0)
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session named by the request's cookie, if it exists and is live.
pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, PageError> {
    let Some(raw) = cookie_value(headers, cookie_name(state)) else {
        return Ok(None);
    };
    if raw.is_empty() || raw.len() > 128 {
        return Ok(None);
    }
    let record = state.stores.flow.session(&TokenHash::of(raw)).await?;
    let now = state.clock.now();
    Ok(record.filter(|r| now < r.expires_at).map(|record| Session {
        record,
        set_cookie: None,
    }))
}

/// The request's session, or a new anonymous one (with its cookie to set).
/// New sessions are counted per IP ([`throttle::Action::NewSession`]), so a
/// client that drops its cookies cannot fill the store with sessions.
pub async fn load_or_start(
    state: &AppState,
    headers: &HeaderMap,
    ip: &str,
) -> Result<Session, PageError> {
    match load(state, headers).await? {
        Some(session) => Ok(session),
        None => {
            throttle::check_ip(state, throttle::Action::NewSession, ip).await?;
            start(state, None).await
        }
    }
}

/// Starts a new session, authenticated as `user_id` when given.
pub async fn start(state: &AppState, user_id: Option<String>) -> Result<Session, PageError> {
    let raw = random::secret();
    let now = state.clock.now();
    let record = BrowserSession {
        id_hash: TokenHash::of(raw.expose()),
        csrf_token: random::secret().expose().to_owned(),
        authenticated_at: user_id.as_ref().map(|_| now),
        user_id,
        created_at: now,
        expires_at: now.plus_secs(SESSION_TTL_SECS),
        version: 0,
    };
    state.stores.flow.add_session(&record).await?;
    Ok(Session {
        record,
        set_cookie: Some(set_cookie(state, raw.expose(), SESSION_TTL_SECS)?),
    })
}

/// Logs in: replaces `old` (if any) by a fresh authenticated session.
pub async fn rotate_into_login(
    state: &AppState,
    old: Option<&Session>,
    user_id: String,
) -> Result<Session, PageError> {
    let fresh = start(state, Some(user_id)).await?;
    if let Some(old) = old {
        state
            .stores
            .flow
            .delete_session(&old.record.id_hash)
            .await?;
    }
    Ok(fresh)
}

/// Checks a form post: the fetch metadata and `Origin` headers (when sent)
/// name this server ([`origin_allowed`]), and the `csrf` field equals the
/// session's token (constant time).
pub fn check_form(
    state: &AppState,
    headers: &HeaderMap,
    session: &Session,
    csrf: &str,
) -> Result<(), PageError> {
    if !origin_allowed(state, headers) {
        return Err(PageError::Forbidden);
    }
    let expected = session.record.csrf_token.as_bytes();
    if bool::from(expected.ct_eq(csrf.as_bytes())) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// Whether the browser says the post comes from one of our own pages.
///
/// * `Sec-Fetch-Site`, when sent, must be `same-origin` (a person pressing
///   our button), never `same-site` or `cross-site`;
/// * `Origin`, when sent and not `null`, must be the issuer's origin or the
///   origin the browser used to reach us (its `Host`) — with the issuer's
///   scheme: behind an `https` issuer, a page served over plain `http`
///   (a downgraded or spoofed origin) may not post. Browsers send
///   `Origin: null` from pages with `Referrer-Policy: no-referrer` (ours), so
///   `null` proves nothing either way and the CSRF token decides.
pub fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() != b"same-origin")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        return true;
    }
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(issuer_origin(&state.config.issuer)) {
        return true;
    }
    let https_only = state.config.issuer.starts_with("https://");
    let authority = match origin.strip_prefix("https://") {
        Some(a) => Some(a),
        None if https_only => None,
        None => origin.strip_prefix("http://"),
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// `scheme://host[:port]` of the issuer URL (which may carry a path).
fn issuer_origin(issuer: &str) -> &str {
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    match issuer[after_scheme..].find('/') {
        Some(slash) => &issuer[..after_scheme + slash],
        None => issuer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_origin_drops_the_path() {
        assert_eq!(
            issuer_origin("https://id.example.com/tenant"),
            "https://id.example.com"
        );
        assert_eq!(
            issuer_origin("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn cookie_parsing_finds_the_named_pair() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; devauth_session=xyz"),
        );
        assert_eq!(cookie_value(&h, "devauth_session"), Some("xyz"));
        assert_eq!(cookie_value(&h, "__Host-devauth_session"), None);
    }
}
