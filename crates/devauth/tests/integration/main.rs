//! The integration tests of the `devauth` binary, in one test binary (as
//! ripgrep keeps its `tests/integration/`): one module per area, each
//! driving the real binary as a child process. Run one area with
//! `cargo test -p devauth --test integration -- MODULE::`.
//!
//! Shared plumbing (the skip-or-fail rule for missing services, `devauth
//! serve` as a [`TestServer`], headless Chromium, guarded child processes,
//! kiro fixtures, the refresh server) is in the `devauth-testkit` crate;
//! what only these tests use is in the `*_support` modules here.
//!
//! Every test runs on a thread of this one process, in parallel with the
//! others: none may change process-wide state (environment variables, the
//! current folder, signal handlers); they pass what a child needs to the
//! child's `Command` instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use devauth_testkit::{Serve, TestServer};

mod client_support;
mod e2e_support;
mod replicas_support;

mod agent_cli;
mod client_commands;
mod client_concurrency;
mod client_device_flow;
mod client_interop;
mod client_keyring;
mod client_plugins;
mod client_providers;
mod client_terminal;
mod client_web;
mod e2e_device_flow;
mod import_cli;
mod replicas_faults;
mod replicas_flow;
mod replicas_migrate;
mod replicas_postgres_restart;
mod serve_logs;
mod server_process;
mod slow_clients;

/// The binary under test: `DEVAUTH_TEST_BIN` when set (a copy taken right
/// after building, for machines where several checkouts share one target
/// folder), else the one Cargo built for these tests.
fn devauth_bin() -> PathBuf {
    devauth_testkit::bin_under_test(env!("CARGO_BIN_EXE_devauth"))
}

/// `devauth serve` of the binary under test, to be given options and started.
fn serve() -> Serve {
    Serve::new(devauth_bin())
}

/// `devauth serve ARGS` with `env` in `DEVAUTH_HOME=home`, started and
/// listening (waited for at most `patience`).
fn start_serve(home: &Path, args: &[&str], env: &[(&str, &str)], patience: Duration) -> TestServer {
    let mut serve = serve().home(home).args(args).patience(patience);
    for (name, value) in env {
        serve = serve.env(name, value);
    }
    serve.start()
}
