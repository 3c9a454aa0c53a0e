//! One pass over every profile: decide, refresh (bounded concurrency),
//! classify, record.
//!
//! Per profile, under no lock of ours (the backend locks around the
//! refresh itself):
//!
//! 1. `needs-login` profiles are left alone (only a new login heals them:
//!    `--watch`, or `devauth import` again);
//! 2. a profile in backoff (`next_attempt` in the future) waits;
//! 3. a token valid beyond the threshold (plus a per-profile jitter of up to
//!    10 %, so that profiles adopted together spread out) is `active`;
//! 4. otherwise it is refreshed. A permanent failure re-reads the source
//!    once and retries once if the source held a different login, then
//!    gives up with `needs-login`; a temporary failure backs off.
//!
//! A profile's record is written only when it changes, so a pass over ten
//! thousand fresh profiles writes nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use devauth_client::clock::Clock;
use devauth_import::FailureClass;
use serde::Serialize;
use time::OffsetDateTime;

use crate::backend::{Backend, Done, Failure};
use crate::backoff::{Backoff, jitter_fraction};
use crate::metrics::Metrics;
use crate::notify::Event;
use crate::status::{State, Status};

/// How the agent behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Refresh what expires within this.
    pub threshold: Duration,
    /// At most this many refreshes at once.
    pub concurrency: usize,
    /// Waits after temporary failures.
    pub backoff: Backoff,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            threshold: Duration::from_secs(300),
            concurrency: 10,
            backoff: Backoff::default(),
        }
    }
}

/// What a pass did, by profile count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Profiles looked at.
    pub profiles: usize,
    /// Valid beyond the threshold: nothing to do.
    pub fresh: usize,
    /// Refreshed by us.
    pub refreshed: usize,
    /// Found refreshed by someone else under the lock.
    pub already_fresh: usize,
    /// Refreshed after the source held a new login (following a permanent failure).
    pub recovered: usize,
    /// Marked `needs-login` in this pass.
    pub needs_login: usize,
    /// Already `needs-login`, left alone.
    pub still_needs_login: usize,
    /// Failed temporarily in this pass.
    pub temporary: usize,
    /// Waiting out a backoff.
    pub waiting: usize,
    /// Holding nothing refreshable, or unreadable.
    pub skipped: usize,
    /// Not visited because the agent is stopping.
    pub interrupted: usize,
}

#[derive(Debug, Clone, Copy)]
enum Visit {
    Fresh,
    Refreshed,
    AlreadyFresh,
    Recovered,
    NeedsLogin,
    StillNeedsLogin,
    Temporary,
    Waiting,
    Skipped,
}

impl Summary {
    fn count(&mut self, v: Visit) {
        let field = match v {
            Visit::Fresh => &mut self.fresh,
            Visit::Refreshed => &mut self.refreshed,
            Visit::AlreadyFresh => &mut self.already_fresh,
            Visit::Recovered => &mut self.recovered,
            Visit::NeedsLogin => &mut self.needs_login,
            Visit::StillNeedsLogin => &mut self.still_needs_login,
            Visit::Temporary => &mut self.temporary,
            Visit::Waiting => &mut self.waiting,
            Visit::Skipped => &mut self.skipped,
        };
        *field += 1;
    }

    /// Profiles that need a person: `needs-login` now or before.
    pub fn needing_login(&self) -> usize {
        self.needs_login + self.still_needs_login
    }
}

/// Runs one pass. `stop` is checked between profiles: refreshes in flight
/// finish, no new one starts.
pub fn run(
    backend: &dyn Backend,
    clock: &dyn Clock,
    cfg: &Config,
    metrics: &Metrics,
    stop: &AtomicBool,
) -> (Summary, Vec<Event>) {
    let names = match backend.profiles() {
        Ok(n) => n,
        Err(_) => return (Summary::default(), Vec::new()),
    };
    metrics.retain_profiles(&names);
    let summary = Mutex::new(Summary {
        profiles: names.len(),
        ..Summary::default()
    });
    let events = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let workers = cfg.concurrency.max(1).min(names.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(name) = names.get(i) else { break };
                    if stop.load(Ordering::SeqCst) {
                        summary
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .interrupted += 1;
                        continue;
                    }
                    let (visit, event) = visit(backend, clock, cfg, metrics, name);
                    summary
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .count(visit);
                    if let Some(e) = event {
                        events.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                    }
                }
            });
        }
    });
    metrics.pass_done(clock.now());
    let mut events = events.into_inner().unwrap_or_else(|e| e.into_inner());
    events.sort_by(|a, b| a.profile.cmp(&b.profile));
    (
        summary.into_inner().unwrap_or_else(|e| e.into_inner()),
        events,
    )
}

fn seconds(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

/// Records `status` when it differs from what is stored (`saved`, ignoring
/// `updated_at`), and returns the event of a state change since `prev` worth
/// telling about.
fn record(
    backend: &dyn Backend,
    metrics: &Metrics,
    name: &str,
    prev: Option<&Status>,
    saved: Option<&Status>,
    mut status: Status,
    reason: Option<String>,
) -> Option<Event> {
    metrics.observe(name, status.state, status.expires_at);
    let unchanged = saved.is_some_and(|p| {
        let mut p = p.clone();
        p.updated_at = status.updated_at;
        p == status
    });
    if !unchanged && let Err(e) = backend.save_status(name, &status) {
        status.last_error = Some(format!("could not record the state: {e}"));
    }
    let previous = prev.map(|p| p.state);
    let changed = previous != Some(status.state);
    let quiet_start = previous.is_none() && status.state == State::Active;
    let via_refreshing = previous == Some(State::Refreshing) || status.state == State::Refreshing;
    (changed && !quiet_start && !via_refreshing).then(|| Event {
        profile: name.to_owned(),
        previous,
        state: status.state,
        reason,
        expires_at: status.expires_at,
        at: status.updated_at,
    })
}

fn visit(
    backend: &dyn Backend,
    clock: &dyn Clock,
    cfg: &Config,
    metrics: &Metrics,
    name: &str,
) -> (Visit, Option<Event>) {
    let now = clock.now();
    let prev = backend.load_status(name).ok().flatten();
    // A crash mid-refresh leaves `refreshing` behind; judge from the state before it.
    let prev_state = prev.as_ref().map(|s| s.state);
    if prev_state == Some(State::NeedsLogin) {
        metrics.observe(
            name,
            State::NeedsLogin,
            prev.as_ref().and_then(|p| p.expires_at),
        );
        return (Visit::StillNeedsLogin, None);
    }
    let expires_at = match backend.expires_at(name) {
        Ok(Some(t)) => t,
        Ok(None) | Err(_) => return (Visit::Skipped, None),
    };
    let base = prev
        .clone()
        .unwrap_or_else(|| Status::new(State::Active, now));
    if let Some(next) = base.next_attempt.filter(|t| *t > now)
        && matches!(base.state, State::Expiring | State::Error)
    {
        let mut s = base.clone();
        s.expires_at = Some(expires_at);
        if expires_at <= now {
            s.state = State::Error;
        }
        s.next_attempt = Some(next);
        s.updated_at = now;
        let ev = record(
            backend,
            metrics,
            name,
            prev.as_ref(),
            prev.as_ref(),
            s,
            None,
        );
        return (Visit::Waiting, ev);
    }
    let threshold = cfg.threshold.mul_f64(1.0 + 0.1 * jitter_fraction(name, 0));
    if expires_at - now > seconds(threshold) {
        let mut s = base;
        s.state = State::Active;
        s.expires_at = Some(expires_at);
        s.failures = 0;
        s.next_attempt = None;
        s.last_error = None;
        s.last_error_class = None;
        if prev
            .as_ref()
            .is_some_and(|p| p.state == State::Active && p.expires_at == Some(expires_at))
        {
            s.updated_at = prev.as_ref().map_or(now, |p| p.updated_at);
        } else {
            s.updated_at = now;
        }
        let ev = record(
            backend,
            metrics,
            name,
            prev.as_ref(),
            prev.as_ref(),
            s,
            None,
        );
        return (Visit::Fresh, ev);
    }

    let mut refreshing = base.clone();
    refreshing.state = State::Refreshing;
    refreshing.expires_at = Some(expires_at);
    refreshing.updated_at = now;
    record(
        backend,
        metrics,
        name,
        prev.as_ref(),
        prev.as_ref(),
        refreshing.clone(),
        None,
    );

    let outcome = match backend.refresh(name, now, threshold) {
        Ok(done) => Ok((done, false)),
        Err(f) if f.class == FailureClass::Permanent => {
            metrics.failure(FailureClass::Permanent);
            metrics.source_reread();
            match backend.reread_source(name, clock.now()) {
                Ok(true) => match backend.refresh(name, clock.now(), threshold) {
                    Ok(done) => Ok((done, true)),
                    Err(f2) => Err(f2),
                },
                Ok(false) => Err(f),
                Err(f2) => Err(Failure {
                    class: FailureClass::Permanent,
                    reason: format!("{f}; the source could not be re-read: {f2}"),
                    retry_after: None,
                }),
            }
        }
        Err(f) => Err(f),
    };
    let now = clock.now();
    let mut s = base;
    s.updated_at = now;
    match outcome {
        Ok((done, recovered)) => {
            let (exp, visit) = match done {
                Done::Refreshed(exp) => {
                    metrics.refreshed();
                    s.last_refresh = Some(now);
                    (
                        exp,
                        if recovered {
                            Visit::Recovered
                        } else {
                            Visit::Refreshed
                        },
                    )
                }
                Done::AlreadyFresh(exp) => {
                    metrics.already_fresh();
                    (
                        exp,
                        if recovered {
                            Visit::Recovered
                        } else {
                            Visit::AlreadyFresh
                        },
                    )
                }
            };
            s.state = State::Active;
            s.expires_at = exp;
            s.failures = 0;
            s.next_attempt = None;
            s.last_error = None;
            s.last_error_class = None;
            // compare against the pre-pass record, so error → active is told
            let ev = record(
                backend,
                metrics,
                name,
                prev.as_ref(),
                Some(&refreshing),
                s,
                None,
            );
            (visit, ev)
        }
        Err(f) if f.class == FailureClass::Permanent => {
            backend.mark_needs_login(name, &f.reason, now);
            s.state = State::NeedsLogin;
            s.last_error = Some(f.reason.clone());
            s.last_error_class = Some(FailureClass::Permanent);
            s.next_attempt = None;
            s.expires_at = Some(expires_at);
            let ev = record(
                backend,
                metrics,
                name,
                prev.as_ref(),
                Some(&refreshing),
                s,
                Some(f.reason),
            );
            (Visit::NeedsLogin, ev)
        }
        Err(f) => {
            metrics.failure(FailureClass::Temporary);
            s.failures = s.failures.saturating_add(1);
            let wait = cfg
                .backoff
                .delay(s.failures, name)
                .max(f.retry_after.unwrap_or_default());
            s.next_attempt = Some(now + seconds(wait));
            s.state = if expires_at > now {
                State::Expiring
            } else {
                State::Error
            };
            s.expires_at = Some(expires_at);
            s.last_error = Some(f.reason.clone());
            s.last_error_class = Some(FailureClass::Temporary);
            let ev = record(
                backend,
                metrics,
                name,
                prev.as_ref(),
                Some(&refreshing),
                s,
                Some(f.reason),
            );
            (Visit::Temporary, ev)
        }
    }
}

/// Marks a `needs-login` profile whose source now holds a new login as
/// `active` again (for `--watch`). Returns the event, if it healed.
pub fn heal(
    backend: &dyn Backend,
    clock: &dyn Clock,
    metrics: &Metrics,
    name: &str,
) -> Option<Event> {
    if !backend.needs_login(name) {
        return None;
    }
    let prev = backend
        .load_status(name)
        .ok()
        .flatten()
        .unwrap_or_else(|| Status::new(State::NeedsLogin, clock.now()));
    let now: OffsetDateTime = clock.now();
    metrics.source_reread();
    if !matches!(backend.reread_source(name, now), Ok(true)) {
        return None;
    }
    let mut s = Status::new(State::Active, now);
    s.expires_at = backend.expires_at(name).ok().flatten();
    record(
        backend,
        metrics,
        name,
        Some(&prev),
        Some(&prev),
        s,
        Some("a new login was found in the source".into()),
    )
}
