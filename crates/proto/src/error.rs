//! OAuth error codes and the error response body (RFC 6749 §5.2).
//!
//! [`ErrorCode`] covers the codes of RFC 6749 §4.1.2.1 and §5.2, RFC 8628 §3.5,
//! RFC 7009 §2.2.1 and RFC 6750 §3.1. Codes we do not know parse into
//! [`ErrorCode::Unknown`], so a provider's new code never breaks a client.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth 2.0 error code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 §5.2: the request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (unknown client, bad secret, wrong method).
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, device code, refresh token) is invalid, expired or revoked.
    InvalidGrant,
    /// RFC 6749 §5.2: the client is not allowed to use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2: the server does not support this grant type.
    UnsupportedGrantType,
    /// RFC 6749 §5.2: the requested scope is invalid, unknown or exceeds what was granted.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the resource owner or server denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: the server does not support this response type.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1: an unexpected condition on the server.
    ServerError,
    /// RFC 6749 §4.1.2.1: the server is temporarily unable to handle the request.
    TemporarilyUnavailable,
    /// RFC 8628 §3.5: the user has not yet completed the authorization; keep polling.
    AuthorizationPending,
    /// RFC 8628 §3.5: keep polling, but add 5 seconds to the interval, for this and all later polls.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired; start a new device authorization.
    ExpiredToken,
    /// RFC 7009 §2.2.1: the server does not support revoking this token type.
    UnsupportedTokenType,
    /// RFC 6750 §3.1: the access token is expired, revoked, malformed or invalid.
    InvalidToken,
    /// RFC 6750 §3.1: the token lacks the scope the resource requires.
    InsufficientScope,
    /// RFC 8707 §2: the requested resource is unknown, malformed or not allowed.
    InvalidTarget,
    /// RFC 7591 §3.2.2: a redirect URI of a registration is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: a metadata field of a registration is not acceptable.
    InvalidClientMetadata,
    /// A code this crate does not know, kept verbatim.
    Unknown(String),
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::Unknown(s) => s,
        }
    }

    /// Parses a wire code; unknown codes become [`ErrorCode::Unknown`].
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            "invalid_target" => Self::InvalidTarget,
            "invalid_redirect_uri" => Self::InvalidRedirectUri,
            "invalid_client_metadata" => Self::InvalidClientMetadata,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::parse(&s))
    }
}

/// The JSON error body of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// A human-readable explanation. Never contains a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// A page with more information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
    /// With `slow_down`, the interval the server now wants (GitHub sends
    /// it; RFC 8628 only says to add 5 seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
}

impl ErrorResponse {
    /// An error with a description.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
            error_uri: None,
            interval: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "access_denied",
            "unsupported_response_type",
            "server_error",
            "temporarily_unavailable",
            "authorization_pending",
            "slow_down",
            "expired_token",
            "unsupported_token_type",
            "invalid_token",
            "insufficient_scope",
            "invalid_target",
            "invalid_redirect_uri",
            "invalid_client_metadata",
        ] {
            let parsed = ErrorCode::parse(code);
            assert!(!matches!(parsed, ErrorCode::Unknown(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        let body: ErrorResponse =
            serde_json::from_str(r#"{"error":"mfa_required","error_description":"x"}"#).unwrap();
        assert_eq!(body.error, ErrorCode::Unknown("mfa_required".into()));
        assert_eq!(
            serde_json::to_value(&body).unwrap()["error"],
            "mfa_required"
        );
    }
}
