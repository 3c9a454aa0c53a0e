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
///
/// Run `devauth COMMAND --help` for what a command does, its flags and
/// examples (`-h` gives the short form).
#[derive(Debug, Parser)]
#[command(name = "devauth", version, after_long_help = TOP_LEVEL_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `devauth --help` ends with: a first use, then what applies to
/// every command.
const TOP_LEVEL_HELP: &str = "\
Examples:
  # Log in from a machine without a browser, then use the token
  $ devauth login --issuer https://auth.example.com
  $ curl -H \"$(devauth token --format header)\" https://api.example.com/me

  # Try it on one machine: a server with a demo user (in another terminal)
  $ devauth serve --demo

Environment:
  DEVAUTH_HOME     one folder for all client settings and credentials
                   [default: $XDG_DATA_HOME/devauth or ~/.local/share/devauth]
  DEVAUTH_PROFILE  the profile client commands use [default: default]
  DEVAUTH_TOKEN    a token for token, run, git-credential and kubectl-credential
                   to hand out instead of any profile's (CI)
  DEVAUTH_STORE    keyring or file: where credentials are kept [default: the OS
                   keyring when one answers, else a 0600 file]
  DEVAUTH_LOG      a log filter, e.g. debug (logs go to stderr, never a secret)

Exit status:
  0    success
  1    an unexpected error
  2    wrong flags or arguments
  3    not logged in, or a new login is needed
  4    the request was denied
  5    the code expired before it was approved
  6    the server could not be reached or is failing
  130  interrupted (Ctrl-C)
  `devauth run` exits with its command's status.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in to an issuer (device flow by default).
    ///
    /// By default devauth uses the device flow (RFC 8628): it shows a link, a
    /// short code and a QR code on stderr; open the link on any device that
    /// has a browser (your phone, your laptop), enter the code and approve.
    /// Nothing has to reach this machine, so it works over SSH, in containers
    /// and on servers. The tokens are kept as a profile (--profile, default
    /// `default`), and `devauth token` hands them out, refreshed.
    ///
    /// --web logs in with a browser on this machine instead (authorization
    /// code + PKCE on a loopback redirect), and falls back to the device flow
    /// when no browser can open. Without a person: --with-token stores a token
    /// piped on stdin, and --client-credentials logs a service account in with
    /// a secret from DEVAUTH_CLIENT_SECRET or stdin.
    ///
    /// Endpoints come from the issuer's discovery document; the --*-endpoint
    /// flags override it. --provider knows the quirks of GitHub, Google,
    /// Microsoft Entra ID, GitLab and AWS IAM Identity Center. On a profile
    /// that exists, `devauth login` with no --issuer logs in again where it
    /// did.
    ///
    /// Exit status: 0 logged in; 2 wrong flags; 4 the request was denied; 5
    /// the code expired before anyone approved it; 6 the issuer could not be
    /// reached or is failing.
    #[command(after_long_help = LOGIN_EXAMPLES)]
    Login(cmd::WithProfile<cmd::login::Args>),
    /// Print a valid access token, refreshing it first when needed.
    ///
    /// Prints the profile's access token on stdout and nothing else, so it
    /// fits in `$(...)`. A token that expires within --min-ttl seconds is
    /// refreshed first, under the profile's lock; while it is good, devauth
    /// reads one file and sends no request. --format prints other shapes of
    /// the same token.
    ///
    /// With DEVAUTH_TOKEN set, prints that instead and reads no profile (the CI path).
    ///
    /// Exit status: 0 with the token on stdout; 3 when the profile is not
    /// logged in or needs a new login; 6 when a refresh was needed and the
    /// server could not be reached or is failing.
    #[command(after_long_help = TOKEN_EXAMPLES)]
    Token(cmd::WithProfile<cmd::token::Args>),
    /// Show who is logged in, where, and until when.
    ///
    /// Shows the profile's issuer, account, client, scopes, how the login was
    /// made, how long the access token stays valid, whether there is a
    /// refresh token, what `devauth agent` last did with it, and where it is
    /// stored. Never prints a token.
    ///
    /// Exit status: 0 when the profile is usable; 3 when it is not logged in
    /// or needs a new login (with --json, the JSON is printed either way).
    #[command(after_long_help = STATUS_EXAMPLES)]
    Status(cmd::WithProfile<cmd::status::Args>),
    /// Revoke the tokens at the server and forget them here.
    ///
    /// Revokes the refresh and access tokens (RFC 7009) when the issuer
    /// publishes a revocation endpoint (for AWS, ends the access portal
    /// session), then deletes the profile. An issuer without one (GitHub)
    /// leaves the tokens valid until they expire; logout says so. When the
    /// server cannot be reached, nothing is forgotten, so you can try again
    /// (exit 6); --no-revoke forgets the tokens without asking the server.
    /// Logging out of a profile that does not exist does nothing.
    #[command(after_long_help = LOGOUT_EXAMPLES)]
    Logout(cmd::WithProfile<cmd::logout::Args>),
    /// Run a command with a fresh access token in its environment.
    ///
    /// The token goes into DEVAUTH_TOKEN (or --env VAR). Quote the command's
    /// use of it — `devauth run -- sh -c 'curl -H "Authorization: Bearer
    /// $DEVAUTH_TOKEN" URL'` — or your shell expands it before devauth runs.
    /// With DEVAUTH_TOKEN already set, that token is passed on and no profile
    /// is read.
    ///
    /// Exit status: the command's own (128 + N when signal N ended it, 127
    /// when it was not found, 126 when it could not be run); when there is no
    /// token to give it, the command does not run and devauth exits as
    /// `devauth token` would (3 not logged in, 6 server unreachable).
    #[command(after_long_help = RUN_EXAMPLES)]
    Run(cmd::WithProfile<cmd::run::Args>),
    /// List profiles and their state.
    ///
    /// One line per stored profile: its name, state (`active` or
    /// `needs-login`), account, issuer and how long its access token stays
    /// valid. The current profile (--profile, else DEVAUTH_PROFILE, else
    /// `default`) is marked `*`. Never prints a token.
    #[command(after_long_help = PROFILES_EXAMPLES)]
    Profiles(cmd::WithProfile<cmd::profiles::Args>),
    /// Adopt credentials another tool holds (kiro-cli, AWS SSO).
    ///
    /// Turns a login that kiro-cli (or the Amazon Q CLI) or `aws sso login`
    /// already made into a devauth profile, without logging in again; `devauth
    /// token`, `run` and `status` then use it like any other profile, and
    /// `devauth agent` keeps it fresh.
    ///
    /// Refresh tokens rotate, so an adopted login gets one refresher: with
    /// --mode follow (the default) devauth writes each refresh back into the
    /// other tool's copy, and both tools keep working; with --mode own devauth
    /// refreshes a copy of its own, and the other tool will have to log in
    /// again.
    ///
    /// Nothing is written when the source looks wrong. Exit status: 0
    /// imported; 3 when the source holds no usable login (log in with that
    /// tool first); 2 when the profile holds a login of devauth's own, or the
    /// AWS cache holds several logins and none was picked; 1 otherwise.
    #[command(after_long_help = IMPORT_EXAMPLES)]
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
    ///
    /// git runs it with `get`, `store` or `erase` and the request on stdin
    /// (gitcredentials(7)); you set it up once in git's configuration. `get`
    /// answers with the profile's access token as the password (refreshed
    /// when it expires within a minute), or as a bearer credential when git
    /// (2.46+) offers that. `store` and `erase` do nothing: devauth keeps the
    /// credential. Without a usable login it tells git to stop (`quit=1`)
    /// instead of prompting, and names the command to run.
    #[command(after_long_help = GIT_CREDENTIAL_EXAMPLES)]
    GitCredential(cmd::WithProfile<cmd::git_credential::Args>),
    /// A kubectl (client-go) exec credential plugin: hands kubectl a fresh token.
    ///
    /// Prints an ExecCredential (client.authentication.k8s.io/v1, or v1beta1
    /// when KUBERNETES_EXEC_INFO asks for it) holding the profile's access
    /// token, refreshed when it expires within a minute, and its expiry, so
    /// kubectl asks again in time. It never starts a login inside kubectl:
    /// without a usable login it exits 3 and names the command to run.
    #[command(after_long_help = KUBECTL_CREDENTIAL_EXAMPLES)]
    KubectlCredential(cmd::WithProfile<cmd::kubectl_credential::Args>),
    /// Log in to remote MCP servers headlessly, and hand MCP clients the token.
    ///
    /// `devauth mcp login URL` finds the authorization server an MCP server
    /// names (RFC 9728), registers a client there when needed, and logs in
    /// with the device flow; the login is a profile named after the server
    /// (mcp-HOST or mcp-HOST-PORT). MCP clients then get its token from
    /// `devauth mcp headers URL` (a header helper) or reach the server through
    /// `devauth mcp proxy URL` (a stdio bridge), both refreshing it as needed.
    /// `status`, `profiles`, `logout` and `agent` see the login like any other.
    #[command(after_long_help = MCP_EXAMPLES)]
    Mcp(cmd::mcp::Args),
    /// Print shell completions.
    ///
    /// Writes the completion script for SHELL on stdout, made from the same
    /// definitions as the command line, so it knows every command and flag.
    #[command(after_long_help = COMPLETIONS_EXAMPLES)]
    Completions(cmd::completions::Args),
    /// Run the authorization server.
    ///
    /// An OAuth 2.0 / OpenID Connect authorization server built around the
    /// device grant: verification pages at /device, token, revocation,
    /// introspection, discovery and JWKS. With no flags it listens on
    /// 127.0.0.1:8080 and keeps everything in one SQLite file under the data
    /// folder; on start it creates its signing keys and the public client
    /// `devauth-cli` when missing, then serves until SIGTERM or Ctrl-C. Add
    /// people with `devauth admin user add`.
    ///
    /// Every flag also reads from the environment variable shown. --config
    /// FILE names a JSON file with the same settings, keyed like the flags
    /// (`code_ttl` for --code-ttl); flags and environment win over the file.
    /// In production, listen on loopback behind a TLS proxy and set --issuer
    /// to its public https URL (docs/server.md).
    #[command(after_long_help = SERVE_EXAMPLES)]
    Serve(WithLogFormat<cmd::serve::Args>),
    /// Manage the server's users, clients, keys and resources.
    ///
    /// Works on the server's storage directly, whether or not `devauth serve`
    /// is running, with the same storage flags and environment (--data-dir,
    /// --database-url, --config, DEVAUTH_DATA_DIR, ...). Without them it looks
    /// where `serve` would, and stops rather than make an empty database
    /// there (--create makes one). Secrets come in on stdin and go out once on
    /// stdout.
    #[command(after_long_help = ADMIN_EXAMPLES)]
    Admin(cmd::admin::Args),
    /// Put login in front of an MCP server or HTTP API.
    ///
    /// Only requests with a valid bearer token for this resource pass: a JWT
    /// signed by a key of --issuer's JWKS, whose `aud` is --resource, not
    /// expired, holding every --scope. Those go to --upstream, without the
    /// token; the rest get 401 or 403 with the RFC 9728 metadata an MCP client
    /// follows to log in. The guard also serves that metadata under
    /// /.well-known/oauth-protected-resource, and /healthz. It fetches the
    /// issuer's keys on start and does not start without them.
    ///
    /// Every flag but --scope also reads from the environment variable shown.
    #[command(after_long_help = GUARD_EXAMPLES)]
    Guard(WithLogFormat<cmd::guard::Args>),
}

// Each command's examples, shown after its flags by `--help` (not `-h`).
// Lines stay within 80 columns: clap wraps longer ones without indenting.

const LOGIN_EXAMPLES: &str = "\
Examples:
  # The device flow: open the link on any device and enter the code
  $ devauth login --issuer https://auth.example.com

  # GitHub, with your OAuth app's client id (devauth login --provider list)
  $ devauth login --provider github --client-id Iv1.xxxx --scope repo

  # A service account in CI, its secret in DEVAUTH_CLIENT_SECRET
  $ devauth login --client-credentials --issuer https://auth.example.com \\
      --client-id ci-deployer --profile ci";

const TOKEN_EXAMPLES: &str = "\
Examples:
  $ curl -H \"$(devauth token --format header)\" https://api.example.com/me

  # DEVAUTH_TOKEN=... in this shell
  $ eval \"$(devauth token --format env)\"

  # Valid for at least 5 more minutes, with its expiry and scopes
  $ devauth token --profile work --min-ttl 300 --format json";

const STATUS_EXAMPLES: &str = "\
Examples:
  $ devauth status
  $ devauth status --profile work --json | jq .access_token.expires_in";

const LOGOUT_EXAMPLES: &str = "\
Examples:
  $ devauth logout
  # Forget the tokens here without asking the server
  $ devauth logout --profile work --no-revoke";

const RUN_EXAMPLES: &str = "\
Examples:
  # The script reads the token from $DEVAUTH_TOKEN
  $ devauth run -- ./deploy.sh

  # A tool that wants the token in another variable
  $ devauth run --env API_TOKEN -- terraform apply

  $ devauth run -- sh -c 'curl -H \"Authorization: Bearer $DEVAUTH_TOKEN\" \\
      https://api.example.com/me'";

const PROFILES_EXAMPLES: &str = "\
Examples:
  $ devauth profiles
  $ devauth profiles --json | jq -r '.profiles[].profile'";

const IMPORT_EXAMPLES: &str = "\
Examples:
  # kiro-cli's login as profile kiro, kiro-cli keeps working
  $ devauth import kiro-cli --profile kiro

  # Every login in ~/.aws/sso/cache, each as profile aws-NAME
  $ devauth import aws-sso --all";

const AGENT_EXAMPLES: &str = "\
Examples:
  # One pass, for cron or CI
  $ devauth agent --once

  # In the background, with metrics and a desktop notification
  $ devauth agent --watch --listen 127.0.0.1:9464 \\
      --notify-command 'notify-send \"$DEVAUTH_PROFILE: $DEVAUTH_STATE\"'";

const GIT_CREDENTIAL_EXAMPLES: &str = "\
Examples:
  # Every https remote on git.example.com, with profile work
  $ git config --global credential.https://git.example.com.helper \\
      '!devauth git-credential --profile work'

  # GitLab wants the user name oauth2
  $ git config --global credential.https://gitlab.example.com.helper \\
      '!devauth git-credential --profile gitlab --username oauth2'";

const KUBECTL_CREDENTIAL_EXAMPLES: &str = "\
Examples:
  $ kubectl config set-credentials me \\
      --exec-api-version=client.authentication.k8s.io/v1 \\
      --exec-command=devauth --exec-arg=kubectl-credential \\
      --exec-arg=--profile --exec-arg=work --exec-interactive-mode=Never";

const MCP_EXAMPLES: &str = "\
Examples:
  $ devauth mcp login https://tools.example.com/mcp

  # In an MCP client's configuration: a stdio server...
  $ claude mcp add tools -- devauth mcp proxy https://tools.example.com/mcp

  # ...or a header helper
  $ devauth mcp headers https://tools.example.com/mcp";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  $ devauth completions bash \\
      > ~/.local/share/bash-completion/completions/devauth
  $ devauth completions fish > ~/.config/fish/completions/devauth.fish

  # zsh, after compinit in ~/.zshrc
  $ echo 'source <(devauth completions zsh)' >> ~/.zshrc";

const SERVE_EXAMPLES: &str = "\
Examples:
  # Try it: prints the demo user's password once
  $ devauth serve --demo

  # Behind a TLS proxy on the same host
  $ devauth serve --issuer https://auth.example.com --trusted-proxy 127.0.0.1

  # One of several replicas
  $ devauth serve --listen 0.0.0.0:8080 --issuer https://auth.example.com \\
      --database-url postgres://devauth@db/devauth --redis-url redis://cache";

const ADMIN_EXAMPLES: &str = "\
Examples:
  $ printf '%s\\n' \"$PASSWORD\" | devauth admin user add alice --password-stdin

  # A service account; its secret is printed once on stdout
  $ devauth admin client add ci-bot --name \"CI bot\" --grant client_credentials

  # The database of a server that runs with another data folder
  $ devauth admin --data-dir /var/lib/devauth keys rotate";

const GUARD_EXAMPLES: &str = "\
Examples:
  # An MCP server on 127.0.0.1:3000, reached at https://tools.example.com/mcp
  $ devauth guard --listen 0.0.0.0:8443 \\
      --upstream http://127.0.0.1:3000/mcp \\
      --issuer https://auth.example.com \\
      --resource https://tools.example.com/mcp --scope mcp:tools";

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
