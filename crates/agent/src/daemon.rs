//! The agent over time: a pass every `interval`, `--watch` between passes,
//! and a clean stop on SIGTERM / SIGINT (refreshes in flight finish and
//! their files are written whole; no new refresh starts).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use devauth_client::clock::Clock;

use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::notify::{Event, Notifier};
use crate::pass::{self, Config, Summary};
use crate::watch::Watcher;

/// How often `--watch` looks at the sources.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What happened in one pass (or one watch round).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The pass's counts (empty for a watch round).
    pub summary: Summary,
    /// State changes.
    pub events: Vec<Event>,
    /// Notifications that could not be delivered.
    pub notify_errors: Vec<String>,
}

/// The agent.
pub struct Daemon {
    /// The store it keeps fresh.
    pub backend: Arc<dyn Backend>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Threshold, concurrency, backoff.
    pub config: Config,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Where state changes go.
    pub notifier: Notifier,
}

impl Daemon {
    /// One pass, with its notifications delivered.
    pub fn pass(&self, stop: &AtomicBool) -> Report {
        let (summary, events) = pass::run(
            &*self.backend,
            &*self.clock,
            &self.config,
            &self.metrics,
            stop,
        );
        let notify_errors = self.notifier.send(&events);
        Report {
            summary,
            events,
            notify_errors,
        }
    }

    /// Which profiles came from which file (re-read after every pass).
    fn sources(&self) -> HashMap<PathBuf, Vec<String>> {
        let mut by_path: HashMap<PathBuf, Vec<String>> = HashMap::new();
        for (name, path) in self.backend.sources() {
            by_path.entry(path).or_default().push(name);
        }
        by_path
    }

    /// Heals `needs-login` profiles whose source file changed.
    fn watch_round(
        &self,
        watcher: &mut Watcher,
        by_path: &HashMap<PathBuf, Vec<String>>,
    ) -> Option<Report> {
        let changed = watcher.changed(by_path.keys().map(PathBuf::as_path));
        let mut events = Vec::new();
        for path in changed {
            for name in by_path.get(Path::new(&path)).into_iter().flatten() {
                if let Some(e) = pass::heal(&*self.backend, &*self.clock, &self.metrics, name) {
                    events.push(e);
                }
            }
        }
        if events.is_empty() {
            return None;
        }
        let notify_errors = self.notifier.send(&events);
        Some(Report {
            summary: Summary::default(),
            events,
            notify_errors,
        })
    }

    /// Runs passes every `interval` until `stop` is set; `report` sees each.
    pub fn run(
        &self,
        interval: Duration,
        watch: bool,
        stop: &AtomicBool,
        report: &mut dyn FnMut(&Report),
    ) {
        let mut watcher = Watcher::default();
        let mut by_path = HashMap::new();
        if watch {
            // prime: what exists now is not a change
            by_path = self.sources();
            let _ = self.watch_round(&mut watcher, &by_path);
        }
        while !stop.load(Ordering::SeqCst) {
            report(&self.pass(stop));
            if watch {
                by_path = self.sources();
            }
            let next_pass = Instant::now() + interval;
            let mut next_watch = Instant::now() + WATCH_EVERY;
            while Instant::now() < next_pass && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                if watch && Instant::now() >= next_watch {
                    next_watch = Instant::now() + WATCH_EVERY;
                    if let Some(r) = self.watch_round(&mut watcher, &by_path) {
                        report(&r);
                        break; // a healed profile is looked at right away
                    }
                }
            }
        }
    }
}

/// A flag set on SIGTERM, SIGINT or SIGHUP.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;
    Ok(stop)
}
