//! `devauth completions SHELL`: shell completions generated from the same clap
//! definitions as the parser, so they never drift.

use std::process::ExitCode;

use clap::CommandFactory;

/// Flags of `devauth completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

/// Prints the completion script on stdout.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "devauth", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
