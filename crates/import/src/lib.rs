//! Adopting credentials that other tools already hold — kiro-cli's SQLite
//! database and the AWS SSO cache — and refreshing them with each tool's own
//! wire format.
//!
//! The pieces, from the outside in:
//!
//! - [`kiro`] reads kiro-cli's `auth_kv` table (token rows, device
//!   registrations) and the `state` table's profile ARN, and writes a refreshed
//!   token back with a compare-and-swap on the value it read.
//! - [`aws_sso`] does the same for the AWS CLI v2 cache (`~/.aws/sso/cache`).
//! - [`refresh`] speaks the three refresh wire formats: Kiro's social
//!   `refreshToken` call, AWS SSO OIDC `CreateToken`, and a plain RFC 6749
//!   refresh, and classifies every failure as permanent or temporary.
//! - [`credential`] is what devauth stores for an adopted login, and
//!   [`follow`] is the refresh step that keeps devauth and the other tool from
//!   racing on one rotating refresh token (`follow` vs `own` mode).
//! - [`profile`] stores an adopted login as a `devauth-client` profile
//!   (`Source::Imported`, tokens in `tokens`, the rest under `extra.import`),
//!   and [`renewer`] lets `devauth token` / `run` refresh such a profile
//!   through the client's `Renewer` seam.
//!
//! Invariants: a foreign database or file is never held open (one short read,
//! one short write transaction); nothing is written when anything about the
//! source looks wrong; no secret reaches an error message (secrets are
//! [`devauth_proto::Secret`]s); time comes from an injected
//! [`devauth_client::clock::Clock`], the client's one clock.

pub mod aws_sso;
pub mod credential;
pub mod error;
pub mod follow;
pub mod kiro;
pub mod profile;
pub mod refresh;
pub mod renewer;
pub mod rfc3339;

pub use credential::{Credential, Kind, Mode, SourceRef};
pub use error::{ImportError, Missing};
pub use refresh::{FailureClass, RefreshError};
