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
use crate::node::Node;

/// Where Chromium is: `DEVAUTH_CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os("DEVAUTH_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

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
    node: Node,
    chromium: PathBuf,
}

impl Browser {
    /// The tools, or `None` after printing why the test is skipped
    /// (a panic instead under `DEVAUTH_REQUIRE_SERVICES=1`).
    pub fn find() -> Option<Self> {
        Self::find_with("end-to-end browser test", &[])
    }

    /// As [`Browser::find`], for a test named `what` whose scripts also
    /// need the npm `packages` (an interop peer beside playwright-core).
    pub fn find_with(what: &str, packages: &[&str]) -> Option<Self> {
        let chromium = chromium();
        let found = if chromium.is_file() {
            let all: Vec<&str> = ["playwright-core"]
                .iter()
                .chain(packages)
                .copied()
                .collect();
            Node::locate(&all)
        } else {
            Err(format!("no Chromium at {}", chromium.display()))
        };
        match found {
            Ok(node) => Some(Self { node, chromium }),
            Err(why) => {
                crate::require_service(what, Some(&why));
                None
            }
        }
    }

    /// `node SCRIPT` (a path under the workspace root) with Chromium's path
    /// in `DEVAUTH_CHROMIUM`; the caller adds arguments and pipes.
    pub fn script(&self, script: &str) -> Command {
        let mut cmd = self.node.script(script);
        cmd.env("DEVAUTH_CHROMIUM", &self.chromium);
        cmd
    }

    /// Starts `node tests/SCRIPT ARGS` at the workspace root, Chromium's path
    /// in `DEVAUTH_CHROMIUM`, stdout and stderr captured.
    pub fn node(&self, script: &str, args: &[&str]) -> Guarded {
        let child = self
            .script(&format!("tests/{script}"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node");
        Guarded::new(child, script)
    }

    /// Runs `node tests/SCRIPT ARGS` to its end (at most [`SCRIPT_LIMIT`])
    /// and returns its stdout; panics, with both streams, unless it exits 0.
    pub fn run(&self, script: &str, args: &[&str]) -> String {
        Self::finished(&mut self.node(script, args))
    }

    /// Waits for a script started with [`Browser::node`] to end (at most
    /// [`SCRIPT_LIMIT`]) and returns its stdout; panics, with both streams,
    /// unless it exits 0.
    pub fn finished(script: &mut Guarded) -> String {
        let (status, stdout, stderr) = script.wait_exit(SCRIPT_LIMIT);
        assert!(
            status.success(),
            "browser script failed ({status}): {stdout}\n{stderr}"
        );
        stdout
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
