//! Rate limits of the pages, counted in the [`FlowStore`](crate::store::FlowStore)
//! so that they hold across replicas.
//!
//! Code entry (RFC 8628 §5.1: user codes are guessable only if entry is
//! unlimited) and login are each limited per browser session and per IP per
//! minute, as sliding windows ([`crate::rate_limit`]); new sessions per IP. Hitting a limit is a
//! readable 429 page.
//!
//! On top of that, *wrong* user codes spend one budget shared by every page
//! that looks a code up (`GET /device?user_code=`, `POST /device`, `GET` and
//! `POST /device/confirm`): [`WRONG_CODES_PER_SESSION`] per browser session,
//! [`WRONG_CODES_PER_ACCOUNT`] per signed-in account and
//! [`WRONG_CODES_PER_IP`] per client address, each per
//! [`WRONG_CODE_WINDOW_SECS`] (sliding). A spent budget is checked *before* the lookup,
//! so past it no answer tells a live code from a dead one; a right code
//! spends nothing. The answer is 429 with `Retry-After`.

use crate::rate_limit;
use crate::state::AppState;

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

/// Failed sign-ins per account name before delays start.
pub const FREE_LOGIN_FAILURES: u64 = 5;
/// Longest delay between sign-in attempts for one account name, seconds.
pub const MAX_LOGIN_DELAY_SECS: u32 = 300;
/// Window in which an account name's failed sign-ins are counted: 1 hour.
const LOGIN_FAILURE_WINDOW_SECS: u32 = 3600;

/// The delay after the `failures`-th failure in the window: none up to
/// [`FREE_LOGIN_FAILURES`], then 2, 4, 8 … seconds, at most
/// [`MAX_LOGIN_DELAY_SECS`].
pub fn login_delay_secs(failures: u64) -> u32 {
    match failures.checked_sub(FREE_LOGIN_FAILURES) {
        None | Some(0) => 0,
        Some(extra) => 1u32
            .checked_shl(u32::try_from(extra.min(31)).unwrap_or(31))
            .unwrap_or(u32::MAX)
            .min(MAX_LOGIN_DELAY_SECS),
    }
}

fn account_key(username: &str) -> String {
    // The name as typed may be anything (even a password typed in the wrong
    // field): only its hash goes into the store.
    let name = username.trim().to_lowercase();
    crate::model::TokenHash::of(&name).as_str().to_owned()
}

/// Refuses with [`PageError::AccountThrottled`] while `username` waits out
/// the delay its failed sign-ins earned, whatever address asks — so guesses
/// at one account from many addresses slow down too — without locking the
/// person out for more than [`MAX_LOGIN_DELAY_SECS`] at a time. Names that
/// exist and names that do not are treated alike.
pub async fn account_login_allowed(state: &AppState, username: &str) -> Result<(), PageError> {
    let now = state.clock.now();
    let key = account_key(username);
    let flow = &state.stores.flow;
    let failures = flow
        .hits(&format!("login-fail:{key}"), LOGIN_FAILURE_WINDOW_SECS, now)
        .await?;
    let delay = login_delay_secs(failures);
    if delay == 0 {
        return Ok(());
    }
    if flow
        .hits(&format!("login-wait:{key}:{delay}"), delay, now)
        .await?
        > 0
    {
        let window_ms = i64::from(delay) * 1000;
        let ends = (now.millis().div_euclid(window_ms) + 1) * window_ms;
        let retry_after_secs = u64::try_from((ends - now.millis() + 999) / 1000).unwrap_or(1);
        tracing::info!("sign-in delayed for an account name");
        return Err(PageError::AccountThrottled { retry_after_secs });
    }
    Ok(())
}

/// Records a failed sign-in for `username`; from the
/// [`FREE_LOGIN_FAILURES`]-th on, the next attempt waits (the delay window
/// containing now).
pub async fn account_login_failed(state: &AppState, username: &str) -> Result<(), PageError> {
    let now = state.clock.now();
    let key = account_key(username);
    let flow = &state.stores.flow;
    let failures = flow
        .hit(&format!("login-fail:{key}"), LOGIN_FAILURE_WINDOW_SECS, now)
        .await?;
    let delay = login_delay_secs(failures);
    if delay > 0 {
        flow.hit(&format!("login-wait:{key}:{delay}"), delay, now)
            .await?;
    }
    Ok(())
}

/// Window of the wrong-code budget: 10 minutes.
pub const WRONG_CODE_WINDOW_SECS: u32 = 600;
/// Wrong codes per browser session per window.
pub const WRONG_CODES_PER_SESSION: u64 = 5;
/// Wrong codes per signed-in account per window, whatever its IPs.
pub const WRONG_CODES_PER_ACCOUNT: u64 = 10;
/// Wrong codes per client IP per window, whatever its sessions and accounts.
pub const WRONG_CODES_PER_IP: u64 = 10;

/// Who is entering a code, for the wrong-code budget.
#[derive(Debug, Clone, Copy)]
pub struct CodeEntrant<'a> {
    /// The browser session ([`super::session::Session::throttle_key`]).
    pub session: &'a str,
    /// The signed-in account's id, if any.
    pub account: Option<&'a str>,
    /// The client IP.
    pub ip: &'a str,
}

impl CodeEntrant<'_> {
    fn keys(&self) -> Vec<(String, u64)> {
        let mut keys = vec![
            (
                format!("wrong-code:session:{}", self.session),
                WRONG_CODES_PER_SESSION,
            ),
            (format!("wrong-code:ip:{}", self.ip), WRONG_CODES_PER_IP),
        ];
        if let Some(account) = self.account {
            keys.push((
                format!("wrong-code:account:{account}"),
                WRONG_CODES_PER_ACCOUNT,
            ));
        }
        keys
    }
}

/// Refuses with [`PageError::TooManyWrongCodes`] when any of the entrant's
/// budgets is spent; counts nothing.
pub async fn wrong_code_budget(state: &AppState, who: CodeEntrant<'_>) -> Result<(), PageError> {
    let now = state.clock.now();
    for (key, limit) in who.keys() {
        let spent = rate_limit::count(
            state.stores.flow.as_ref(),
            &key,
            WRONG_CODE_WINDOW_SECS,
            now,
        )
        .await?;
        if spent >= limit {
            let retry_after_secs = rate_limit::retry_after_secs(
                state.stores.flow.as_ref(),
                &key,
                WRONG_CODE_WINDOW_SECS,
                now,
                limit,
            )
            .await?;
            tracing::info!(ip = who.ip, "wrong-code budget spent");
            return Err(PageError::TooManyWrongCodes { retry_after_secs });
        }
    }
    Ok(())
}

/// Spends one wrong code from each of the entrant's budgets.
pub async fn wrong_code(state: &AppState, who: CodeEntrant<'_>) -> Result<(), PageError> {
    let now = state.clock.now();
    for (key, _) in who.keys() {
        state
            .stores
            .flow
            .hit(&key, WRONG_CODE_WINDOW_SECS, now)
            .await?;
    }
    Ok(())
}

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
    let by_session = rate_limit::hit(
        flow.as_ref(),
        &format!("pages:{}:session:{session_key}", action.name()),
        WINDOW_SECS,
        now,
    )
    .await?;
    let by_ip = rate_limit::hit(
        flow.as_ref(),
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
    let count = rate_limit::hit(
        state.stores.flow.as_ref(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_delays_grow_and_stop_at_the_cap() {
        let delays: Vec<u32> = (0..=16).map(login_delay_secs).collect();
        assert_eq!(&delays[..=5], &[0, 0, 0, 0, 0, 0]);
        assert_eq!(&delays[6..=10], &[2, 4, 8, 16, 32]);
        assert!(delays[10..].windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(login_delay_secs(14), MAX_LOGIN_DELAY_SECS);
        assert_eq!(login_delay_secs(u64::MAX), MAX_LOGIN_DELAY_SECS);
    }
}
