//! The device-flow poller (RFC 8628 §3.4, §3.5) as a pure state machine.
//!
//! [`Poller::step`] takes what the last poll produced and the current time,
//! and says what to do next: wait, finish, or stop. It does no I/O, so every
//! rule is a unit test:
//!
//! - wait `interval` before *every* poll, the first one included
//!   ([`DEFAULT_INTERVAL_SECS`] when the server sends none, at least 1 s);
//! - `slow_down` adds [`SLOW_DOWN_INCREMENT_SECS`] to the interval, for this
//!   and every later poll;
//! - `access_denied` and `expired_token` stop at once;
//! - network trouble and failing servers (5xx, `server_error`,
//!   `temporarily_unavailable`) are retried with an exponential backoff that
//!   is never shorter than the current interval;
//! - TLS failures and any other refusal stop at once;
//! - nothing is polled after `expires_in` has passed.

use std::time::Duration;

use devauth_proto::device::{DEFAULT_INTERVAL_SECS, SLOW_DOWN_INCREMENT_SECS};
use devauth_proto::token::TokenResponse;
use devauth_proto::{ErrorCode, ErrorResponse};
use time::OffsetDateTime;

use crate::Error;
use crate::clock::later;

/// Longest wait between retries after network failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What one poll of the token endpoint produced.
#[derive(Debug)]
pub enum Outcome {
    /// The tokens.
    Token(Box<TokenResponse>),
    /// An RFC 6749 §5.2 error reply.
    Refused(ErrorResponse),
    /// The request failed before a reply could be read.
    Failed(Error),
}

/// What to do next.
#[derive(Debug)]
pub enum Step {
    /// Sleep this long, then poll.
    Wait(Duration),
    /// Approved: here are the tokens.
    Done(Box<TokenResponse>),
    /// Give up with this error.
    Stop(Error),
}

/// The poller's state for one device code.
#[derive(Debug, Clone)]
pub struct Poller {
    interval: Duration,
    deadline: OffsetDateTime,
    failures: u32,
}

impl Poller {
    /// A poller for a code issued at `now` with the server's `interval` and `expires_in`.
    pub fn new(interval: Option<u64>, expires_in: u64, now: OffsetDateTime) -> Self {
        let interval = interval.unwrap_or(DEFAULT_INTERVAL_SECS).max(1);
        Self {
            interval: Duration::from_secs(interval),
            deadline: later(now, Duration::from_secs(expires_in)),
            failures: 0,
        }
    }

    /// The current polling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the code expires.
    pub fn deadline(&self) -> OffsetDateTime {
        self.deadline
    }

    /// The wait before the first poll.
    pub fn start(&self, now: OffsetDateTime) -> Step {
        self.wait(self.interval, now)
    }

    /// The next step after a poll that produced `outcome`.
    pub fn step(&mut self, outcome: Outcome, now: OffsetDateTime) -> Step {
        match outcome {
            Outcome::Token(t) => Step::Done(t),
            Outcome::Refused(err) => match err.error {
                ErrorCode::AuthorizationPending => {
                    self.failures = 0;
                    self.wait(self.interval, now)
                }
                ErrorCode::SlowDown => {
                    self.failures = 0;
                    // +5 s (RFC 8628 §3.5), or the interval the server names
                    // when that is longer (GitHub sends one).
                    let grown = self
                        .interval
                        .saturating_add(Duration::from_secs(SLOW_DOWN_INCREMENT_SECS));
                    let named = Duration::from_secs(err.interval.unwrap_or(0));
                    self.interval = grown.max(named);
                    self.wait(self.interval, now)
                }
                ErrorCode::AccessDenied => Step::Stop(Error::Denied),
                ErrorCode::ExpiredToken => Step::Stop(Error::Expired),
                ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => self.backoff(now),
                _ => Step::Stop(Error::oauth(err)),
            },
            Outcome::Failed(e) if e.is_transient() => self.backoff(now),
            Outcome::Failed(e) => Step::Stop(e),
        }
    }

    fn backoff(&mut self, now: OffsetDateTime) -> Step {
        self.failures = self.failures.saturating_add(1);
        let exp = Duration::from_secs(1u64 << self.failures.min(6)).min(MAX_BACKOFF);
        self.wait(exp.max(self.interval), now)
    }

    fn wait(&self, wait: Duration, now: OffsetDateTime) -> Step {
        if later(now, wait) >= self.deadline {
            Step::Stop(Error::Expired)
        } else {
            Step::Wait(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn refused(code: ErrorCode) -> Outcome {
        Outcome::Refused(ErrorResponse {
            error: code,
            error_description: None,
            error_uri: None,
            interval: None,
        })
    }

    fn wait_secs(step: Step) -> u64 {
        match step {
            Step::Wait(d) => d.as_secs(),
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn waits_the_interval_before_the_first_poll_and_defaults_to_five() {
        assert_eq!(wait_secs(Poller::new(None, 600, t0()).start(t0())), 5);
        assert_eq!(wait_secs(Poller::new(Some(2), 600, t0()).start(t0())), 2);
        assert_eq!(wait_secs(Poller::new(Some(0), 600, t0()).start(t0())), 1);
    }

    #[test]
    fn slow_down_adds_five_and_stays() {
        let mut p = Poller::new(Some(5), 600, t0());
        assert_eq!(wait_secs(p.step(refused(ErrorCode::SlowDown), t0())), 10);
        assert_eq!(wait_secs(p.step(refused(ErrorCode::SlowDown), t0())), 15);
        assert_eq!(
            wait_secs(p.step(refused(ErrorCode::AuthorizationPending), t0())),
            15
        );
    }

    #[test]
    fn slow_down_adopts_a_longer_interval_the_server_names() {
        let mut p = Poller::new(Some(5), 600, t0());
        let with = |interval| {
            Outcome::Refused(ErrorResponse {
                error: ErrorCode::SlowDown,
                error_description: None,
                error_uri: None,
                interval: Some(interval),
            })
        };
        // GitHub: slow_down with the new minimum interval.
        assert_eq!(wait_secs(p.step(with(30), t0())), 30);
        // A named interval shorter than +5 s does not shrink it.
        assert_eq!(wait_secs(p.step(with(2), t0())), 35);
    }

    #[test]
    fn backoff_never_below_interval_and_capped() {
        let mut p = Poller::new(Some(5), 100_000, t0());
        p.step(refused(ErrorCode::SlowDown), t0()); // 10 s
        let net = || {
            Outcome::Failed(Error::Unreachable {
                url: "u".into(),
                detail: "reset".into(),
            })
        };
        let waits: Vec<u64> = (0..8).map(|_| wait_secs(p.step(net(), t0()))).collect();
        assert_eq!(waits, [10, 10, 10, 16, 32, 60, 60, 60]);
        // a good answer resets the backoff but not the interval
        assert_eq!(
            wait_secs(p.step(refused(ErrorCode::AuthorizationPending), t0())),
            10
        );
        assert_eq!(wait_secs(p.step(net(), t0())), 10);
    }

    #[test]
    fn terminal_answers_stop() {
        let mut p = Poller::new(Some(5), 600, t0());
        assert!(matches!(
            p.step(refused(ErrorCode::AccessDenied), t0()),
            Step::Stop(Error::Denied)
        ));
        assert!(matches!(
            p.step(refused(ErrorCode::ExpiredToken), t0()),
            Step::Stop(Error::Expired)
        ));
        assert!(matches!(
            p.step(refused(ErrorCode::InvalidClient), t0()),
            Step::Stop(Error::OAuth { .. })
        ));
        let tls = Outcome::Failed(Error::Tls {
            url: "u".into(),
            detail: "bad cert".into(),
        });
        assert!(matches!(p.step(tls, t0()), Step::Stop(Error::Tls { .. })));
    }

    #[test]
    fn absurd_server_numbers_do_not_panic() {
        let mut p = Poller::new(Some(u64::MAX), u64::MAX, t0());
        assert!(matches!(
            p.start(t0()),
            Step::Stop(Error::Expired) | Step::Wait(_)
        ));
        let _ = p.step(refused(ErrorCode::SlowDown), t0());
    }

    #[test]
    fn never_polls_after_expiry() {
        let mut p = Poller::new(Some(5), 12, t0());
        assert_eq!(wait_secs(p.start(t0())), 5);
        let later = t0() + Duration::from_secs(5);
        assert_eq!(
            wait_secs(p.step(refused(ErrorCode::AuthorizationPending), later)),
            5
        );
        let later = t0() + Duration::from_secs(10);
        assert!(matches!(
            p.step(refused(ErrorCode::AuthorizationPending), later),
            Step::Stop(Error::Expired)
        ));
    }
}
