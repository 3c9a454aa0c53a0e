//! A child process that is killed when the test lets go of it (panics
//! included), and whose stderr is read line by line on a thread, so a test
//! can wait — bounded — for a line while keeping the whole transcript for
//! its failure messages.

use std::io::{BufRead as _, BufReader, Read};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running child, killed and reaped on drop.
pub struct Guarded {
    child: Child,
    lines: Receiver<String>,
    transcript: Arc<Mutex<Vec<String>>>,
    what: String,
}

impl Guarded {
    /// Takes over a child spawned with `stderr(Stdio::piped())`.
    pub fn new(mut child: Child, what: &str) -> Self {
        let stderr = child.stderr.take().expect("the child's stderr is piped");
        let (tx, lines) = channel();
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&transcript);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("transcript lock").push(line.clone());
                // Nobody may be waiting for lines any more; keep recording.
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            transcript,
            what: what.to_owned(),
        }
    }

    /// Everything the child wrote on stderr so far, one line each.
    pub fn lines(&self) -> Vec<String> {
        self.transcript.lock().expect("transcript lock").clone()
    }

    /// Everything the child wrote on stderr so far.
    pub fn transcript(&self) -> String {
        self.transcript.lock().expect("transcript lock").join("\n")
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child still runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("ask whether the child runs")
            .is_none()
    }

    /// SIGKILL (no chance to flush or clean up), and reaps the child.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        self.child.wait().expect("wait for the child")
    }

    /// SIGTERM, then waits up to `patience` for the exit; `None` if the
    /// child is still running then (it is killed).
    pub fn terminate_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        self.sigterm();
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    fn sigterm(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {} failed: {sent:?}", self.what);
    }

    /// Waits (at most `limit`) for a stderr line for which `pick` returns
    /// something, and returns that.
    pub fn wait_for_line<T>(
        &mut self,
        limit: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = pick(&line) {
                        return found;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} did not print the expected line within {limit:?}; stderr so far:\n{}",
                    self.what,
                    self.transcript()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "{} closed stderr (exit {status:?}) before printing the expected line; stderr:\n{}",
                        self.what,
                        self.transcript()
                    )
                }
            }
        }
    }

    /// Waits (at most `limit`) for the child to exit; returns its status and
    /// stdout, and the stderr transcript once the reader has drained it.
    pub fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after {limit:?}; stderr so far:\n{}",
                self.what,
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout)
                .expect("read the child's stdout");
        }
        // The reader thread ends at EOF, which follows the exit; drain it (bounded).
        while let Ok(_line) = self.lines.recv_timeout(Duration::from_secs(5)) {}
        (status, stdout, self.transcript())
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
