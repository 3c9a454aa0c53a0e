//! The error every OAuth endpoint answers with: RFC 6749 §5.2 JSON
//! (`{"error", "error_description"}`), `Cache-Control: no-store`, 400 by
//! default, 401 + `WWW-Authenticate` for failed client authentication, 503
//! `temporarily_unavailable` when a store cannot be reached.
//!
//! Descriptions are fixed sentences written here or in handlers; they never
//! contain a token, code or secret.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use devauth_proto::{ErrorCode, ErrorResponse};

use crate::metrics::Outcome;
use crate::store::StoreError;

/// An OAuth error response.
#[derive(Debug, Clone)]
pub struct OAuthError {
    status: StatusCode,
    body: ErrorResponse,
    www_authenticate: Option<&'static str>,
}

impl OAuthError {
    /// An error with a status.
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorResponse::new(code, description),
            www_authenticate: None,
        }
    }

    /// 400 with `code`.
    pub fn bad(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad(ErrorCode::InvalidRequest, description)
    }

    /// 400 `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::bad(ErrorCode::InvalidGrant, description)
    }

    /// 401 `invalid_client` with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub fn invalid_client() -> Self {
        Self {
            www_authenticate: Some("Basic realm=\"devauth\", charset=\"UTF-8\""),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidClient,
                "client authentication failed",
            )
        }
    }

    /// 401 `invalid_token` for a bearer token (RFC 6750 §3.1).
    pub fn invalid_token() -> Self {
        Self {
            www_authenticate: Some(
                "Bearer realm=\"devauth\", error=\"invalid_token\", error_description=\"the access token is invalid, expired or revoked\"",
            ),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        }
    }

    /// 500 `server_error` (the cause is logged by the caller, not sent).
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "the server failed to handle the request",
        )
    }

    /// The error code.
    pub fn code(&self) -> &ErrorCode {
        &self.body.error
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    "storage is temporarily unavailable, retry later",
                )
            }
            other => {
                tracing::error!(error = %other, "storage error");
                Self::server_error()
            }
        }
    }
}

impl From<crate::keys::KeyError> for OAuthError {
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "signing failed");
                Self::server_error()
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let outcome = Outcome(self.body.error.as_str().to_owned());
        let mut res = (self.status, axum::Json(self.body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(w) = self.www_authenticate {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(w));
        }
        res.extensions_mut().insert(outcome);
        res
    }
}

/// What a panic inside a handler turns into (the payload is not echoed: it
/// might hold anything).
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    OAuthError::server_error().into_response()
}

/// A JSON success body with `Cache-Control: no-store` and outcome `ok`.
pub fn no_store_json<T: serde::Serialize>(body: &T) -> Response {
    let mut res = axum::Json(body).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res.extensions_mut().insert(Outcome("ok".into()));
    res
}
