//! The client's one error type.
//!
//! Every message is one sentence that says what to do next, and none carries
//! a secret: server-supplied text (`error_description`) is stripped of control
//! characters before it is shown, and tokens never enter an error.
//!
//! [`Error::kind`] sorts errors into what a caller decides on: the binary maps
//! kinds to exit codes, the agent tells a dead refresh token
//! ([`ErrorKind::NeedsLogin`]) from a flaky network ([`ErrorKind::Unavailable`]).

use devauth_proto::{ErrorCode, ErrorResponse};

pub use crate::kind::ErrorKind;
use crate::safe_text::sanitize;
use crate::store::StoreError;

/// A client error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The network failed: connection refused or reset, DNS, timeout.
    #[error("cannot reach {url}: {detail}; check the address and your network, then try again")]
    Unreachable {
        /// The URL that failed.
        url: String,
        /// What the transport said.
        detail: String,
    },
    /// The TLS handshake failed (bad certificate, wrong host): never retried.
    #[error(
        "TLS failure talking to {url}: {detail}; check the server's certificate and the issuer URL"
    )]
    Tls {
        /// The URL that failed.
        url: String,
        /// What the TLS layer said.
        detail: String,
    },
    /// An https URL whose server answered in plain HTTP.
    #[error("{url}: the server answered plain HTTP, not TLS; did you mean {plain}?")]
    PlainHttp {
        /// The https URL asked.
        url: String,
        /// The same URL with http.
        plain: String,
    },
    /// The server answered, but not with a usable OAuth reply.
    #[error(
        "{url} answered HTTP {status} with {detail}; the server is failing or is not an OAuth server"
    )]
    BadResponse {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong with the body.
        detail: String,
    },
    /// The server refused the request with an OAuth error (RFC 6749 §5.2).
    #[error("the server refused the request: {}", describe(.error))]
    OAuth {
        /// The error body, description already sanitised.
        error: ErrorResponse,
    },
    /// A provider refused the request with an error its preset knows: what
    /// to change, and where (`crate::provider::advice`).
    #[error("{provider} refused the request ({code}): {advice}")]
    Provider {
        /// The provider's name.
        provider: &'static str,
        /// The provider's error code (`device_flow_disabled`, `AADSTS7000218`, …).
        code: String,
        /// What to change, and where.
        advice: String,
        /// The kind of the error it explains.
        kind: ErrorKind,
    },
    /// The person denied the request (`access_denied`).
    #[error("the request was denied; run `devauth login` again if that was a mistake")]
    Denied,
    /// The device code expired before approval (`expired_token` or `expires_in` passed).
    #[error(
        "the code expired before it was approved; run `devauth login` again and approve it sooner"
    )]
    Expired,
    /// Ctrl-C.
    #[error("interrupted")]
    Cancelled,
    /// No profile of that name.
    #[error(
        "not logged in (profile `{profile}`); run `devauth login --issuer URL{flag}` first",
        flag = profile_flag(.profile)
    )]
    NotLoggedIn {
        /// The profile name.
        profile: String,
    },
    /// The profile exists but needs a new login.
    #[error("profile `{profile}` needs a new login ({reason}); run `devauth login`")]
    NeedsLogin {
        /// The profile name.
        profile: String,
        /// Why, in a few words (never a secret).
        reason: String,
    },
    /// The token endpoint rejected a refresh token (`invalid_grant`).
    #[error("the server rejected the refresh token; run `devauth login`")]
    RefreshRejected,
    /// The issuer's discovery documents could not be found.
    #[error(
        "no discovery document at {issuer} ({detail}); check the issuer URL or pass the endpoints with --token-endpoint and --device-authorization-endpoint"
    )]
    NoDiscovery {
        /// The issuer asked for.
        issuer: String,
        /// What the last attempt said.
        detail: String,
    },
    /// The discovery document names another issuer (RFC 8414 §3.3).
    #[error(
        "the discovery document at {url} names issuer {found}, not {expected}; use the exact issuer URL the provider publishes"
    )]
    IssuerMismatch {
        /// The document's URL.
        url: String,
        /// The issuer asked for.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
    /// A URL that is neither https nor http on a loopback address.
    #[error(
        "{url} is not an https URL (plain http is only allowed on 127.0.0.1, ::1 and localhost)"
    )]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// A URL that does not parse.
    #[error("{url} is not a valid URL: {detail}")]
    BadUrl {
        /// The URL.
        url: String,
        /// The parse error.
        detail: String,
    },
    /// The provider lacks an endpoint this operation needs.
    #[error("the provider publishes no {what}; pass it with {flag}")]
    MissingEndpoint {
        /// Which endpoint, in words.
        what: &'static str,
        /// The flag that provides it.
        flag: &'static str,
    },
    /// Input the user gave is unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// The loopback redirect went wrong (state mismatch, no code, timeout).
    #[error("the browser login failed: {0}; try again, or use the device flow without --web")]
    Loopback(String),
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// The kind of failure, for exit codes and retry decisions.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreachable { .. } | Self::Tls { .. } | Self::BadResponse { .. } => {
                ErrorKind::Unavailable
            }
            Self::NoDiscovery { .. } => ErrorKind::Unavailable,
            Self::OAuth { error } => match error.error {
                ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => {
                    ErrorKind::Unavailable
                }
                ErrorCode::AccessDenied => ErrorKind::Denied,
                ErrorCode::ExpiredToken => ErrorKind::Expired,
                _ => ErrorKind::Other,
            },
            Self::Provider { kind, .. } => *kind,
            Self::Denied => ErrorKind::Denied,
            Self::Expired => ErrorKind::Expired,
            Self::Cancelled => ErrorKind::Interrupted,
            Self::NotLoggedIn { .. } | Self::NeedsLogin { .. } | Self::RefreshRejected => {
                ErrorKind::NeedsLogin
            }
            Self::IssuerMismatch { .. } | Self::Loopback(_) => ErrorKind::Other,
            Self::InsecureUrl { .. }
            | Self::PlainHttp { .. }
            | Self::BadUrl { .. }
            | Self::MissingEndpoint { .. }
            | Self::InvalidInput(_) => ErrorKind::Usage,
            Self::Store(e) => e.kind(),
        }
    }

    /// An OAuth error with its description made safe to print.
    pub fn oauth(mut error: ErrorResponse) -> Self {
        error.error_description = error.error_description.map(|d| sanitize(&d));
        error.error_uri = None;
        Self::OAuth { error }
    }

    /// Whether retrying the same request later may succeed (network trouble or
    /// a failing server), as opposed to a definite answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::BadResponse { status, .. } => *status >= 500 || *status == 429,
            Self::OAuth { error } => matches!(
                error.error,
                ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
            ),
            _ => false,
        }
    }
}

fn describe(error: &ErrorResponse) -> String {
    match &error.error_description {
        Some(d) if !d.is_empty() => format!("{} ({d})", error.error),
        _ => error.error.to_string(),
    }
}

/// ` --profile NAME` for a profile other than `default`: the flag a command
/// the message suggests needs to reach the same profile.
fn profile_flag(profile: &str) -> String {
    if profile == "default" {
        String::new()
    } else {
        format!(" --profile {profile}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_escapes() {
        let e = Error::oauth(ErrorResponse::new(
            ErrorCode::InvalidClient,
            "bad\u{1b}]52;c;evil\u{7} client",
        ));
        let text = e.to_string();
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("invalid_client"));
        assert_eq!(e.kind(), ErrorKind::Other);
    }

    #[test]
    fn kinds() {
        assert_eq!(Error::RefreshRejected.kind(), ErrorKind::NeedsLogin);
        assert_eq!(
            Error::oauth(ErrorResponse::new(ErrorCode::ServerError, "x")).kind(),
            ErrorKind::Unavailable
        );
        assert!(
            Error::Unreachable {
                url: "u".into(),
                detail: "d".into()
            }
            .is_transient()
        );
        assert!(
            !Error::Tls {
                url: "u".into(),
                detail: "d".into()
            }
            .is_transient()
        );
    }
}
