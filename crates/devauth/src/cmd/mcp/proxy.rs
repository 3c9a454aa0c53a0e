//! `devauth mcp proxy URL`: the stdio ↔ Streamable HTTP bridge
//! (`devauth_client::mcp_proxy`) with the MCP login of that URL as its
//! token source (none when there is no login: a server without auth still
//! works, and one that wants a login gets each request answered with a
//! JSON-RPC error naming the command to run). For an MCP client's config:
//! `{"command": "devauth", "args": ["mcp", "proxy", "https://tools.example.com/mcp"]}`.

use std::process::ExitCode;
use std::time::Duration;

use devauth_client::ProfileStore;
use devauth_client::clock::SystemClock;
use devauth_client::mcp_proxy::{self, TokenSource};
use devauth_client::session::fresh_access_token;

use super::profile::{default_profile, login_command, profile_for};

/// Flags of `devauth mcp proxy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP server's URL, as given to `devauth mcp login`.
    #[arg(value_name = "URL")]
    pub url: String,
}

/// Tokens from a profile: refreshed when they expire within a minute, or
/// at once when the server refused the last one. The store is opened once
/// (opening it probes for a keyring over D-Bus); every request still reads
/// the profile, so a login or refresh by another process is seen at once.
struct Profile {
    name: String,
    url: String,
    store: ProfileStore,
}

impl TokenSource for Profile {
    fn login_hint(&self) -> String {
        format!(
            "not logged in to {} (profile `{}`): run `{}` in a terminal",
            self.url,
            self.name,
            login_command(&self.url, &self.name)
        )
    }

    fn step_up_hint(&self, scope: &str) -> String {
        // What the login has, plus what the server asks for.
        let mut all: Vec<String> = self
            .store
            .load(&self.name)
            .ok()
            .flatten()
            .map(|p| p.scopes)
            .unwrap_or_default();
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            if !all.iter().any(|a| a == s) {
                all.push(s.to_owned());
            }
        }
        let flags: String = all.iter().map(|s| format!(" --scope {s}")).collect();
        format!(
            "the MCP server needs more scopes ({scope}): run `{}{flags}` in a terminal",
            login_command(&self.url, &self.name)
        )
    }

    fn token(&self, force: bool) -> Result<Option<String>, devauth_client::Error> {
        // A minimum lifetime longer than any token forces a refresh.
        let min_ttl = if force {
            Duration::from_secs(10 * 365 * 86_400)
        } else {
            Duration::from_secs(60)
        };
        match fresh_access_token(
            &self.store,
            &self.name,
            min_ttl,
            &SystemClock,
            &devauth_import::renewer::AnyRenewer::from_env(),
        ) {
            Ok(p) => Ok(Some(p.tokens.access_token.expose().to_owned())),
            // No login (or a dead one): go without a token; a server that
            // wants one gets the client told what to run.
            Err(
                devauth_client::Error::NotLoggedIn { .. }
                | devauth_client::Error::NeedsLogin { .. },
            ) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Runs the command.
pub fn run(args: Args, chosen: Option<&str>) -> anyhow::Result<ExitCode> {
    let name = match chosen {
        Some(n) => n.to_owned(),
        None => profile_for(&args.url)?.unwrap_or_else(|| default_profile(&args.url)),
    };
    let source = Profile {
        name: name.clone(),
        url: args.url.clone(),
        store: ProfileStore::open_default()?,
    };
    if source.token(false)?.is_none() {
        eprintln!(
            "devauth mcp proxy: {}; going on without a token.",
            source.login_hint()
        );
    }
    let stdin = std::io::stdin();
    mcp_proxy::run(
        &args.url,
        Box::new(source),
        stdin.lock(),
        Box::new(std::io::stdout()),
    )?;
    Ok(ExitCode::SUCCESS)
}
