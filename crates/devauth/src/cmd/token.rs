//! `devauth token [--min-ttl SECONDS]`: prints a valid access token on stdout
//! and nothing else, refreshing it first when it expires within `--min-ttl`.
//!
//! With `DEVAUTH_TOKEN` set, prints that and touches no store (the CI path).
//! When the stored token is still good this reads one file: no lock, no HTTP
//! client, no runtime.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use devauth_client::clock::SystemClock;
use devauth_client::session::fresh_access_token;

use devauth_client::ProfileStore;

/// Flags of `devauth token`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Refresh first when the token expires within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_ttl: u64,
}

/// The environment variable that short-circuits the store.
pub const TOKEN_ENV: &str = "DEVAUTH_TOKEN";

/// A token from `DEVAUTH_TOKEN`, when set and not empty.
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
}

/// A valid access token for the profile: `DEVAUTH_TOKEN`, or the store.
pub fn access_token(profile: &str, min_ttl: u64) -> anyhow::Result<String> {
    if let Some(t) = token_from_env() {
        return Ok(t.trim().to_owned());
    }
    let store = store_for_reading()?;
    let p = fresh_access_token(
        &store,
        profile,
        Duration::from_secs(min_ttl),
        &SystemClock,
        &devauth_import::renewer::AnyRenewer::from_env(),
    )?;
    Ok(p.tokens.access_token.expose().to_owned())
}

/// Prints the token.
pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let token = access_token(global.profile(), args.min_ttl)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{token}")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The credential store, without creating folders (for readers).
pub fn store_for_reading() -> Result<ProfileStore, devauth_client::StoreError> {
    devauth_client::store::home::check_backend()?;
    Ok(ProfileStore::at(&devauth_client::store::home::data_home()?))
}
