//! `devauth import` (being built).

use std::process::ExitCode;

/// Flags of `devauth import`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args, _global: &super::Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`devauth import` is not available in this build yet")
}
