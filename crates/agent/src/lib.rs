//! `devauth agent`: keeps every stored credential fresh in the background.
//!
//! Each pass ([`pass`]) looks at every profile, refreshes those whose access
//! token expires within the threshold — at most `concurrency` at a time, each
//! under the profile's file lock (the one `devauth token` takes), so the
//! agent and a script never both refresh — and records the outcome as a
//! [`status::Status`] where `devauth status` reads it.
//!
//! Failures are classified ([`devauth_import::FailureClass`]): a permanent
//! one (dead refresh token, expired registration) makes the agent re-read the
//! source once — the other tool may have rotated it, or the person logged in
//! again — and then marks the profile `needs-login` and stops trying; a
//! temporary one (network, 429, 5xx, `slow_down`) backs off exponentially up
//! to a cap ([`backoff`]) while the current access token keeps being used.
//!
//! Around the passes: [`daemon`] (the schedule, `--watch`, clean shutdown
//! on SIGTERM), [`notify`] (a command and/or a JSON webhook on every state
//! change), [`metrics`] and [`listen`] (`/healthz`, `/metrics`).
//! [`backend::Backend`] is the seam to the credential store;
//! [`profiles::ProfileBackend`] implements it on `devauth-client`'s profile
//! store, for adopted logins and the client's own alike.

pub mod backend;
pub mod backoff;
pub mod daemon;
pub mod listen;
pub mod metrics;
pub mod notify;
pub mod pass;
pub mod profiles;
pub mod status;
pub mod watch;

pub use backend::Backend;
pub use pass::{Config, Summary};
pub use status::{State, Status};
