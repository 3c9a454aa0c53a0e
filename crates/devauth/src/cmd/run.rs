//! `devauth run [--env VAR] -- CMD ARGS...`: runs CMD with a fresh access
//! token in `VAR` (default `DEVAUTH_TOKEN`) and exits with CMD's status
//! (128 + N when CMD was killed by signal N). With `DEVAUTH_TOKEN` set in
//! devauth's own environment the store is not touched.

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use crate::exit::UsageError;

/// Flags of `devauth run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment variable that receives the token.
    #[arg(long = "env", value_name = "VAR", default_value = "DEVAUTH_TOKEN")]
    pub env: String,
    /// Allow --env to replace PATH, HOME and the like.
    #[arg(long)]
    pub force: bool,
    /// Refresh first when the token expires within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_ttl: u64,
    /// The command and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

/// Variables `--env` does not replace without `--force`: the command (or
/// the shell it starts) needs them to work.
const PROTECTED: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "USER",
    "LOGNAME",
    "PWD",
    "IFS",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_LIBRARY_PATH",
    "TMPDIR",
    "LANG",
    "TERM",
];

/// Runs the command.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    let name = &args.env;
    let well_formed = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err(UsageError(format!(
            "--env `{name}` is not a variable name (letters, digits and _, not starting with a digit)"
        ))
        .into());
    }
    if PROTECTED.contains(&name.as_str()) && !args.force {
        return Err(UsageError(format!(
            "--env {name} would replace a variable the command needs to run; pick another name, \
             or add --force if you mean it"
        ))
        .into());
    }
    let token = super::token::access_token(profile_arg.name(), args.min_ttl)?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| UsageError("no command given; use `devauth run -- CMD ARGS...`".into()))?;
    let status = Command::new(program)
        .args(rest)
        .env(&args.env, &token)
        .status();
    if let Err(e) = &status {
        eprintln!("error: cannot run {}: {e}", program.to_string_lossy());
    }
    Ok(crate::exit::for_child(&status))
}
