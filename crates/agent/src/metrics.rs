//! Counters and gauges of the agent, rendered as Prometheus text for
//! `--listen … /metrics`: refreshes, failures by class, source re-reads,
//! profiles by state, and seconds to expiry per profile.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use devauth_import::FailureClass;
use time::OffsetDateTime;

use crate::status::State;

/// The agent's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    passes: AtomicU64,
    refreshes: AtomicU64,
    already_fresh: AtomicU64,
    permanent: AtomicU64,
    temporary: AtomicU64,
    source_rereads: AtomicU64,
    profiles: Mutex<HashMap<String, (State, Option<OffsetDateTime>)>>,
    last_pass: Mutex<Option<OffsetDateTime>>,
}

impl Metrics {
    /// A refresh we made.
    pub fn refreshed(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    /// A refresh someone else had made.
    pub fn already_fresh(&self) {
        self.already_fresh.fetch_add(1, Ordering::Relaxed);
    }

    /// A failed refresh.
    pub fn failure(&self, class: FailureClass) {
        match class {
            FailureClass::Permanent => &self.permanent,
            FailureClass::Temporary => &self.temporary,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// A re-read of a profile's source.
    pub fn source_reread(&self) {
        self.source_rereads.fetch_add(1, Ordering::Relaxed);
    }

    /// The latest state of a profile.
    pub fn observe(&self, name: &str, state: State, expires_at: Option<OffsetDateTime>) {
        self.profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), (state, expires_at));
    }

    /// Forgets profiles that are gone.
    pub fn retain_profiles(&self, names: &[String]) {
        let keep: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
        self.profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| keep.contains(k.as_str()));
    }

    /// A pass ended.
    pub fn pass_done(&self, at: OffsetDateTime) {
        self.passes.fetch_add(1, Ordering::Relaxed);
        *self.last_pass.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    /// Refreshes made so far.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Source re-reads so far.
    pub fn source_rereads(&self) -> u64 {
        self.source_rereads.load(Ordering::Relaxed)
    }

    /// Prometheus text exposition.
    pub fn render(&self, now: OffsetDateTime) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "devauth_agent_passes_total",
            "Passes over all profiles.",
            self.passes.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "devauth_agent_refreshes_total",
            "Refreshes made by the agent.",
            self.refreshes(),
        );
        counter(
            &mut out,
            "devauth_agent_already_fresh_total",
            "Refreshes found already made by another process under the lock.",
            self.already_fresh.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "devauth_agent_source_rereads_total",
            "Re-reads of a source after a permanent failure or a change.",
            self.source_rereads(),
        );
        let _ = writeln!(
            out,
            "# HELP devauth_agent_refresh_failures_total Failed refreshes by class.\n# TYPE devauth_agent_refresh_failures_total counter"
        );
        for (class, v) in [
            ("permanent", &self.permanent),
            ("temporary", &self.temporary),
        ] {
            let _ = writeln!(
                out,
                "devauth_agent_refresh_failures_total{{class=\"{class}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let profiles = self.profiles.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP devauth_agent_profiles Profiles by state.\n# TYPE devauth_agent_profiles gauge"
        );
        for state in State::ALL {
            let n = profiles.values().filter(|(s, _)| *s == state).count();
            let _ = writeln!(out, "devauth_agent_profiles{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP devauth_agent_token_expiry_seconds Seconds until the access token of each profile expires.\n# TYPE devauth_agent_token_expiry_seconds gauge"
        );
        let mut names: Vec<_> = profiles.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (name, (_, exp)) in names {
            if let Some(exp) = exp {
                let _ = writeln!(
                    out,
                    "devauth_agent_token_expiry_seconds{{profile=\"{}\"}} {}",
                    escape(name),
                    (*exp - now).whole_seconds()
                );
            }
        }
        if let Some(t) = *self.last_pass.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = writeln!(
                out,
                "# HELP devauth_agent_last_pass_timestamp_seconds When the last pass ended.\n# TYPE devauth_agent_last_pass_timestamp_seconds gauge\ndevauth_agent_last_pass_timestamp_seconds {}",
                t.unix_timestamp()
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
