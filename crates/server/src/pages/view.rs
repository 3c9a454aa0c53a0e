//! The pages' view models (one askama template each, under
//! `crates/server/templates/`) and the one function that turns a view into an
//! HTML response.
//!
//! Templates auto-escape every value: client names, user agents and scopes
//! come from outside and are shown as text, never as markup.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Renders `page` as an HTML response with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong while drawing this page. Try again.",
            )
                .into_response()
        }
    }
}

/// One requested scope, as shown to a person.
#[derive(Debug, Clone)]
pub struct ScopeLine {
    /// The scope token.
    pub name: String,
    /// What it lets the application do, in words.
    pub meaning: String,
}

impl ScopeLine {
    /// Explains `name`.
    pub fn new(name: &str) -> Self {
        let meaning = match name {
            "openid" => "Confirm who you are",
            "profile" => "See your user name",
            "email" => "See your email address",
            "offline_access" => "Stay signed in: keep access until you sign out",
            _ => "Access named by this application",
        };
        Self {
            name: name.to_owned(),
            meaning: meaning.to_owned(),
        }
    }

    /// Every token of `scope`.
    pub fn all(scope: &devauth_proto::Scope) -> Vec<Self> {
        scope.iter().map(Self::new).collect()
    }
}

/// `GET /`: what this server is.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    /// The issuer URL.
    pub issuer: String,
}

/// A readable failure.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Heading.
    pub title: String,
    /// What happened and what to do.
    pub message: String,
    /// Where "Start again" leads.
    pub back: String,
}

/// `GET /device`: the code entry form.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    /// The session's CSRF token.
    pub csrf: String,
    /// Pre-filled code (from `?user_code=` or the last attempt).
    pub user_code: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// The login form.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// Where to go after login (a local path).
    pub next: String,
    /// Pre-filled user name after a failed attempt.
    pub username: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// What the person is signing in for, when known.
    pub purpose: Option<Purpose>,
}

/// What a sign-in is for: the application and, for a device, its code.
#[derive(Debug, Clone, Default)]
pub struct Purpose {
    /// The application's name.
    pub client_name: Option<String>,
    /// The name was given by the application itself (self-registered).
    pub unverified: bool,
    /// The code the device shows.
    pub user_code: Option<String>,
}

/// The device confirm page.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The user code as `XXXX-XXXX`.
    pub user_code: String,
    /// The client's display name.
    pub client_name: String,
    /// The client id.
    pub client_id: String,
    /// Requested scopes.
    pub scopes: Vec<ScopeLine>,
    /// IP address of the device that asked.
    pub ip: String,
    /// Its user agent.
    pub user_agent: String,
    /// "2 minutes ago".
    pub age: String,
    /// When it was asked, absolute ("2026-12-05 14:31 UTC").
    pub asked_at: String,
    /// "in 8 minutes".
    pub expires_in: String,
    /// Who is signed in.
    pub username: String,
    /// This page's local path (where "Sign out" leads back through login).
    pub here: String,
    /// Whether the client registered itself (its name is its own claim).
    pub unverified: bool,
    /// The home page a self-registered client declared.
    pub client_uri: Option<String>,
    /// Said when the device asked from another network than the approver's.
    pub network_warning: Option<String>,
}

/// Hidden fields that carry an `/oauth/authorize` request through the consent form.
#[derive(Debug, Clone)]
pub struct HiddenField {
    /// Field name.
    pub name: &'static str,
    /// Value.
    pub value: String,
}

/// The `/oauth/authorize` consent page.
#[derive(Template)]
#[template(path = "authorize.html")]
pub struct ConsentPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The client's display name.
    pub client_name: String,
    /// The client id.
    pub client_id: String,
    /// Where the browser will be sent (`http://127.0.0.1:53123`).
    pub redirect_origin: String,
    /// Requested scopes.
    pub scopes: Vec<ScopeLine>,
    /// The authorization request, echoed.
    pub hidden: Vec<HiddenField>,
    /// Who is signed in.
    pub username: String,
    /// This page's local path (where "Sign out" leads back through login).
    pub here: String,
}

/// The end of a flow.
#[derive(Template)]
#[template(path = "result.html")]
pub struct ResultPage {
    /// Heading.
    pub title: String,
    /// What happens next.
    pub message: String,
    /// Whether the outcome was an approval (green) or not.
    pub approved: bool,
}

/// "just now", "1 minute ago", "3 hours ago".
pub fn ago(elapsed_ms: i64) -> String {
    let secs = elapsed_ms.max(0) / 1000;
    match secs {
        0..=9 => "just now".into(),
        10..=59 => format!("{secs} seconds ago"),
        _ => format!("{} ago", span(secs)),
    }
}

/// An instant as "2026-12-05 14:31:07 UTC".
pub fn utc(at: crate::model::Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(at.secs())
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| at.secs().to_string())
}

/// "40 seconds", "8 minutes" (rounded up to the minute past one minute).
pub fn duration_words(secs: u64) -> String {
    if secs < 60 {
        format!("{} seconds", secs.max(1))
    } else {
        let minutes = secs.div_ceil(60);
        if minutes == 1 {
            "1 minute".into()
        } else {
            format!("{minutes} minutes")
        }
    }
}

/// "in 8 minutes", "in 40 seconds", "now".
pub fn from_now(remaining_ms: i64) -> String {
    let secs = remaining_ms.max(0) / 1000;
    match secs {
        0 => "now".into(),
        1..=59 => format!("in {secs} seconds"),
        _ => format!("in {}", span(secs)),
    }
}

fn span(secs: i64) -> String {
    let (n, unit) = if secs < 3600 {
        (secs / 60, "minute")
    } else if secs < 86_400 {
        (secs / 3600, "hour")
    } else {
        (secs / 86_400, "day")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(ago(3_000), "just now");
        assert_eq!(ago(42_000), "42 seconds ago");
        assert_eq!(ago(61_000), "1 minute ago");
        assert_eq!(ago(150_000), "2 minutes ago");
        assert_eq!(ago(7_300_000), "2 hours ago");
        assert_eq!(from_now(480_500), "in 8 minutes");
        assert_eq!(from_now(-5), "now");
        assert_eq!(from_now(30_000), "in 30 seconds");
    }

    /// Every page rendered from sample values: it renders, it escapes what
    /// comes from outside, and it carries the contract's field names.
    #[test]
    fn every_template_renders_from_samples() {
        let evil = "<script>alert(1)</script>";
        let scopes = ScopeLine::all(&devauth_proto::Scope::parse("openid offline_access").unwrap());
        let pages: Vec<(String, &[&str])> = vec![
            (
                ErrorPage {
                    title: "Oops".into(),
                    message: evil.into(),
                    back: "/device".into(),
                }
                .render()
                .unwrap(),
                &["<h1>Oops</h1>"],
            ),
            (
                DevicePage {
                    csrf: "tok".into(),
                    user_code: evil.into(),
                    error: Some("bad".into()),
                }
                .render()
                .unwrap(),
                &[
                    "name=\"user_code\"",
                    "name=\"csrf\" value=\"tok\"",
                    "role=\"alert\"",
                ],
            ),
            (
                LoginPage {
                    csrf: "tok".into(),
                    next: "/device".into(),
                    username: evil.into(),
                    error: None,
                    purpose: Some(Purpose {
                        client_name: Some(evil.into()),
                        unverified: true,
                        user_code: Some("BCDF-GHJK".into()),
                    }),
                }
                .render()
                .unwrap(),
                &[
                    "name=\"username\"",
                    "name=\"password\"",
                    "type=\"password\"",
                ],
            ),
            (
                ConfirmPage {
                    csrf: "tok".into(),
                    user_code: "BCDF-GHJK".into(),
                    client_name: evil.into(),
                    client_id: "cli".into(),
                    scopes: scopes.clone(),
                    ip: "192.0.2.1".into(),
                    user_agent: evil.into(),
                    age: "2 minutes ago".into(),
                    asked_at: "2026-12-05 14:31:07 UTC".into(),
                    expires_in: "in 8 minutes".into(),
                    username: "alice".into(),
                    here: "/device/confirm?user_code=BCDF-GHJK".into(),
                    unverified: true,
                    client_uri: Some(evil.into()),
                    network_warning: Some(evil.into()),
                }
                .render()
                .unwrap(),
                &[
                    "Only approve if you started this yourself",
                    "The device says it is",
                    "not checked by this server",
                    "2026-12-05 14:31:07 UTC",
                    "value=\"approve\"",
                    "value=\"deny\"",
                    "BCDF-GHJK",
                    "192.0.2.1",
                ],
            ),
            (
                ConsentPage {
                    csrf: "tok".into(),
                    client_name: evil.into(),
                    client_id: "cli".into(),
                    redirect_origin: "http://127.0.0.1:5000".into(),
                    scopes,
                    hidden: vec![HiddenField {
                        name: "state",
                        value: format!("\"{evil}"),
                    }],
                    username: "alice".into(),
                    here: "/oauth/authorize".into(),
                }
                .render()
                .unwrap(),
                &["value=\"approve\"", "value=\"deny\"", "name=\"state\""],
            ),
            (
                ResultPage {
                    title: "Done".into(),
                    message: evil.into(),
                    approved: true,
                }
                .render()
                .unwrap(),
                &["Done"],
            ),
        ];
        for (html, wanted) in pages {
            assert!(html.starts_with("<!doctype html>"), "{html}");
            assert!(html.contains("name=\"viewport\""), "{html}");
            assert!(!html.contains("<script"), "unescaped input: {html}");
            for w in wanted {
                assert!(html.contains(w), "missing {w}: {html}");
            }
        }
    }

    #[test]
    fn unknown_scopes_are_still_listed() {
        let lines = ScopeLine::all(&devauth_proto::Scope::parse("openid repo:write").unwrap());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].meaning, "Confirm who you are");
        assert_eq!(lines[1].name, "repo:write");
    }
}
