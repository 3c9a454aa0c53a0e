//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//! `GET /.well-known/openid-configuration` (OIDC Discovery): one document,
//! advertising exactly what this server implements. `issuer` is the
//! configured issuer, so it matches the URL the document is fetched from
//! when the issuer is set right.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use devauth_proto::GrantType;
use devauth_proto::metadata::AuthorizationServerMetadata;

use crate::config::{Config, RegistrationPolicy, SUPPORTED_SCOPES};
use crate::state::AppState;

/// The RFC 8414 path.
pub const OAUTH_PATH: &str = devauth_proto::metadata::OAUTH_WELL_KNOWN;
/// The OIDC path.
pub const OIDC_PATH: &str = devauth_proto::metadata::OIDC_WELL_KNOWN;

/// The document for a configuration.
pub fn metadata(config: &Config) -> AuthorizationServerMetadata {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let auth_methods = strings(&["client_secret_basic", "client_secret_post", "none"]);
    AuthorizationServerMetadata {
        issuer: config.issuer.clone(),
        authorization_endpoint: Some(config.url("/oauth/authorize")),
        token_endpoint: Some(config.url(super::token::PATH)),
        device_authorization_endpoint: Some(config.url(super::device_authorization::PATH)),
        revocation_endpoint: Some(config.url(super::revoke::PATH)),
        introspection_endpoint: Some(config.url(super::introspect::PATH)),
        userinfo_endpoint: Some(config.url(super::userinfo::PATH)),
        jwks_uri: Some(config.url(super::jwks::PATH)),
        client_id_metadata_document_supported: config.registration == RegistrationPolicy::Open,
        registration_endpoint: (config.registration != RegistrationPolicy::Off)
            .then(|| config.url(super::register::PATH)),
        scopes_supported: strings(SUPPORTED_SCOPES),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        grant_types_supported: [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
            GrantType::DeviceCode,
        ]
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect(),
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["RS256", "ES256"]),
        claims_supported: strings(&[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "preferred_username",
        ]),
        extra: serde_json::Map::new(),
    }
}

/// The handler for both paths.
pub async fn handle(State(state): State<AppState>) -> Response {
    axum::Json(metadata(&state.config)).into_response()
}
