//! Time and sleep, passed in.
//!
//! The poller and the session read time only through a [`Clock`] and wait only
//! through a [`Sleeper`], so tests run the device flow on a mock clock in
//! microseconds while production uses [`SystemClock`] and [`ThreadSleeper`].
//! A [`CancelFlag`] (set from a Ctrl-C handler) makes every sleep end early
//! with [`Cancelled`].
//!
//! This is the one clock of the client side: `devauth-import` and
//! `devauth-agent` use it too (the agent shares it across threads, hence
//! `Send + Sync`), and [`MockClock`] is the one mock for their tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place of the client that reads the system clock"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from(std::time::SystemTime::now())
    }
}

/// The wait was cut short by a cancellation (Ctrl-C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Something that waits.
pub trait Sleeper {
    /// Waits for `duration`, or returns [`Cancelled`] early.
    fn sleep(&self, duration: Duration) -> Result<(), Cancelled>;

    /// Whether a cancellation was requested (checked between steps).
    fn is_cancelled(&self) -> bool {
        false
    }
}

impl<T: Sleeper + ?Sized> Sleeper for &T {
    fn sleep(&self, duration: Duration) -> Result<(), Cancelled> {
        (**self).sleep(duration)
    }

    fn is_cancelled(&self) -> bool {
        (**self).is_cancelled()
    }
}

/// A shared "stop now" flag, set by a signal handler and read by sleepers.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Sleeps the thread in short slices, checking a [`CancelFlag`] between them.
#[derive(Debug, Clone, Default)]
pub struct ThreadSleeper {
    cancel: CancelFlag,
}

impl ThreadSleeper {
    /// How often a sleep checks the flag.
    pub const SLICE: Duration = Duration::from_millis(50);

    /// A sleeper that stops early when `cancel` is set.
    pub fn new(cancel: CancelFlag) -> Self {
        Self { cancel }
    }
}

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) -> Result<(), Cancelled> {
        let end = std::time::Instant::now() + duration;
        loop {
            if self.cancel.is_cancelled() {
                return Err(Cancelled);
            }
            let now = std::time::Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(Self::SLICE));
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// `at + d`, saturating at the largest date instead of panicking: durations
/// come from servers (`expires_in`, `interval`) and may be absurd.
pub fn later(at: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| at.checked_add(d))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

/// Seconds from `now` to `then`, clamped at zero.
pub fn secs_until(now: OffsetDateTime, then: OffsetDateTime) -> u64 {
    let d = then - now;
    if d.is_negative() {
        0
    } else {
        d.whole_seconds() as u64
    }
}

/// A clock that moves only when told to, or when something sleeps on it
/// (tests): clones share the same time, so a test keeps one and hands
/// another to the code under test.
#[derive(Debug, Clone)]
pub struct MockClock(Arc<Mutex<OffsetDateTime>>);

impl MockClock {
    /// A clock standing at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = later(*now, d);
    }

    /// Moves the clock forward by whole seconds.
    pub fn advance_secs(&self, secs: i64) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += time::Duration::seconds(secs);
    }
}

impl Clock for MockClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sleeping on a mock clock moves it forward at once.
impl Sleeper for MockClock {
    fn sleep(&self, duration: Duration) -> Result<(), Cancelled> {
        self.advance(duration);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod mock {
    //! The mock clock every unit test of this crate starts from.
    use super::*;

    /// A [`MockClock`] at 2023-11-14T22:13:20Z.
    pub fn clock() -> MockClock {
        MockClock::new(OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_sleep_returns_early() {
        let flag = CancelFlag::new();
        flag.cancel();
        let s = ThreadSleeper::new(flag);
        assert_eq!(s.sleep(Duration::from_secs(3600)), Err(Cancelled));
    }

    #[test]
    fn later_saturates() {
        let t = OffsetDateTime::from_unix_timestamp(100).unwrap();
        assert_eq!(later(t, Duration::from_secs(5)).unix_timestamp(), 105);
        assert!(later(t, Duration::from_secs(u64::MAX)) > t);
    }

    #[test]
    fn mock_clock_moves_when_slept_on_and_clones_share_it() {
        let a = mock::clock();
        let b = a.clone();
        let start = a.now();
        b.sleep(Duration::from_secs(5)).unwrap();
        a.advance_secs(10);
        assert_eq!(b.now() - start, time::Duration::seconds(15));
    }

    #[test]
    fn secs_until_clamps() {
        let t = OffsetDateTime::from_unix_timestamp(100).unwrap();
        assert_eq!(secs_until(t, t - Duration::from_secs(5)), 0);
        assert_eq!(secs_until(t, t + Duration::from_secs(5)), 5);
    }
}
