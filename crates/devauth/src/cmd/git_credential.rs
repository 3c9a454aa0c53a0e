//! `devauth git-credential get|store|erase`: a git credential helper
//! (gitcredentials(7)), so git fetches and pushes with a fresh token:
//!
//! ```sh
//! git config --global credential.https://git.example.com.helper \
//!     '!devauth git-credential --profile work'
//! ```
//!
//! `get` answers `username` and `password` (a fresh access token, refreshed
//! under the profile's lock when needed) with `password_expiry_utc`; when git
//! announces `capability[]=authtype` (git 2.46+) it answers
//! `authtype=Bearer` and `credential` instead, so the token goes out as a
//! bearer token. `store` and `erase` do nothing: devauth owns the
//! credential. A profile that needs a login makes git stop (`quit=1`) with a
//! message naming the command to run — git never falls back to a prompt
//! that would hang a headless session.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use crate::exit::UsageError;

/// Flags of `devauth git-credential`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What git asks: get, store or erase (git passes it).
    #[arg(value_name = "OPERATION")]
    pub operation: String,
    /// The user name to answer with the token (GitHub accepts any; GitLab
    /// wants `oauth2`).
    #[arg(long, default_value = "x-access-token", value_name = "NAME")]
    pub username: String,
}

/// Answers git.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    match args.operation.as_str() {
        "get" => {}
        // devauth keeps the credential; git's idea of storing or erasing
        // it changes nothing here.
        "store" | "erase" => {
            drain_stdin();
            return Ok(ExitCode::SUCCESS);
        }
        other => {
            return Err(UsageError(format!(
                "unknown operation {other:?}: git calls this with get, store or erase"
            ))
            .into());
        }
    }
    let request = read_request();
    let bearer = request
        .iter()
        .any(|(k, v)| k == "capability[]" && v == "authtype");
    let mut out = std::io::stdout().lock();
    let fresh = match super::token::fresh(profile_arg.name(), 60) {
        Ok(fresh) => fresh,
        Err(e) => {
            // Stop git here: no other helper, no terminal prompt.
            writeln!(out, "quit=1")?;
            out.flush()?;
            eprintln!(
                "devauth: no token for git ({e:#}); run `devauth login --profile {}`",
                profile_arg.name()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    if bearer {
        writeln!(out, "capability[]=authtype")?;
        writeln!(out, "authtype=Bearer")?;
        writeln!(out, "credential={}", fresh.token)?;
    } else {
        writeln!(out, "username={}", args.username)?;
        writeln!(out, "password={}", fresh.token)?;
    }
    if let Some(at) = fresh.expires_at {
        writeln!(out, "password_expiry_utc={}", at.unix_timestamp())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The `key=value` lines git sends, up to a blank line or the end.
fn read_request() -> Vec<(String, String)> {
    let stdin = std::io::stdin();
    let mut pairs = Vec::new();
    for line in stdin.lock().lines().map_while(Result::ok) {
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once('=') {
            pairs.push((k.to_owned(), v.to_owned()));
        }
    }
    pairs
}

fn drain_stdin() {
    let _ = read_request();
}
