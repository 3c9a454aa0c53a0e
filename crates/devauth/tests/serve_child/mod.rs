//! A `devauth serve` child process for the binary-level tests that start
//! servers of their own (`server_process`, the `replicas_*` tests): started
//! in a given `DEVAUTH_HOME` with `DEVAUTH_LOG=warn`, its stderr drained
//! into a transcript for the life of the process (tests check the logs for
//! secrets), its address read from the "listening on" line, and killed on
//! drop. (The browser tests start theirs through `e2e_support`, which also
//! reads the demo password and hides it from failure messages.)

#![allow(dead_code, reason = "each test crate uses a part")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The binary under test: `DEVAUTH_TEST_BIN` when set (a copy, for machines
/// where several checkouts share one target folder), else Cargo's build.
pub fn devauth_bin() -> PathBuf {
    std::env::var_os("DEVAUTH_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_devauth")))
}

/// A running `devauth serve`.
pub struct ServeChild {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServeChild {
    /// Runs `devauth serve ARGS` with `env` in `home` and waits up to
    /// `patience` for it to say where it listens; a server that does not is
    /// killed and the test fails with what it printed.
    pub fn start(home: &Path, args: &[&str], env: &[(&str, &str)], patience: Duration) -> Self {
        let mut child = Command::new(devauth_bin())
            .arg("serve")
            .args(args)
            .env("DEVAUTH_LOG", "warn")
            .envs(env.iter().copied())
            .env("DEVAUTH_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("devauth serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&lines);
        // Keeps draining stderr for the life of the process.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let base = loop {
            let line = match rx.recv_timeout(patience) {
                Ok(line) => line,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "devauth serve did not report its address ({e}): {:?}",
                        lines.lock().unwrap()
                    );
                }
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Self { child, base, lines }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed: {sent:?}");
        self.child.wait().expect("devauth serve exits")
    }

    /// SIGTERM, then waits up to `patience` for the exit; `None` if the
    /// process is still running then (it is killed).
    pub fn terminate_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed: {sent:?}");
        let start = std::time::Instant::now();
        while start.elapsed() < patience {
            if let Some(status) = self.child.try_wait().expect("wait works") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every line the process wrote on stderr so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        self.kill();
    }
}
