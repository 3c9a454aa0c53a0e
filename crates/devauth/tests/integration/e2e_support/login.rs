//! `devauth login --issuer URL --no-qr` as a child process: the test reads
//! the login screen on its stderr (verification URI and user code) while the
//! command polls, then waits for it to end.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use devauth_testkit::Guarded;

use super::command;

/// How long the login screen may take to appear.
const SCREEN_LIMIT: Duration = Duration::from_secs(60);
/// How long `login` may take to notice the decision and exit.
const EXIT_LIMIT: Duration = Duration::from_secs(120);

/// What the login screen asks the person to do.
#[derive(Debug, Clone)]
pub struct Screen {
    pub verification_uri: String,
    pub user_code: String,
}

/// A running `devauth login`.
pub struct Login {
    process: Guarded,
}

/// How `devauth login` ended.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Login {
    /// Starts the device flow against `issuer` with the given scopes.
    pub fn start(home: &Path, issuer: &str, scopes: &[&str]) -> Self {
        let mut cmd = command::client(home);
        cmd.args(["login", "--issuer", issuer, "--no-qr"]);
        for scope in scopes {
            cmd.args(["--scope", scope]);
        }
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start devauth login");
        Self {
            process: Guarded::new(child, "devauth login"),
        }
    }

    /// Starts any command that shows the login screen (`devauth mcp login URL`).
    pub fn start_command(home: &Path, args: &[&str]) -> Self {
        let child = command::client(home)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start devauth");
        Self {
            process: Guarded::new(child, "devauth"),
        }
    }

    /// Reads the URL `--web --no-browser` asks to open (the indented line
    /// after "Open this URL").
    pub fn url_to_open(&mut self) -> String {
        let mut next_is_url = false;
        self.process.wait_for_line(SCREEN_LIMIT, |line| {
            if next_is_url && !line.trim().is_empty() {
                return Some(line.trim().to_owned());
            }
            next_is_url |= line.contains("Open this URL");
            None
        })
    }

    /// Reads the login screen: the indented line after "open this page" is
    /// the verification URI, "and enter the code X" gives the code.
    pub fn screen(&mut self) -> Screen {
        let mut next_is_uri = false;
        let verification_uri = self.process.wait_for_line(SCREEN_LIMIT, |line| {
            if next_is_uri && !line.trim().is_empty() {
                return Some(line.trim().to_owned());
            }
            next_is_uri |= line.contains("open this page");
            None
        });
        let user_code = self.process.wait_for_line(SCREEN_LIMIT, |line| {
            line.split_once("enter the code ")
                .map(|(_, code)| code.trim().to_owned())
        });
        Screen {
            verification_uri,
            user_code,
        }
    }

    /// Waits for the command to end.
    pub fn wait(mut self) -> Ended {
        let (status, stdout, stderr) = self.process.wait_exit(EXIT_LIMIT);
        Ended {
            status,
            stdout,
            stderr,
        }
    }
}
