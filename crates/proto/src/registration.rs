//! Dynamic client registration (RFC 7591): the metadata a client sends to
//! the registration endpoint (§2, §3.1) and what the server answers (§3.2.1),
//! (its error codes are in [`crate::ErrorCode`]). Only the fields devauth reads or returns
//! are typed; anything else a client sends is kept in `extra` and ignored.

use serde::{Deserialize, Serialize};

use crate::Secret;

/// Client metadata (RFC 7591 §2), as sent in a registration request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// Redirect URIs for the authorization-code flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// `none` (a public client), `client_secret_basic` or `client_secret_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Grant types the client will use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// Response types the client will use (`code` only here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
    /// Human-readable name, shown to people as unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Home page of the client, shown to people as unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Space-separated scopes the client may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// OIDC Dynamic Registration: the algorithm of its ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// Everything else the client sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The registration response (RFC 7591 §3.2.1): the client's identity and
/// the metadata as registered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInformation {
    /// The new `client_id`.
    pub client_id: String,
    /// The secret of a confidential client, shown only in this answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// When the client was registered (seconds since the epoch).
    pub client_id_issued_at: i64,
    /// When the secret expires; 0 = never (present with a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// The metadata as registered (normalised, defaults filled in).
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}
