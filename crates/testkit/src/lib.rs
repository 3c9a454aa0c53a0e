//! Test plumbing shared by the integration tests of the devauth crates (the
//! `devauth` binary, `devauth-import`, `devauth-agent`, `devauth-guard`), in
//! the way rustls keeps its helpers in `rustls-test`: never published, never
//! a dependency of shipped code.
//!
//! What lives here:
//!
//! - [`require_service`]: the one rule for tests that need something outside
//!   Cargo (PostgreSQL, Redis, Chromium, node, tmux, python packages…): when
//!   it is missing the test prints `SKIPPED: …` and passes, unless
//!   `DEVAUTH_REQUIRE_SERVICES=1` (CI), when it fails;
//! - [`Guarded`]: a child process killed on drop, whose stderr is kept as a
//!   transcript and can be waited on line by line;
//! - [`TestServer`]: the real `devauth serve` as a child process, started
//!   through [`Serve`] and waited for until it says where it listens;
//! - [`Browser`]: headless Chromium driven by node and playwright-core
//!   (`tests/browser/approve.mjs` at the workspace root), and [`Node`] for
//!   the scripts that drive the npm interop peers;
//! - [`fixtures`] (kiro-cli databases, AWS SSO cache files) and
//!   [`refresh_server`] (a local refresh endpoint in three wire formats);
//! - `store_suite` (feature `store`, which pulls in `devauth-server`): the
//!   storage conformance suite every backend combination must pass, and the
//!   private PostgreSQL schemas and Redis prefixes tests open stores in.
//!
//! This crate does not depend on the `devauth` binary crate: the binary's
//! path is passed in (`env!("CARGO_BIN_EXE_devauth")` exists only in the
//! binary's own tests; see [`bin_under_test`]).

pub mod browser;
pub mod child;
pub mod fixtures;
pub mod node;
pub mod refresh_server;
pub mod server;
#[cfg(feature = "store")]
pub mod store_suite;

use std::path::{Path, PathBuf};

pub use browser::{Browser, Choice};
pub use child::Guarded;
pub use node::Node;
pub use server::{Serve, TestServer};

/// The variable that turns a missing service from a skip into a failure.
pub const REQUIRE_SERVICES: &str = "DEVAUTH_REQUIRE_SERVICES";

/// Whether `DEVAUTH_REQUIRE_SERVICES=1`: a missing service fails the test.
pub fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES).as_deref() == Ok("1")
}

/// Whether a test that needs `what` can go on: `why_missing` is `None` when
/// `what` is there. When it is missing this prints `SKIPPED: WHAT: WHY` and
/// returns `false` (the test returns and passes), or panics under
/// `DEVAUTH_REQUIRE_SERVICES=1`.
///
/// ```
/// # let have_tmux = true;
/// if !devauth_testkit::require_service("tmux", (!have_tmux).then_some("not installed")) {
///     return;
/// }
/// ```
#[track_caller]
pub fn require_service(what: &str, why_missing: Option<&str>) -> bool {
    let Some(why) = why_missing else {
        return true;
    };
    assert!(
        !services_required(),
        "{what} is required ({REQUIRE_SERVICES}=1) but {why}"
    );
    eprintln!("SKIPPED: {what}: {why}");
    false
}

/// The `devauth` binary under test: `DEVAUTH_TEST_BIN` when set (a copy, for
/// machines where several checkouts share one target folder), else
/// `cargo_built`, which the caller passes as `env!("CARGO_BIN_EXE_devauth")`.
pub fn bin_under_test(cargo_built: &str) -> PathBuf {
    std::env::var_os("DEVAUTH_TEST_BIN").map_or_else(|| PathBuf::from(cargo_built), PathBuf::from)
}

/// The workspace root (where `node_modules/` and `tests/browser/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tool` found in a folder of `PATH`.
pub fn on_path(tool: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Whether `program ARGS` runs and exits with success (`git --version`,
/// `python3 -c 'import botocore'`).
pub fn runs_ok(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cmd` to its end with `input` on its stdin, stdout and stderr
/// captured (`admin user add --password-stdin`, `login --with-token`).
pub fn run_with_stdin(cmd: &mut std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    // A command that exits without reading its input closes the pipe: its
    // exit status, not the write, is what the caller wants to see.
    let _ = child.stdin.take().expect("stdin is piped").write_all(input);
    child.wait_with_output().expect("wait for the command")
}
