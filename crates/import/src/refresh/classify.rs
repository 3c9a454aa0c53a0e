//! Permanent or temporary: the one question about a failed refresh.
//!
//! Permanent — retrying cannot help, the person must log in again:
//! `invalid_grant`, `expired_token`, `invalid_client`, `unauthorized_client`,
//! `access_denied`, a rejected Kiro refresh token, an expired client
//! registration, and other 4xx answers. Temporary — retry with backoff: no
//! connection, DNS, timeouts, 408, 429, 5xx, `slow_down`,
//! `temporarily_unavailable`, `server_error`, and a 2xx body we cannot read.

use std::time::Duration;

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// Retrying cannot help: the refresh token or registration is dead.
    Permanent,
    /// Retry later.
    Temporary,
}

impl FailureClass {
    /// `permanent` or `temporary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Temporary => "temporary",
        }
    }
}

/// A failed refresh. The reason never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct RefreshError {
    /// Permanent or temporary.
    pub class: FailureClass,
    /// What happened (an error code, a status, a transport failure).
    pub reason: String,
    /// A `Retry-After` the server asked for.
    pub retry_after: Option<Duration>,
}

impl RefreshError {
    /// A permanent failure.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            class: FailureClass::Permanent,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A temporary failure.
    pub fn temporary(reason: impl Into<String>) -> Self {
        Self {
            class: FailureClass::Temporary,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A transport failure (never reached the server, or no answer).
    pub fn transport(err: &ureq::Error) -> Self {
        let what = match err {
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::HostNotFound => "host not found (DNS)".to_owned(),
            ureq::Error::ConnectionFailed => "connection failed".to_owned(),
            ureq::Error::Io(e) => format!("network error: {}", e.kind()),
            other => format!("transport error: {other}"),
        };
        Self::temporary(what)
    }

    /// Classifies an HTTP error answer from its status and (OAuth / AWS)
    /// error code.
    pub fn from_answer(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Self {
        let class = classify(status, code);
        let reason = match code {
            Some(code) => format!("the server answered {status} {}", sanitize(code)),
            None => format!("the server answered {status}"),
        };
        Self {
            class,
            reason,
            retry_after,
        }
    }
}

/// The class of an error answer.
pub fn classify(status: u16, code: Option<&str>) -> FailureClass {
    let code = code.map(normalize_code);
    match code.as_deref() {
        Some(
            "invalid_grant"
            | "expired_token"
            | "invalid_client"
            | "unauthorized_client"
            | "access_denied"
            | "invalid_request"
            | "invalid_scope"
            | "unsupported_grant_type",
        ) if status < 500 => FailureClass::Permanent,
        Some("slow_down" | "temporarily_unavailable" | "server_error") => FailureClass::Temporary,
        _ if status == 408 || status == 429 || status >= 500 => FailureClass::Temporary,
        _ if status >= 400 => FailureClass::Permanent,
        _ => FailureClass::Temporary,
    }
}

/// `InvalidGrantException` → `invalid_grant`; `invalid_grant` unchanged.
pub fn normalize_code(code: &str) -> String {
    // `x-amzn-ErrorType: InvalidGrantException:http://…`, `__type: ns#Name`
    let code = code.split(':').next().unwrap_or(code);
    let code = code.rsplit('#').next().unwrap_or(code);
    if code.contains('_') || code.chars().all(|c| !c.is_ascii_uppercase()) {
        return code.to_owned();
    }
    let code = code.strip_suffix("Exception").unwrap_or(code);
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An error code is echoed into messages; keep it short and printable.
fn sanitize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.#:".contains(*c))
        .take(64)
        .collect()
}

/// `Retry-After` in seconds.
pub(crate) fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        use FailureClass::*;
        for (status, code, want) in [
            (400, Some("invalid_grant"), Permanent),
            (400, Some("InvalidGrantException"), Permanent),
            (400, Some("expired_token"), Permanent),
            (401, Some("invalid_client"), Permanent),
            (401, Some("InvalidClientException"), Permanent),
            (400, Some("slow_down"), Temporary),
            (400, Some("SlowDownException"), Temporary),
            (500, Some("server_error"), Temporary),
            (503, None, Temporary),
            (429, None, Temporary),
            (429, Some("throttled"), Temporary),
            (408, None, Temporary),
            (401, None, Permanent),
            (403, Some("whatever"), Permanent),
        ] {
            assert_eq!(classify(status, code), want, "{status} {code:?}");
        }
    }

    #[test]
    fn aws_codes_normalise() {
        assert_eq!(normalize_code("InvalidGrantException"), "invalid_grant");
        assert_eq!(normalize_code("invalid_grant"), "invalid_grant");
        assert_eq!(
            normalize_code("com.amazon#ExpiredTokenException"),
            "expired_token"
        );
        assert_eq!(
            normalize_code("InvalidGrantException:http://internal.amazon.com/coral/x/"),
            "invalid_grant"
        );
    }
}
