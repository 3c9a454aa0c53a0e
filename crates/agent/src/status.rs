//! What the agent knows about one profile: its [`State`] and why.
//!
//! | state | meaning |
//! |---|---|
//! | `active` | the access token is valid beyond the threshold |
//! | `refreshing` | a refresh is in flight |
//! | `expiring` | a refresh failed temporarily; the access token is still valid and the agent retries at `next_attempt` |
//! | `error` | a refresh failed temporarily and the access token has expired; retry at `next_attempt` |
//! | `needs-login` | the refresh token is dead (permanent failure, after one re-read of the source): log in again |

use devauth_import::FailureClass;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The state of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Valid beyond the threshold.
    Active,
    /// A refresh is in flight.
    Refreshing,
    /// A temporary failure; the access token still works.
    Expiring,
    /// Log in again; the agent stopped trying.
    NeedsLogin,
    /// A temporary failure and the access token has expired.
    Error,
}

impl State {
    /// Every state, for metrics.
    pub const ALL: [State; 5] = [
        State::Active,
        State::Refreshing,
        State::Expiring,
        State::NeedsLogin,
        State::Error,
    ];

    /// The name as written and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Refreshing => "refreshing",
            Self::Expiring => "expiring",
            Self::NeedsLogin => "needs-login",
            Self::Error => "error",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The agent's record of one profile (`agent.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The state.
    pub state: State,
    /// When the access token expires, as last seen.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The last successful refresh.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_refresh: Option<OffsetDateTime>,
    /// The last failure, in one sentence (never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Its class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_class: Option<FailureClass>,
    /// Temporary failures in a row.
    #[serde(default)]
    pub failures: u32,
    /// When the agent will try again (after a temporary failure).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt: Option<OffsetDateTime>,
    /// When this record was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Status {
    /// A fresh record in `state`.
    pub fn new(state: State, now: OffsetDateTime) -> Self {
        Self {
            state,
            expires_at: None,
            last_refresh: None,
            last_error: None,
            last_error_class: None,
            failures: 0,
            next_attempt: None,
            updated_at: now,
        }
    }
}
