//! `devauth admin` (being built).

use std::process::ExitCode;

/// Flags of `devauth admin`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`devauth admin` is not available in this build yet")
}
