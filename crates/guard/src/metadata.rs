//! The protected-resource metadata document (RFC 9728 §2): which resource
//! this is, which authorization server issues its tokens, how tokens are
//! sent, which scopes exist.

use serde::Serialize;

use crate::config::Config;

/// The well-known path (RFC 9728 §3).
pub use devauth_proto::resource_metadata::WELL_KNOWN;

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// The resource identifier.
    pub resource: String,
    /// The authorization servers whose tokens are accepted.
    pub authorization_servers: Vec<String>,
    /// How a token is presented: only the `Authorization` header.
    pub bearer_methods_supported: Vec<&'static str>,
    /// Scopes a client should ask for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// A name for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
}

impl Document {
    /// The document for `config`.
    pub fn of(config: &Config) -> Self {
        Self {
            resource: config.audience.clone(),
            authorization_servers: vec![config.issuer.clone()],
            bearer_methods_supported: vec!["header"],
            scopes_supported: config.required_scopes.clone(),
            resource_name: config.resource_name.clone(),
        }
    }
}
