//! `GET /login?next=…`: the login form. `next` is where to go afterwards and
//! must be one of our own pages (see [`safe_next`]); anything else falls back
//! to `/device`, so the form is no open redirect.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::state::AppState;

use super::error::PageError;
use super::form;
use super::redirect;
use super::session;
use super::throttle::CodeEntrant;
use super::view::{self, LoginPage, Purpose};
use crate::client_addr::RequesterInfo;
use crate::model::Requester;

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

/// Where the login form leads.
pub enum Leads {
    /// On, for this purpose (if known).
    To(Option<Purpose>),
    /// To a user code that names no pending request (typed in a direct link).
    DeadCode(String),
}

/// What signing in will be for, from where the form leads (`next`): the
/// application of an authorization request, or the device and application
/// of a user code. A code is looked up within the wrong-code budget, as on
/// every page that evaluates one.
pub async fn leads(state: &AppState, who: CodeEntrant<'_>, next: &str) -> Result<Leads, PageError> {
    if let Some(code) = device_code_of(next) {
        return Ok(match super::device_code::find(state, who, &code).await? {
            Some(grant) => Leads::To(Some(for_grant(state, &grant).await?)),
            None => Leads::DeadCode(code),
        });
    }
    purpose(state, next).await.map(Leads::To)
}

/// The user code a device page's `next` carries, if any.
fn device_code_of(next: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://local{next}")).ok()?;
    if !matches!(url.path(), "/device/confirm" | "/device") {
        return None;
    }
    url.query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .filter(|c| !c.is_empty())
}

/// The purpose of an authorization request `next` leads to (no user code
/// is looked up here).
pub async fn purpose(state: &AppState, next: &str) -> Result<Option<Purpose>, PageError> {
    let Ok(url) = url::Url::parse(&format!("http://local{next}")) else {
        return Ok(None);
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if url.path() != "/oauth/authorize" {
        return Ok(None);
    }
    let Some(id) = param("client_id") else {
        return Ok(None);
    };
    Ok(state.client(&id).await?.map(|c| Purpose {
        client_name: Some(c.name.clone()),
        unverified: c.origin.is_self_registered(),
        user_code: None,
    }))
}

/// The purpose of approving `grant`.
pub async fn for_grant(
    state: &AppState,
    grant: &crate::model::DeviceGrant,
) -> Result<Purpose, PageError> {
    let client = state.client(&grant.client_id).await?;
    Ok(Purpose {
        client_name: client.as_ref().map(|c| c.name.clone()),
        unverified: client.is_some_and(|c| c.origin.is_self_registered()),
        user_code: Some(super::device_code::display(&grant.user_code)),
    })
}

/// Shows the login form (or moves on when already logged in).
#[tracing::instrument(name = "pages.login.show", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query: Query = form::parse_query(query.as_deref())?;
    let next = safe_next(query.next.as_deref());
    let session = session::load_or_start(&state, &headers, &ip).await?;
    if session.user(&state).await?.is_some() {
        return redirect::see_other(&next);
    }
    let who = CodeEntrant {
        session: session.throttle_key(),
        account: None,
        ip: &ip,
    };
    let purpose = match leads(&state, who, &next).await? {
        Leads::To(purpose) => purpose,
        // A direct link with a dead code: say so now, not after signing in.
        Leads::DeadCode(code) => {
            let page = view::DevicePage {
                csrf: session.record.csrf_token.clone(),
                user_code: super::device_code::refill(&code),
                error: Some(super::device_code::why_not(&state, &code).await?.into()),
            };
            return Ok(session.attach(view::render(StatusCode::BAD_REQUEST, &page)));
        }
    };
    let page = LoginPage {
        csrf: session.record.csrf_token.clone(),
        next,
        username: String::new(),
        error: None,
        purpose,
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
