//! `devauth guard`: an OAuth 2.1 resource server in front of a service that
//! has no authentication of its own — an MCP server (Streamable HTTP) or any
//! HTTP API. Only requests carrying a valid bearer JWT issued for this one
//! resource get through; everyone else is told where to log in (RFC 9728).
//!
//! | module | concern |
//! |---|---|
//! | [`config`] | what the operator sets: issuer, resource, upstream, scopes, limits |
//! | [`jwks`] | the issuer's signing keys: discovered, cached, refetched on an unknown `kid` |
//! | [`verify`] | one bearer token → its subject and scopes, or why not |
//! | [`challenge`] | the 401/403 answers and their `WWW-Authenticate` (RFC 6750 §3, RFC 9728 §5.1) |
//! | [`metadata`] | the protected-resource metadata document (RFC 9728 §2–3) |
//! | [`proxy`] | forwarding to the upstream, bodies streamed both ways (SSE included) |
//! | [`app`] | the router: metadata, health, everything else verified then proxied |
//!
//! It works with any issuer that publishes a JWKS (devauth, Keycloak, Entra,
//! Auth0…), and serves through `devauth_server::listener`, so it has the
//! same header, body and idle timeouts and connection cap as `devauth serve`.
#![forbid(unsafe_code)]

pub mod app;
pub mod challenge;
pub mod config;
pub mod jwks;
pub mod metadata;
pub mod proxy;
pub mod verify;

pub use app::{Guard, StartError};
pub use config::Config;
