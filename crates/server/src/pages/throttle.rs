//! Rate limits of the pages, counted in the [`FlowStore`](crate::store::FlowStore)
//! so that they hold across replicas.
//!
//! Code entry (RFC 8628 §5.1: user codes are guessable only if entry is
//! unlimited) and login are each limited per browser session and per IP in
//! fixed one-minute windows; new sessions per IP. Hitting a limit is a
//! readable 429 page.

use crate::app::AppState;

use super::error::PageError;

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A user-code lookup.
    CodeEntry,
    /// A password check.
    Login,
    /// A new anonymous session (a visit without our cookie).
    NewSession,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::CodeEntry => "code",
            Self::Login => "login",
            Self::NewSession => "session",
        }
    }

    /// Attempts per minute per session.
    pub const fn per_session(self) -> u64 {
        match self {
            Self::CodeEntry | Self::Login => 10,
            Self::NewSession => u64::MAX,
        }
    }

    /// Attempts per minute per IP address.
    pub const fn per_ip(self) -> u64 {
        match self {
            Self::CodeEntry | Self::Login => 30,
            Self::NewSession => 60,
        }
    }
}

const WINDOW_SECS: u32 = 60;

/// Counts one attempt of `action` by `session_key` from `ip`; refuses it
/// with [`PageError::TooManyAttempts`] past either limit.
pub async fn check(
    state: &AppState,
    action: Action,
    session_key: &str,
    ip: &str,
) -> Result<(), PageError> {
    let now = state.clock.now();
    let flow = &state.stores.flow;
    let by_session = flow
        .hit(
            &format!("pages:{}:session:{session_key}", action.name()),
            WINDOW_SECS,
            now,
        )
        .await?;
    let by_ip = flow
        .hit(
            &format!("pages:{}:ip:{ip}", action.name()),
            WINDOW_SECS,
            now,
        )
        .await?;
    if by_session > action.per_session() || by_ip > action.per_ip() {
        tracing::info!(action = action.name(), ip, "page rate limit hit");
        return Err(PageError::TooManyAttempts);
    }
    Ok(())
}

/// Counts one `action` from `ip` alone; refuses it past the per-IP limit.
pub async fn check_ip(state: &AppState, action: Action, ip: &str) -> Result<(), PageError> {
    let count = state
        .stores
        .flow
        .hit(
            &format!("pages:{}:ip:{ip}", action.name()),
            WINDOW_SECS,
            state.clock.now(),
        )
        .await?;
    if count > action.per_ip() {
        tracing::info!(action = action.name(), ip, "page rate limit hit");
        return Err(PageError::TooManyAttempts);
    }
    Ok(())
}
