//! The real `devauth serve` as a child process ([`TestServer`]), started
//! through a [`Serve`] builder: in an environment cleaned of every
//! `DEVAUTH_*` variable of the test process (and of anything that would make
//! it think a browser or a terminal multiplexer is around), with
//! `DEVAUTH_LOG=warn`, its stderr drained into a transcript for the life of
//! the process (tests check the logs for secrets), its address read from the
//! "listening on" line, and killed on drop.
//!
//! Variants are options of the builder: [`Serve::home`] sets `DEVAUTH_HOME`,
//! [`Serve::demo`] adds `--demo` and reads the demo user's password (hidden
//! from [`TestServer::log`]), [`Serve::patience`] bounds the start.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::child::Guarded;

/// How long a server may take to start listening, unless told otherwise.
pub const START_LIMIT: Duration = Duration::from_secs(60);

/// A `devauth serve` about to be started.
pub struct Serve {
    cmd: Command,
    patience: Duration,
    demo: bool,
}

/// `bin` with no `DEVAUTH_*` (nor `DISPLAY`, `WAYLAND_DISPLAY`, `BROWSER`,
/// `TMUX`) from the test's own environment, stdin from /dev/null.
pub fn bare_command(bin: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(bin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DEVAUTH_") {
            cmd.env_remove(name);
        }
    }
    for var in ["DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "TMUX"] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

impl Serve {
    /// `BIN serve` with `DEVAUTH_LOG=warn` (see [`bare_command`]).
    pub fn new(bin: impl AsRef<OsStr>) -> Self {
        let mut cmd = bare_command(bin);
        cmd.arg("serve")
            .env("DEVAUTH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        Self {
            cmd,
            patience: START_LIMIT,
            demo: false,
        }
    }

    /// One more argument of `devauth serve`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// More arguments of `devauth serve`.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    /// One environment variable of the server.
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(name, value);
        self
    }

    /// `DEVAUTH_HOME` of the server.
    pub fn home(self, home: &Path) -> Self {
        self.env("DEVAUTH_HOME", home)
    }

    /// `--demo`, and wait for the demo user's password too.
    pub fn demo(mut self) -> Self {
        self.cmd.arg("--demo");
        self.demo = true;
        self
    }

    /// How long the server may take to say where it listens.
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// Starts the server and waits (bounded) until it says where it listens;
    /// a server that does not is killed and the test fails with its stderr.
    pub fn start(mut self) -> TestServer {
        let child = self.cmd.spawn().expect("start devauth serve");
        let mut process = Guarded::new(child, "devauth serve");
        let base = process.wait_for_line(self.patience, |line| {
            let rest = line.split_once("listening on ")?.1;
            Some(rest.split_whitespace().next()?.to_owned())
        });
        // Printed after "listening", in a box: `│ user `demo`, password X │`.
        let demo_password = self.demo.then(|| {
            process.wait_for_line(self.patience, |line| {
                line.split_once("user `demo`, password ")
                    .map(|(_, p)| p.trim_end_matches(['│', ' ']).trim().to_owned())
            })
        });
        TestServer {
            base,
            demo_password,
            process,
        }
    }
}

/// A running `devauth serve`, killed on drop.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub base: String,
    demo_password: Option<String>,
    process: Guarded,
}

impl TestServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {}", self.base))
    }

    /// The `demo` user's password (started with [`Serve::demo`]).
    pub fn demo_password(&self) -> &str {
        self.demo_password
            .as_deref()
            .expect("the server was started with Serve::demo")
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.process.alive()
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.process.terminate()
    }

    /// SIGTERM, then waits up to `patience` for the exit; `None` if the
    /// process is still running then (it is killed).
    pub fn terminate_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        self.process.terminate_within(patience)
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Every line the process wrote on stderr so far.
    pub fn lines(&self) -> Vec<String> {
        self.process.lines()
    }

    /// The stderr so far (for failure messages), without the line that
    /// carries the demo password.
    pub fn log(&self) -> String {
        self.process
            .lines()
            .into_iter()
            .filter(|l| !l.contains("`demo`, password"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
