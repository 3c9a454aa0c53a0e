//! The real `devauth` binary, with an environment cleaned of every
//! `DEVAUTH_*` variable and of anything that would make it think a browser
//! or a terminal multiplexer is around.

use std::path::Path;
use std::process::{Command, Stdio};

/// `devauth ARGS` with no `DEVAUTH_*` from the test's own environment.
pub fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_devauth"));
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
