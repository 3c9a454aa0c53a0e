//! `devauth token [--min-ttl SECONDS] [--format raw|json|header|env]`:
//! prints a valid access token on stdout and nothing else, refreshing it
//! first when it expires within `--min-ttl`. `--format` gives other shapes of
//! the same token for scripts: `json` (with expiry and scopes), `header`
//! (`Authorization: Bearer …`), `env` (`DEVAUTH_TOKEN=…`, for `eval`).
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
    /// How to print it: the token alone, JSON with expiry and scopes, an
    /// HTTP header line, or a shell assignment. DEVAUTH_TOKEN, when set, is
    /// printed instead of anything stored.
    #[arg(long, value_enum, default_value_t = Format::Raw)]
    pub format: Format,
}

/// The shapes `devauth token` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The token alone.
    Raw,
    /// `{"access_token", "token_type", "expires_at", "expires_in", "scopes", "profile"}`.
    Json,
    /// `Authorization: Bearer <token>`.
    Header,
    /// `DEVAUTH_TOKEN=<token>` (shell-quoted), for `eval "$(devauth token --format env)"`.
    Env,
}

/// A valid access token and what is known of it.
#[derive(Debug)]
pub struct Fresh {
    /// The token.
    pub token: String,
    /// When it expires, if known.
    pub expires_at: Option<time::OffsetDateTime>,
    /// Its scopes, if known.
    pub scopes: Vec<String>,
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
    fresh(profile, min_ttl).map(|f| f.token)
}

/// A valid access token for the profile, with its expiry and scopes.
pub fn fresh(profile: &str, min_ttl: u64) -> anyhow::Result<Fresh> {
    if let Some(t) = token_from_env() {
        return Ok(Fresh {
            token: t.trim().to_owned(),
            expires_at: None,
            scopes: Vec::new(),
        });
    }
    let store = store_for_reading()?;
    let p = fresh_access_token(
        &store,
        profile,
        Duration::from_secs(min_ttl),
        &SystemClock,
        &devauth_import::renewer::AnyRenewer::from_env(),
    )?;
    Ok(Fresh {
        token: p.tokens.access_token.expose().to_owned(),
        expires_at: p.tokens.expires_at,
        scopes: p.scopes,
    })
}

/// Prints the token.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    let fresh = fresh(profile_arg.name(), args.min_ttl)?;
    let text = match args.format {
        Format::Raw => fresh.token,
        Format::Header => format!("Authorization: Bearer {}", fresh.token),
        Format::Env => format!("{TOKEN_ENV}={}", shell_quote(&fresh.token)),
        Format::Json => {
            let now = time::OffsetDateTime::now_utc();
            let expires_at = fresh.expires_at.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
            let expires_in = fresh.expires_at.map(|t| (t - now).whole_seconds().max(0));
            serde_json::json!({
                "access_token": fresh.token,
                "token_type": "Bearer",
                "expires_at": expires_at,
                "expires_in": expires_in,
                "scopes": fresh.scopes,
                "profile": if token_from_env().is_some() { None } else { Some(profile_arg.name()) },
            })
            .to_string()
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `value` in single quotes for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The credential store, without creating folders (for readers).
pub fn store_for_reading() -> Result<ProfileStore, devauth_client::StoreError> {
    devauth_client::store::check_backend()?;
    Ok(ProfileStore::at(&devauth_client::store::home::data_home()?))
}
