//! Wire types and rules shared by both sides of devauth, with no I/O.
//!
//! This crate is devauth's equivalent of MAS's `oauth2-types`: the messages of
//! RFC 6749 (OAuth 2.0), RFC 8628 (device authorization grant), RFC 8414
//! (server metadata), RFC 7009 (revocation), RFC 7662 (introspection) and
//! RFC 7636 (PKCE), the error codes they define, and the pure rules that the
//! client and the server must agree on: the user-code alphabet and its
//! normalisation, scope syntax, PKCE S256.
//!
//! Nothing here performs I/O, reads the clock or draws randomness: callers pass
//! random bytes and times in, so every rule is testable on its own.
//!
//! Secrets (tokens, codes, client secrets) travel in [`Secret`], which never
//! prints its value.
#![forbid(unsafe_code)]

pub mod bearer;
pub mod device;
pub mod error;
pub mod grant;
pub mod introspection;
pub mod loopback;
pub mod metadata;
pub mod pkce;
pub mod registration;
pub mod resource_metadata;
pub mod scope;
pub mod secret;
pub mod token;
pub mod user_code;

pub use error::{ErrorCode, ErrorResponse};
pub use grant::GrantType;
pub use scope::Scope;
pub use secret::Secret;
pub use user_code::UserCode;
