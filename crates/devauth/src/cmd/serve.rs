//! `devauth serve` (being built).

use std::process::ExitCode;

/// Flags of `devauth serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`devauth serve` is not available in this build yet")
}
