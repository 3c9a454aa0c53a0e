//! `GET /login?next=…`: the login form. `next` is where to go afterwards and
//! must be one of our own pages (see [`safe_next`]); anything else falls back
//! to `/device`, so the form is no open redirect.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;

use super::error::PageError;
use super::form;
use super::session;
use super::view::{self, LoginPage};
use crate::client_addr::ClientIp;

#[derive(Deserialize)]
struct Query {
    next: Option<String>,
}

/// `/login?next=<next>`.
pub fn location(next: &str) -> String {
    let mut out = String::from("/login?");
    out.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish(),
    );
    out
}

/// `next` when it is a path on this server under `/device` or
/// `/oauth/authorize`, else `/device`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/device".into();
    };
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 4096;
    let ours = ["/device", "/oauth/authorize"].iter().any(|p| {
        next.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    });
    if local && ours {
        next.to_owned()
    } else {
        "/device".into()
    }
}

/// Shows the login form (or moves on when already logged in).
#[tracing::instrument(name = "pages.login.show", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query: Query = form::parse_query(query.as_deref())?;
    let next = safe_next(query.next.as_deref());
    let session = session::load_or_start(&state, &headers, &ip).await?;
    if session.user(&state).await?.is_some() {
        return view::see_other(&next);
    }
    let page = LoginPage {
        csrf: session.record.csrf_token.clone(),
        next,
        username: String::new(),
        error: None,
    };
    Ok(session.attach(view::render(StatusCode::OK, &page)))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_our_pages() {
        for good in [
            "/device",
            "/device/confirm?user_code=BCDF-GHJK",
            "/oauth/authorize?client_id=x&state=y",
        ] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "https://evil.example/device",
            "//evil.example/device",
            "/\\evil.example",
            "/devices-elsewhere",
            "/admin",
            "/device\r\nSet-Cookie: x=y",
        ] {
            assert_eq!(safe_next(Some(bad)), "/device", "{bad}");
        }
        assert_eq!(safe_next(None), "/device");
    }
}
