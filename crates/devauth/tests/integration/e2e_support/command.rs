//! The real `devauth` binary, with an environment cleaned of every
//! `DEVAUTH_*` variable and of anything that would make it think a browser
//! or a terminal multiplexer is around.

use std::path::Path;
use std::process::Command;

/// `devauth ARGS` with no `DEVAUTH_*` from the test's own environment.
pub fn bare() -> Command {
    devauth_testkit::server::bare_command(crate::devauth_bin())
}

/// A client command: `DEVAUTH_HOME=home`, the file store.
pub fn client(home: &Path) -> Command {
    let mut cmd = bare();
    cmd.env("DEVAUTH_HOME", home).env("DEVAUTH_STORE", "file");
    cmd
}

/// The outcome of a finished command.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to its end and returns what it did.
pub fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("start devauth");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
