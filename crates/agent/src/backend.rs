//! The seam between the agent and a credential store.
//!
//! The agent decides *when* and *what next*; a [`Backend`] knows how to read
//! a profile, refresh it under its lock, and re-read its source.

use std::path::PathBuf;
use std::time::Duration;

use devauth_import::FailureClass;
use time::OffsetDateTime;

use crate::status::Status;

/// What a refresh under the lock did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// We refreshed; the new expiry.
    Refreshed(Option<OffsetDateTime>),
    /// Someone else (a `devauth token`, the source tool) had refreshed it
    /// already; no request was made.
    AlreadyFresh(Option<OffsetDateTime>),
}

/// A failed refresh.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    /// Permanent or temporary.
    pub class: FailureClass,
    /// One sentence, never a secret.
    pub reason: String,
    /// A wait the server asked for.
    pub retry_after: Option<Duration>,
}

/// A store error (reading or writing a profile).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A store the agent can keep fresh.
pub trait Backend: Send + Sync {
    /// The profiles to look after.
    fn profiles(&self) -> Result<Vec<String>, StoreError>;

    /// When the profile's access token expires; `None` when it holds nothing
    /// refreshable.
    fn expires_at(&self, name: &str) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Under the profile's lock: re-reads it and, if it still expires within
    /// `threshold` of `now`, refreshes it and stores the result.
    fn refresh(
        &self,
        name: &str,
        now: OffsetDateTime,
        threshold: Duration,
    ) -> Result<Done, Failure>;

    /// After a permanent failure: reads the profile's source once; `true`
    /// when it held a different login, which is now stored.
    fn reread_source(&self, name: &str, now: OffsetDateTime) -> Result<bool, Failure>;

    /// Whether the profile is marked `needs-login` in the store (by the
    /// agent, or by `devauth token` after a rejected refresh).
    fn needs_login(&self, _name: &str) -> bool {
        false
    }

    /// Marks the profile `needs-login` in the store, so `devauth token`
    /// fails fast and `devauth status` says so.
    fn mark_needs_login(&self, _name: &str, _reason: &str, _now: OffsetDateTime) {}

    /// The agent's last record of the profile.
    fn load_status(&self, name: &str) -> Result<Option<Status>, StoreError>;

    /// Writes the agent's record of the profile.
    fn save_status(&self, name: &str, status: &Status) -> Result<(), StoreError>;

    /// The files each profile was adopted from (for `--watch`).
    fn sources(&self) -> Vec<(String, PathBuf)> {
        Vec::new()
    }
}
