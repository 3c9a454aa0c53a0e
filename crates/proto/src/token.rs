//! The token request parameters and the token response (RFC 6749 §4, §5.1).

use serde::{Deserialize, Serialize};

use crate::Secret;

/// `token_type` of a bearer token (RFC 6750).
pub const BEARER: &str = "Bearer";

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
///
/// Sent with `Cache-Control: no-store`. Fields beyond the RFC's are kept in
/// [`TokenResponse::extra`] so a client can store what the provider sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// The token type, `Bearer` (compared case-insensitively).
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// A refresh token, when one was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// The granted scope, when it differs from the requested one (or always, from our server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// An OpenID Connect ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
    /// Anything else the server sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The token revocation request (RFC 7009 §2.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevocationRequest {
    /// The token to revoke.
    pub token: Secret,
    /// `access_token` or `refresh_token`; a hint only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}
