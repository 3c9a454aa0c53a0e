//! `devauth mcp`: headless login for MCP clients.
//!
//! - [`login`]: `devauth mcp login URL` finds the MCP server's authorization
//!   server from the server itself, registers a client when needed, and
//!   logs in with the device grant for that resource;
//! - [`headers`]: `devauth mcp headers URL` prints the headers an MCP
//!   client's header helper wants (`{"Authorization": "Bearer …"}`), with a
//!   token refreshed as needed;
//! - [`proxy`]: `devauth mcp proxy URL` bridges stdio to the server;
//! - `profile`: which profile holds the login for a URL.
//!
//! An MCP login is an ordinary profile (`status`, `profiles`, `logout` see
//! it) whose `extra.mcp` records the server's URL and resource
//! ([`devauth_client::mcp::EXTRA_KEY`]).

pub mod headers;
pub mod login;
mod profile;
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
    ///
    /// Sends the MCP server an `initialize` without a token and follows its
    /// 401 (or its RFC 9728 metadata) to the authorization server, which must
    /// offer PKCE S256. The client id is --client-id, else
    /// --client-metadata-url where the server takes metadata documents, else
    /// a public client registered there (RFC 7591) and kept for next time.
    /// It then logs in with the device flow, naming the server as `resource`
    /// on every request; with --web, or when the authorization server has no
    /// device grant, in a browser on this machine instead. The login is a
    /// profile named
    /// mcp-HOST or mcp-HOST-PORT unless --profile names one; run it again to
    /// log in again.
    #[command(after_long_help = "\
Examples:
  $ devauth mcp login https://tools.example.com/mcp
  # A second account for the same server
  $ devauth mcp login https://tools.example.com/mcp --profile work")]
    Login(login::Args),
    /// Print the HTTP headers for an MCP server as JSON, with a fresh token
    /// (for MCP clients that take a header helper).
    ///
    /// Prints `{"Authorization":"Bearer ..."}` on stdout for the login
    /// `devauth mcp login URL` made, refreshed first when it expires within
    /// --min-ttl seconds. Without a usable login it exits 3 and names the
    /// command to run; it never prompts.
    #[command(after_long_help = "\
Examples:
  $ devauth mcp headers https://tools.example.com/mcp
  # In Claude Code's .mcp.json
  \"headersHelper\": \"devauth mcp headers https://tools.example.com/mcp\"")]
    Headers(headers::Args),
    /// Bridge stdio (newline-delimited JSON-RPC) to the MCP server, adding
    /// a fresh token to every request (for stdio-only MCP clients).
    ///
    /// The MCP client starts it as a stdio server: each JSON-RPC line on stdin
    /// is sent to URL (Streamable HTTP) with the login's token, refreshed when
    /// it expires within a minute and at once after a 401; answers, streamed
    /// events included, come back one line each on stdout. Without a login it
    /// runs without a token, and a server that wants one gets each request
    /// answered with a JSON-RPC error naming the command to run. Diagnostics
    /// go to stderr.
    #[command(after_long_help = "\
Examples:
  $ claude mcp add tools -- devauth mcp proxy https://tools.example.com/mcp
  # In an MCP client's JSON configuration
  {\"command\": \"devauth\",
   \"args\": [\"mcp\", \"proxy\", \"https://tools.example.com/mcp\"]}")]
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
