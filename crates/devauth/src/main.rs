//! The `devauth` binary: clap wiring of the client, server and token-manager
//! libraries, and nothing else. Each verb lives in its own file under `cmd/`;
//! exit codes are decided in one place, [`exit`].

mod cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the server allocates a little
/// on every request from every worker thread, and glibc's malloc costs it
/// measurably under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Log in from machines that have no browser.
///
/// devauth gets OAuth 2.0 tokens with the device authorization grant (RFC 8628),
/// keeps them safe and fresh, and hands them to scripts; it also runs an
/// authorization server built around that grant.
#[derive(Debug, Parser)]
#[command(name = "devauth", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in to an issuer (device flow by default).
    Login(cmd::WithProfile<cmd::login::Args>),
    /// Print a valid access token, refreshing it first when needed.
    ///
    /// With DEVAUTH_TOKEN set, prints that instead and reads no profile (the CI path).
    Token(cmd::WithProfile<cmd::token::Args>),
    /// Show who is logged in, where, and until when.
    Status(cmd::WithProfile<cmd::status::Args>),
    /// Revoke the tokens at the server and forget them here.
    Logout(cmd::WithProfile<cmd::logout::Args>),
    /// Run a command with a fresh access token in its environment.
    ///
    /// The token goes into DEVAUTH_TOKEN (or --env VAR). Quote the command's
    /// use of it — `devauth run -- sh -c 'curl -H "Authorization: Bearer
    /// $DEVAUTH_TOKEN" URL'` — or your shell expands it before devauth runs.
    /// With DEVAUTH_TOKEN already set, that token is passed on and no profile
    /// is read.
    Run(cmd::WithProfile<cmd::run::Args>),
    /// List profiles and their state.
    Profiles(cmd::WithProfile<cmd::profiles::Args>),
    /// Adopt credentials another tool holds (kiro-cli, AWS SSO).
    Import(cmd::WithProfile<cmd::import::Args>),
    /// Keep every stored credential fresh in the background.
    ///
    /// Refreshes every profile that can be renewed — logins with a refresh
    /// token or client credentials, and imported ones — whose access token
    /// expires within --threshold seconds, at most --concurrency at a time,
    /// each under the profile's lock, so it never races `devauth token`. A
    /// dead refresh token (a permanent failure) is retried once from its
    /// source, then the profile is marked needs-login and left alone; a
    /// network or server failure is retried with exponential backoff. Runs a
    /// pass every --interval seconds until SIGTERM or Ctrl-C.
    ///
    /// Exit status of --once: 0 when every profile is fine, 3 when one needs a
    /// new login, 6 when a refresh server was unreachable or failing.
    #[command(after_long_help = AGENT_EXAMPLES)]
    Agent(cmd::agent::Args),
    /// A git credential helper: hands git a fresh token.
    GitCredential(cmd::WithProfile<cmd::git_credential::Args>),
    /// A kubectl (client-go) exec credential plugin: hands kubectl a fresh token.
    KubectlCredential(cmd::WithProfile<cmd::kubectl_credential::Args>),
    /// Log in to remote MCP servers headlessly, and hand MCP clients the token.
    Mcp(cmd::mcp::Args),
    /// Print shell completions.
    Completions(cmd::completions::Args),
    /// Run the authorization server.
    Serve(WithLogFormat<cmd::serve::Args>),
    /// Manage the server's users, clients and keys.
    Admin(cmd::admin::Args),
    /// Put login in front of an MCP server or HTTP API: only requests with a
    /// valid bearer token for this resource pass.
    Guard(WithLogFormat<cmd::guard::Args>),
}

// Each command's examples, shown after its flags by `--help` (not `-h`).
// Lines stay within 80 columns: clap wraps longer ones without indenting.

const AGENT_EXAMPLES: &str = "\
Examples:
  # One pass, for cron or CI
  $ devauth agent --once

  # In the background, with metrics and a desktop notification
  $ devauth agent --watch --listen 127.0.0.1:9464 \\
      --notify-command 'notify-send \"$DEVAUTH_PROFILE: $DEVAUTH_STATE\"'";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match &cli.command {
        Command::Serve(c) => init_server_logging(c.log_format),
        Command::Guard(c) => init_server_logging(c.log_format),
        _ => init_client_logging(),
    }
    let result = match cli.command {
        Command::Login(c) => cmd::login::run(c.args, &c.profile),
        Command::Token(c) => cmd::token::run(c.args, &c.profile),
        Command::Status(c) => cmd::status::run(c.args, &c.profile),
        Command::Logout(c) => cmd::logout::run(c.args, &c.profile),
        Command::Run(c) => cmd::run::run(c.args, &c.profile),
        Command::Profiles(c) => cmd::profiles::run(c.args, &c.profile),
        Command::Import(c) => cmd::import::run(c.args, &c.profile),
        Command::Agent(args) => cmd::agent::run(args),
        Command::GitCredential(c) => cmd::git_credential::run(c.args, &c.profile),
        Command::KubectlCredential(c) => cmd::kubectl_credential::run(c.args, &c.profile),
        Command::Mcp(args) => cmd::mcp::run(args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Serve(c) => cmd::serve::run(c.args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Guard(c) => cmd::guard::run(c.args),
    };
    exit::report(result)
}

// A server command's own flags, then `--log-format`. (No doc comment: clap
// would take it for the command's description.)
#[derive(Debug, clap::Args)]
struct WithLogFormat<A: clap::Args> {
    #[command(flatten)]
    args: A,
    /// How to write logs on stderr: `text` lines for a person, `json` lines
    /// for a log collector [default: text when stderr is a terminal, else
    /// json].
    #[arg(long, value_enum, env = "DEVAUTH_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<LogFormat>,
}

/// The shape of a server's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One readable line per event: time, level, where, message, fields.
    Text,
    /// One JSON object per event (`timestamp`, `level`, `fields`, `target`).
    Json,
}

/// `serve` and `guard` log events at `info` and above (`DEVAUTH_LOG` is the
/// filter) on stderr, in `format`, or when none is asked for, as text for a
/// person at a terminal and as JSON for anything else (systemd, a container
/// runtime, a pipe). No log event carries a token, code or secret.
///
/// The subscriber is installed here, before the command runs; the commands
/// set up none of their own.
fn init_server_logging(format: Option<LogFormat>) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .with_env_var("DEVAUTH_LOG")
        .from_env_lossy();
    let terminal = std::io::stderr().is_terminal();
    let format = format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => logs.json().try_init(),
        LogFormat::Text => logs.with_ansi(terminal).try_init(),
    };
}

/// Client commands log (to stderr, human-readable) only when `DEVAUTH_LOG`
/// names a filter, e.g. `DEVAUTH_LOG=debug devauth login ...`: no subscriber
/// is built on the fast path otherwise. `serve` and `guard` log through
/// [`init_server_logging`]. No log event carries a token, code or secret.
fn init_client_logging() {
    let Some(wanted) = std::env::var("DEVAUTH_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .parse_lossy(own_first(&wanted));
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .without_time()
        .try_init();
}

/// `DEVAUTH_LOG=debug` means devauth's own events at debug (its HTTP
/// exchanges, refresh decisions), and only warnings from the libraries
/// under it; a filter that names targets (`debug,ureq=trace`) is taken as
/// written.
fn own_first(wanted: &str) -> String {
    let wanted = wanted.trim();
    if wanted.contains('=') || wanted.contains(',') {
        return wanted.to_owned();
    }
    let crates = [
        "devauth",
        "devauth_client",
        "devauth_import",
        "devauth_agent",
        "devauth_server",
        "devauth_guard",
    ];
    let mut filter = String::from("warn");
    for c in crates {
        filter.push_str(&format!(",{c}={wanted}"));
    }
    filter
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_level_is_for_devauth_and_a_filter_is_taken_as_written() {
        let f = super::own_first("debug");
        assert!(
            f.starts_with("warn,") && f.contains(",devauth_client=debug"),
            "{f}"
        );
        assert_eq!(super::own_first("debug,ureq=trace"), "debug,ureq=trace");
    }
}
