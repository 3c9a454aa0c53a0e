//! What can go wrong on a page, and the readable page each failure becomes.
//!
//! Every handler returns `Result<Response, PageError>`; nothing on these pages
//! answers with a bare 500 or panics. Messages are written for the person in
//! front of the browser and never contain a secret (codes, passwords, session
//! ids) or an internal error text: those go to the log, without secrets.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

use super::view::{self, ErrorPage};

/// A failure a page handler reports.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The request was malformed (bad form body, bad query, missing field).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A method the page does not answer (`PUT /device`, ...).
    #[error("method not allowed")]
    WrongMethod,
    /// The browser has no valid session cookie for a form that needs one.
    #[error("no session")]
    SessionExpired,
    /// The CSRF token or the `Origin` header did not match.
    #[error("cross-site request refused")]
    Forbidden,
    /// A rate limit was hit.
    #[error("too many attempts")]
    TooManyAttempts,
    /// Too many failed sign-ins for one account name: it waits a growing
    /// delay; retry after this many seconds.
    #[error("account throttled")]
    AccountThrottled {
        /// Seconds until the delay ends.
        retry_after_secs: u64,
    },
    /// The wrong-code budget is spent (RFC 8628 §5.1); retry after this many seconds.
    #[error("too many wrong codes")]
    TooManyWrongCodes {
        /// Seconds until the budget's window ends.
        retry_after_secs: u64,
    },
    /// An `/oauth/authorize` request that must not be redirected (unknown
    /// client, unregistered redirect URI).
    #[error("invalid authorization request: {0}")]
    InvalidAuthorization(&'static str),
    /// Storage cannot be reached.
    #[error("storage unavailable")]
    Unavailable,
    /// A bug or a broken dependency.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::SessionExpired | Self::InvalidAuthorization(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::WrongMethod => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyAttempts
            | Self::TooManyWrongCodes { .. }
            | Self::AccountThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn page(&self) -> ErrorPage {
        let (title, message): (&str, String) = match self {
            Self::BadRequest(what) => (
                "Something is wrong with this request",
                format!("{what} Go back and try again."),
            ),
            Self::WrongMethod => (
                "This page cannot do that",
                "The page was asked in a way it does not answer. Open it from the start.".into(),
            ),
            Self::SessionExpired => (
                "Your session has expired",
                "This page was open too long, or your browser did not keep our cookie. \
                 Start again from the code entry page."
                    .into(),
            ),
            Self::Forbidden => (
                "This request was refused",
                "The form did not come from this page, or it is too old. \
                 Start again from the code entry page."
                    .into(),
            ),
            Self::TooManyAttempts => (
                "Too many attempts",
                "You tried too many times in a short while. Wait a minute, then try again.".into(),
            ),
            Self::AccountThrottled { retry_after_secs } => (
                "Too many failed sign-ins",
                format!(
                    "There were too many failed sign-ins for this account name. For its \
                     safety, try again in {}.",
                    view::duration_words(*retry_after_secs)
                ),
            ),
            Self::TooManyWrongCodes { retry_after_secs } => (
                "Too many wrong codes",
                format!(
                    "Too many codes that do not match any request were entered from here. \
                     For your safety, code entry is paused for {}. Check the code on your \
                     device, then try again.",
                    view::duration_words(*retry_after_secs)
                ),
            ),
            Self::InvalidAuthorization(what) => (
                "This sign-in link is not valid",
                format!(
                    "{what} The application that sent you here may be misconfigured; \
                     return to it and try again."
                ),
            ),
            Self::Unavailable => (
                "Temporarily unavailable",
                "The server cannot reach its storage right now. Wait a moment, then try again."
                    .into(),
            ),
            Self::Internal(_) => (
                "Something went wrong",
                "The server hit an unexpected problem. Try again; if it keeps happening, \
                 tell the administrator."
                    .into(),
            ),
        };
        ErrorPage {
            title: title.into(),
            message,
            back: "/device".into(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(detail) => tracing::error!(error = %detail, "page failed"),
            Self::Unavailable => tracing::warn!("page failed: storage unavailable"),
            other => tracing::debug!(error = %other, "page refused the request"),
        }
        let mut res = view::render(self.status(), &self.page());
        if let Self::TooManyWrongCodes { retry_after_secs }
        | Self::AccountThrottled { retry_after_secs } = self
        {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        res
    }
}
