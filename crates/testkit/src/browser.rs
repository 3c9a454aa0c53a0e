//! The person's side, in real headless Chromium: `tests/browser/approve.mjs`
//! (playwright-core) opens the verification page, types the user code, logs
//! in and presses Approve or Deny.
//!
//! Needs `/usr/bin/chromium` (or `DEVAUTH_CHROMIUM`), `node` on PATH and
//! `node_modules/playwright-core` (`npm ci` at the workspace root). Without
//! them a test prints why and passes — unless `DEVAUTH_REQUIRE_SERVICES=1`,
//! when it fails.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::child::Guarded;

/// The longest the browser script may run.
pub const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

/// What the person does on the confirm page.
#[derive(Debug, Clone, Copy)]
pub enum Choice {
    /// Press Approve.
    Approve,
    /// Press Deny.
    Deny,
}

impl Choice {
    fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }

    fn result(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Deny => "denied",
        }
    }
}

/// Node, Chromium and the scripts, all present.
pub struct Browser {
    node: PathBuf,
    chromium: PathBuf,
    workspace: PathBuf,
}

impl Browser {
    /// The tools, or `None` after printing why the test is skipped
    /// (a panic instead under `DEVAUTH_REQUIRE_SERVICES=1`).
    pub fn find() -> Option<Self> {
        let workspace = crate::workspace_root();
        let chromium = std::env::var_os("DEVAUTH_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        let node = crate::on_path("node");
        let missing = if !chromium.is_file() {
            Some(format!("no Chromium at {}", chromium.display()))
        } else if node.is_none() {
            Some("no `node` on PATH".to_owned())
        } else if !workspace.join("node_modules/playwright-core").is_dir() {
            Some("no node_modules/playwright-core (run `npm ci` at the workspace root)".to_owned())
        } else {
            None
        };
        if !crate::require_service("end-to-end browser test", missing.as_deref()) {
            return None;
        }
        Some(Self {
            node: node?,
            chromium,
            workspace,
        })
    }

    /// Starts `node tests/SCRIPT ARGS` at the workspace root, Chromium's path
    /// in `DEVAUTH_CHROMIUM`, stdout and stderr captured.
    pub fn node(&self, script: &str, args: &[&str]) -> Guarded {
        let child = Command::new(&self.node)
            .arg(self.workspace.join("tests").join(script))
            .args(args)
            .env("DEVAUTH_CHROMIUM", &self.chromium)
            .current_dir(&self.workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node");
        Guarded::new(child, script)
    }

    /// Starts `tests/browser/approve.mjs` playing the person (see
    /// [`Browser::decide`]) and returns at once; the caller waits for it
    /// with [`Guarded::wait_exit`] (at most [`SCRIPT_LIMIT`]).
    pub fn start_deciding(
        &self,
        verification_uri: &str,
        user_code: &str,
        username: &str,
        password: &str,
        choice: Choice,
    ) -> Guarded {
        self.node(
            "browser/approve.mjs",
            &[
                verification_uri,
                user_code,
                username,
                password,
                choice.as_str(),
            ],
        )
    }

    /// Plays the person: enters `user_code` at `verification_uri`, logs in
    /// as `username`, and approves or denies. Panics unless the script
    /// reports that exact result.
    pub fn decide(
        &self,
        verification_uri: &str,
        user_code: &str,
        username: &str,
        password: &str,
        choice: Choice,
    ) {
        let mut script =
            self.start_deciding(verification_uri, user_code, username, password, choice);
        let (status, stdout, stderr) = script.wait_exit(SCRIPT_LIMIT);
        let expected = format!("\"result\":\"{}\"", choice.result());
        assert!(
            status.success() && stdout.contains(&expected),
            "the browser did not {}: {status}\n{stdout}\n{stderr}",
            choice.as_str()
        );
    }
}
