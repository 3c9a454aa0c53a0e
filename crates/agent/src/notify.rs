//! Telling someone when a profile changes state: a command and/or a JSON
//! webhook.
//!
//! The command runs with `sh -c`, the event as JSON on its stdin and in
//! `DEVAUTH_EVENT`, plus `DEVAUTH_PROFILE`, `DEVAUTH_STATE`,
//! `DEVAUTH_PREVIOUS_STATE` and `DEVAUTH_REASON`; it gets
//! [`COMMAND_TIMEOUT`] before it is killed. The webhook gets the same JSON
//! as a `POST`. Events carry no secret. Transitions into and out of
//! `refreshing`, and a new profile starting `active`, are not announced.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use crate::status::State;

/// How long a notification command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The profile.
    pub profile: String,
    /// The state before (`null` for a profile seen for the first time).
    pub previous: Option<State>,
    /// The state now.
    pub state: State,
    /// Why (the failure, or how it healed).
    pub reason: Option<String>,
    /// When the access token expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Where notifications go.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    /// A shell command run for each event.
    pub command: Option<String>,
    /// A URL that gets each event as a JSON POST.
    pub webhook: Option<String>,
}

impl Notifier {
    /// Whether anything is configured.
    pub fn is_enabled(&self) -> bool {
        self.command.is_some() || self.webhook.is_some()
    }

    /// Delivers `events`; returns one sentence per delivery that failed.
    pub fn send(&self, events: &[Event]) -> Vec<String> {
        let mut errors = Vec::new();
        if events.is_empty() || !self.is_enabled() {
            return errors;
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        for event in events {
            let json = serde_json::to_string(event).unwrap_or_default();
            if let Some(cmd) = &self.command
                && let Err(e) = run_command(cmd, event, &json)
            {
                errors.push(format!("notification command for {}: {e}", event.profile));
            }
            if let Some(url) = &self.webhook {
                let sent = agent
                    .post(url)
                    .header("content-type", "application/json")
                    .send(json.as_bytes());
                if let Err(e) = sent {
                    errors.push(format!("webhook for {}: {e}", event.profile));
                }
            }
        }
        errors
    }
}

fn run_command(cmd: &str, event: &Event, json: &str) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("DEVAUTH_PROFILE", &event.profile)
        .env("DEVAUTH_STATE", event.state.as_str())
        .env(
            "DEVAUTH_PREVIOUS_STATE",
            event.previous.map_or("", State::as_str),
        )
        .env("DEVAUTH_REASON", event.reason.as_deref().unwrap_or(""))
        .env("DEVAUTH_EVENT", json)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(json.as_bytes());
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) if started.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed out".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}
