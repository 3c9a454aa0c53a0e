//! `devauth mcp`: headless login for MCP clients.
//!
//! - [`login`]: `devauth mcp login URL` finds the MCP server's authorization
//!   server from the server itself, registers a client when needed, and
//!   logs in with the device grant for that resource;
//! - [`headers`]: `devauth mcp headers URL` prints the headers an MCP
//!   client's header helper wants (`{"Authorization": "Bearer …"}`), with a
//!   token refreshed as needed;
//! - [`proxy`]: `devauth mcp proxy URL` bridges stdio to the server.
//!
//! An MCP login is an ordinary profile (`status`, `profiles`, `logout` see
//! it) whose `extra.mcp` records the server's URL and resource
//! ([`devauth_client::mcp::EXTRA_KEY`]).

pub mod headers;
pub mod login;
pub mod proxy;

use std::process::ExitCode;

/// Flags of `devauth mcp`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// Profile that holds the MCP login [default: the one `mcp login`
    /// made for this URL, named after the server: mcp-HOST or
    /// mcp-HOST-PORT].
    #[arg(
        long = "profile",
        global = true,
        env = "DEVAUTH_PROFILE",
        value_name = "NAME"
    )]
    profile: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Log in to a remote MCP server (device flow; the server names its
    /// authorization server).
    Login(login::Args),
    /// Print the HTTP headers for an MCP server as JSON, with a fresh token
    /// (for MCP clients that take a header helper).
    Headers(headers::Args),
    /// Bridge stdio (newline-delimited JSON-RPC) to the MCP server, adding
    /// a fresh token to every request (for stdio-only MCP clients).
    Proxy(proxy::Args),
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let chosen = args.profile.as_deref();
    match args.command {
        Command::Login(a) => login::run(a, chosen),
        Command::Headers(a) => headers::run(a, chosen),
        Command::Proxy(a) => proxy::run(a, chosen),
    }
}

/// The profile name an MCP server's login gets unless `--profile` names
/// one: `mcp-HOST[-PORT]`, lower-case, within the profile-name rules.
pub fn default_profile(url: &str) -> String {
    let parsed = url::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
        .unwrap_or_else(|| "server".into());
    let mut name = format!("mcp-{host}");
    if let Some(port) = parsed.as_ref().and_then(url::Url::port) {
        name.push_str(&format!("-{port}"));
    }
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_names_follow_the_host() {
        assert_eq!(
            super::default_profile("https://tools.example.com/mcp"),
            "mcp-tools.example.com"
        );
        assert_eq!(
            super::default_profile("http://127.0.0.1:8443/mcp"),
            "mcp-127.0.0.1-8443"
        );
        assert_eq!(super::default_profile("http://[::1]:9/x"), "mcp---1-9");
    }
}
