//! `devauth serve`: runs the authorization server.
//!
//! Every flag also reads from `DEVAUTH_<FLAG>`; `--config FILE` names a JSON
//! file with the same settings (`{"listen": "...", "issuer": "...",
//! "data_dir": "...", "device_rate_limit": 30, "code_ttl": 600,
//! "poll_interval": 5, "access_token_ttl": 900, "refresh_token_ttl": 2592000,
//! "verification_uri_complete": true, "registration": "off",
//! "registration_rate_limit": 20, "registered_client_ttl": 604800,
//! "allow_private_client_metadata": false,
//! "audit_retention": 90, "trusted_proxies": ["127.0.0.1"], "metrics_listen": "127.0.0.1:9090",
//! "header_timeout": 10, "body_timeout": 30, "idle_timeout": 60,
//! "max_connections": 768, "shutdown_timeout": 10}`); flags and environment win over the
//! file, the file over the defaults.
//!
//! On start: bind, open (and migrate) the store, make sure signing keys and
//! the `devauth-cli` client exist, with `--demo` create the `demo` user, start
//! the sweeper, then print `devauth serve: listening on URL` on stderr and
//! serve until SIGTERM or Ctrl-C. Logs go to stderr, filtered by
//! `DEVAUTH_LOG` (default `info`): text lines at a terminal, JSON lines
//! elsewhere, or as `--log-format` / `DEVAUTH_LOG_FORMAT` says (`main.rs`).

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use devauth_server::app::router;
use devauth_server::clock::SystemClock;
use devauth_server::config::{Config, Settings};
use devauth_server::listener::{Limits, serve as serve_with_limits};
use devauth_server::state::AppState;
use devauth_server::store::Stores;
use devauth_server::store::open;

use crate::exit::UsageError;

/// Default listening address.
const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

/// Where the server keeps its data; shared by `serve` and `admin`, listed
/// under their own heading in both.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Folder for the SQLite database [default: $DEVAUTH_HOME/server].
    ///
    /// The database is DIR/devauth.db. Without DEVAUTH_HOME the default is
    /// $XDG_DATA_HOME/devauth-server, else ~/.local/share/devauth-server.
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_DATA_DIR",
        value_name = "DIR",
        help_heading = "Storage"
    )]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL for the durable store, instead of SQLite (replicas).
    ///
    /// postgres://...: users, clients, keys, refresh tokens and audit events
    /// (and, without --redis-url, the device-flow state) go there.
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        help_heading = "Storage"
    )]
    pub database_url: Option<String>,
    /// Redis URL for the flow store (replicas).
    ///
    /// redis://...: the short-lived device-flow state (pending codes, browser
    /// sessions, rate-limit counters) goes there, each key with a TTL.
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_REDIS_URL",
        hide_env_values = true,
        value_name = "URL",
        help_heading = "Storage"
    )]
    pub redis_url: Option<String>,
    /// JSON configuration file (flags and environment override it).
    ///
    /// Its keys are the flags' names in snake_case (`code_ttl` for
    /// --code-ttl; docs/server.md lists them). `devauth admin` reads only
    /// `data_dir` from it.
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_CONFIG",
        value_name = "FILE",
        help_heading = "Storage"
    )]
    pub config: Option<PathBuf>,
}

/// Settings a `--config` file may hold.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    issuer: Option<String>,
    data_dir: Option<PathBuf>,
    device_rate_limit: Option<u32>,
    code_ttl: Option<u32>,
    poll_interval: Option<u32>,
    access_token_ttl: Option<u32>,
    refresh_token_ttl: Option<u32>,
    verification_uri_complete: Option<bool>,
    registration: Option<String>,
    registration_rate_limit: Option<u32>,
    registered_client_ttl: Option<u32>,
    allow_private_client_metadata: Option<bool>,
    audit_retention: Option<u32>,
    metrics_listen: Option<SocketAddr>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    header_timeout: Option<u32>,
    body_timeout: Option<u32>,
    idle_timeout: Option<u32>,
    max_connections: Option<u32>,
    shutdown_timeout: Option<u32>,
}

impl FileConfig {
    /// The data folder the file names, if any.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

impl StorageArgs {
    /// Reads the `--config` file, if any.
    pub fn file_config(&self) -> anyhow::Result<FileConfig> {
        let Some(path) = &self.config else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("the config file {} is not valid", path.display()))
    }

    /// The data folder: flag/env, then config file, then the default.
    pub fn data_dir(&self, file: &FileConfig) -> anyhow::Result<PathBuf> {
        if let Some(d) = self.data_dir.clone().or_else(|| file.data_dir.clone()) {
            return Ok(d);
        }
        default_data_dir()
    }

    /// Opens the stores (creating the data folder, 0700): SQLite under the
    /// data dir by default, PostgreSQL with `--database-url`, Redis for the
    /// device-flow state with `--redis-url` (see `store::open`).
    pub async fn open(&self, file: &FileConfig) -> anyhow::Result<(Stores, PathBuf)> {
        let dir = self.data_dir(file)?;
        create_private_dir(&dir)?;
        let plan = open::Plan::resolve(
            &dir,
            self.database_url.as_deref(),
            self.redis_url.as_deref(),
        )
        .map_err(|e| UsageError(format!("{e}")))?;
        let stores = open::open_plan(&plan)
            .await
            .with_context(|| format!("cannot open the stores ({})", plan))?;
        tracing::info!(storage = %plan, "stores opened");
        Ok((stores, dir))
    }
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = var("DEVAUTH_HOME") {
        return Ok(home.join("server"));
    }
    if let Some(xdg) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("devauth-server"));
    }
    if let Some(home) = var("HOME") {
        return Ok(home.join(".local/share/devauth-server"));
    }
    Err(UsageError("cannot find a data folder: pass --data-dir DIR".into()).into())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data folder {}", dir.display()))
}

/// Flags of `devauth serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free one [default:
    /// 127.0.0.1:8080].
    #[arg(long, env = "DEVAUTH_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Issuer URL, the base of every endpoint [default: http://<listen address>].
    ///
    /// The public base URL clients use (behind a TLS proxy, its https URL),
    /// and the `iss` of every token. Required when listening on 0.0.0.0 or
    /// [::].
    #[arg(long, env = "DEVAUTH_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Also create (if missing) a user `demo` with a random password, shown
    /// once on stderr.
    #[arg(long, env = "DEVAUTH_DEMO")]
    pub demo: bool,
    /// Device authorizations per IP per minute; 0 turns the limit off [default: 30].
    #[arg(long, env = "DEVAUTH_DEVICE_RATE_LIMIT", value_name = "N")]
    pub device_rate_limit: Option<u32>,
    /// Lifetime of device and user codes, seconds [default: 600].
    #[arg(long, env = "DEVAUTH_CODE_TTL", value_name = "S", value_parser = clap::value_parser!(u32).range(1..))]
    pub code_ttl: Option<u32>,
    /// Initial polling interval sent to devices, seconds, 1 to 3600 [default:
    /// 5].
    #[arg(long, env = "DEVAUTH_POLL_INTERVAL", value_name = "S", value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub poll_interval: Option<u32>,
    /// Lifetime of access and ID tokens, seconds, at most 30 days [default: 900].
    #[arg(long, env = "DEVAUTH_ACCESS_TOKEN_TTL", value_name = "S", value_parser = clap::value_parser!(u32).range(1..=2_592_000))]
    pub access_token_ttl: Option<u32>,
    /// Lifetime of refresh tokens, seconds [default: 2592000 = 30 days].
    ///
    /// Every refresh rotates the refresh token, and the new one gets the
    /// whole lifetime again.
    #[arg(long, env = "DEVAUTH_REFRESH_TOKEN_TTL", value_name = "S", value_parser = clap::value_parser!(u32).range(1..))]
    pub refresh_token_ttl: Option<u32>,
    /// Dynamic client registration (RFC 7591) at /oauth/register: off, open,
    /// or token (needs an initial access token from `devauth admin
    /// registration-token`) [default: off].
    #[arg(long, env = "DEVAUTH_REGISTRATION", value_name = "POLICY", value_parser = ["off", "open", "token"])]
    pub registration: Option<String>,
    /// Client registrations per IP per hour; 0 turns the limit off [default: 20].
    #[arg(long, env = "DEVAUTH_REGISTRATION_RATE_LIMIT", value_name = "N")]
    pub registration_rate_limit: Option<u32>,
    /// A reverse proxy (IP or CIDR) whose `Forwarded` / `X-Forwarded-For`
    /// headers name the client; repeatable, or comma-separated in
    /// DEVAUTH_TRUSTED_PROXIES. Without it those headers are ignored.
    #[arg(
        long = "trusted-proxy",
        env = "DEVAUTH_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Serve /metrics on this address instead of the main one, e.g.
    /// 127.0.0.1:9090 (keep scrapes off the public listener).
    #[arg(long, env = "DEVAUTH_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Connection limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Seconds a self-registered client that never gets a token is kept, at
    /// least 60 [default: 604800 = 7 days].
    #[arg(long, env = "DEVAUTH_REGISTERED_CLIENT_TTL", value_name = "S", value_parser = clap::value_parser!(u32).range(60..))]
    pub registered_client_ttl: Option<u32>,
    /// With --registration open: also fetch client ID metadata documents from
    /// loopback and private addresses (tests, intranets). Without it, only
    /// public https addresses are fetched.
    #[arg(long, env = "DEVAUTH_ALLOW_PRIVATE_CLIENT_METADATA")]
    pub allow_private_client_metadata: bool,
    /// Days audit events are kept before the sweeper prunes them; 0 keeps
    /// them forever [default: 90].
    #[arg(long, env = "DEVAUTH_AUDIT_RETENTION", value_name = "DAYS")]
    pub audit_retention: Option<u32>,
}

/// What each listener limit may be, seconds (connections for
/// `MAX_CONNECTIONS`): the flags and a config file are held to the same.
const HEADER_TIMEOUT: RangeInclusive<u32> = 1..=3600;
const BODY_TIMEOUT: RangeInclusive<u32> = 1..=3600;
const IDLE_TIMEOUT: RangeInclusive<u32> = 1..=86400;
const MAX_CONNECTIONS: RangeInclusive<u32> = 1..=u32::MAX;
const SHUTDOWN_TIMEOUT: RangeInclusive<u32> = 0..=3600;

/// A limit's range as clap's integer parser takes it.
fn flag_range(r: RangeInclusive<u32>) -> RangeInclusive<i64> {
    i64::from(*r.start())..=i64::from(*r.end())
}

/// The listener's limits (`devauth_server::listener::Limits`), shared by
/// `serve` and `guard`, listed under their own heading in both.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Seconds a client may take to send the request line and headers, 1 to
    /// 3600 [default: 10].
    #[arg(long, env = "DEVAUTH_HEADER_TIMEOUT", value_name = "S", value_parser = clap::value_parser!(u32).range(flag_range(HEADER_TIMEOUT)), help_heading = "Connection limits")]
    pub header_timeout: Option<u32>,
    /// Seconds a client may take to send a whole request body, 1 to 3600
    /// [default: 30].
    #[arg(long, env = "DEVAUTH_BODY_TIMEOUT", value_name = "S", value_parser = clap::value_parser!(u32).range(flag_range(BODY_TIMEOUT)), help_heading = "Connection limits")]
    pub body_timeout: Option<u32>,
    /// Seconds a keep-alive connection may stay idle, 1 to 86400 [default:
    /// 60].
    #[arg(long, env = "DEVAUTH_IDLE_TIMEOUT", value_name = "S", value_parser = clap::value_parser!(u32).range(flag_range(IDLE_TIMEOUT)), help_heading = "Connection limits")]
    pub idle_timeout: Option<u32>,
    /// Most connections served at once; more are closed on accept [default: 768,
    /// under the usual limit of 1024 open files].
    #[arg(long, env = "DEVAUTH_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(flag_range(MAX_CONNECTIONS)), help_heading = "Connection limits")]
    pub max_connections: Option<u32>,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C, 0
    /// to 3600 [default: 10].
    #[arg(long, env = "DEVAUTH_SHUTDOWN_TIMEOUT", value_name = "S", value_parser = clap::value_parser!(u32).range(flag_range(SHUTDOWN_TIMEOUT)), help_heading = "Connection limits")]
    pub shutdown_timeout: Option<u32>,
}

impl LimitArgs {
    /// Refuses what the flags' ranges refuse, for values that did not come
    /// through clap (a config file).
    pub fn check(&self) -> Result<(), String> {
        let within = |name: &str, v: Option<u32>, range: RangeInclusive<u32>| match v {
            Some(v) if !range.contains(&v) => Err(format!(
                "{name} must be between {} and {}, not {v}",
                range.start(),
                range.end()
            )),
            _ => Ok(()),
        };
        within("header_timeout", self.header_timeout, HEADER_TIMEOUT)?;
        within("body_timeout", self.body_timeout, BODY_TIMEOUT)?;
        within("idle_timeout", self.idle_timeout, IDLE_TIMEOUT)?;
        within("max_connections", self.max_connections, MAX_CONNECTIONS)?;
        within("shutdown_timeout", self.shutdown_timeout, SHUTDOWN_TIMEOUT)
    }

    /// `base` with every limit a flag (or its environment variable) sets.
    pub fn apply(&self, mut limits: Limits) -> Limits {
        let secs = |v: u32| std::time::Duration::from_secs(u64::from(v));
        if let Some(v) = self.header_timeout {
            limits.header_timeout = secs(v);
        }
        if let Some(v) = self.body_timeout {
            limits.body_timeout = secs(v);
        }
        if let Some(v) = self.idle_timeout {
            limits.idle_timeout = secs(v);
        }
        if let Some(v) = self.max_connections {
            limits.max_connections = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = self.shutdown_timeout {
            limits.shutdown_timeout = secs(v);
        }
        limits
    }
}

/// The settings of `args` laid over those of `file` (flags and environment
/// win), for [`Config::resolve`] to check.
fn settings(args: &Args, file: &FileConfig) -> Settings {
    Settings {
        device_rate_limit: args.device_rate_limit.or(file.device_rate_limit),
        code_ttl: args.code_ttl.or(file.code_ttl),
        poll_interval: args.poll_interval.or(file.poll_interval),
        access_token_ttl: args.access_token_ttl.or(file.access_token_ttl),
        refresh_token_ttl: args.refresh_token_ttl.or(file.refresh_token_ttl),
        verification_uri_complete: file.verification_uri_complete,
        registration: args
            .registration
            .clone()
            .or_else(|| file.registration.clone()),
        registration_rate_limit: args
            .registration_rate_limit
            .or(file.registration_rate_limit),
        registered_client_ttl: args.registered_client_ttl.or(file.registered_client_ttl),
        allow_private_client_metadata: args.allow_private_client_metadata
            || file.allow_private_client_metadata == Some(true),
        audit_retention: args.audit_retention.or(file.audit_retention),
    }
}

/// Runs the command.
/// Logging is set up by `main.rs` (`--log-format`) before this runs.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let file = args.storage.file_config()?;
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(DEFAULT_LISTEN));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let issuer = match args.issuer.clone().or_else(|| file.issuer.clone()) {
        Some(issuer) => issuer,
        // http://0.0.0.0:PORT is no address a client can use.
        None if bound.ip().is_unspecified() => {
            return Err(UsageError(format!(
                "listening on {bound} needs --issuer: the URL clients use to reach this \
                 server (e.g. --issuer https://auth.example.com, or http://HOST:{} on a \
                 private network)",
                bound.port()
            ))
            .into());
        }
        None => format!("http://{bound}"),
    };
    let settings = settings(&args, &file);
    let data_dir = args.storage.data_dir(&file)?;
    let mut config = Config::resolve(issuer, bound, data_dir, &settings)
        .map_err(|e| UsageError(e.to_string()))?;
    let (stores, _) = args.storage.open(&file).await?;
    warn_if_shared(&config.data_dir);
    let proxies = if args.trusted_proxies.is_empty() {
        &file.trusted_proxies
    } else {
        &args.trusted_proxies
    };
    config.trusted_proxies = devauth_server::client_addr::parse_trusted(proxies)
        .map_err(|e| UsageError(format!("--trusted-proxy: {e}")))?;
    let metrics_listener = match args.metrics_listen.or(file.metrics_listen) {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for metrics"))?;
            config.metrics_listen =
                Some(l.local_addr().context("cannot read the metrics address")?);
            Some(l)
        }
        None => None,
    };
    // The file over the defaults, flags and environment over the file; the
    // file's values within the flags' ranges.
    let from_file = LimitArgs {
        header_timeout: file.header_timeout,
        body_timeout: file.body_timeout,
        idle_timeout: file.idle_timeout,
        max_connections: file.max_connections,
        shutdown_timeout: file.shutdown_timeout,
    };
    from_file
        .check()
        .map_err(|e| UsageError(format!("config file: {e}")))?;
    let limits = args.limits.apply(from_file.apply(Limits::default()));
    let issuer = config.issuer.clone();
    let state = AppState::new(stores, Arc::new(SystemClock), config);
    state
        .init()
        .await
        .context("cannot prepare the database and signing keys")?;
    // Made now, shown after "listening", last, so log lines cannot scroll it away.
    let demo_password = if args.demo {
        devauth_server::setup::ensure_demo_user(state.stores.durable.as_ref(), state.clock.now())
            .await
            .context("cannot create the demo user")?
    } else {
        None
    };
    // Audit rows are stored in batches off the request path; the tracing
    // line stays synchronous (see devauth_server::audit).
    let (audit, audit_writer) =
        devauth_server::audit::AuditWriter::spawn(state.stores.durable.clone());
    let state = state.with_audit(audit);
    let sweeper = devauth_server::sweeper::spawn(state.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let metrics = metrics_listener.map(|l| {
        let addr = l.local_addr().ok();
        if let Some(addr) = addr {
            eprintln!("devauth serve: metrics on http://{addr}/metrics");
        }
        tokio::spawn(serve_with_limits(
            l,
            devauth_server::app::metrics_router(),
            limits,
            until_stopped(stopped.clone()),
        ))
    });
    tracing::info!(%bound, %issuer, "listening");
    eprintln!("devauth serve: listening on http://{bound} (issuer {issuer})");
    if args.demo {
        match &demo_password {
            // Printed once, on purpose: the operator asked for a demo account.
            Some(password) => {
                let line = format!("user `demo`, password {}", password.expose());
                let rule = "─".repeat(line.chars().count() + 2);
                eprintln!(
                    "devauth serve: created a demo account; this is the only time the password is shown:"
                );
                // Every line starts like the other human lines (the rest
                // of stderr is JSON logs).
                eprintln!("devauth serve: ┌{rule}┐");
                eprintln!("devauth serve: │ {line} │");
                eprintln!("devauth serve: └{rule}┘");
            }
            None => eprintln!(
                "devauth serve: user `demo` already exists (its password was shown when it was made)"
            ),
        }
    }
    let served = serve_with_limits(listener, router(state), limits, until_stopped(stopped)).await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    sweeper.abort();
    audit_writer.shutdown().await;
    tracing::info!("stopped");
    served.context("the server failed")
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Says so, on stderr and in the log, when the data folder or the SQLite
/// database in it can be read by other users: they hold the signing keys
/// and the audit trail. (A folder made by `serve` is 0700 and the database
/// 0600; this catches one made by hand or restored from a backup.)
fn warn_if_shared(data_dir: &Path) {
    for path in [data_dir.to_path_buf(), data_dir.join("devauth.db")] {
        if let Ok(false) = devauth_client::atomic_file::owner_only(&path) {
            tracing::warn!(path = %path.display(), "readable by other users");
            eprintln!(
                "devauth serve: warning: {} can be read by other users; it holds the \
                 signing keys. Run: chmod go-rwx {}",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: Args,
    }

    fn resolve(argv: &[&str], file: &str) -> Result<Config, String> {
        use clap::Parser as _;
        let args = Cli::try_parse_from(argv).map_err(|e| e.to_string())?.serve;
        let file: FileConfig = serde_json::from_str(file).map_err(|e| e.to_string())?;
        Config::resolve(
            "http://127.0.0.1:8080".into(),
            SocketAddr::from(DEFAULT_LISTEN),
            PathBuf::from("/tmp/devauth-test"),
            &settings(&args, &file),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_config_file_is_checked_like_the_flags() {
        let from_file = resolve(&["serve"], r#"{"refresh_token_ttl": 0}"#).unwrap_err();
        assert_eq!(from_file, "refresh_token_ttl must be at least 1 second");
        assert!(resolve(&["serve", "--refresh-token-ttl", "0"], "{}").is_err());
        let from_file = resolve(&["serve"], r#"{"poll_interval": 3601}"#).unwrap_err();
        assert!(
            from_file.starts_with("poll_interval must be"),
            "{from_file}"
        );
    }

    #[test]
    fn flags_win_over_the_file() {
        let c = resolve(
            &["serve", "--refresh-token-ttl", "7"],
            r#"{"refresh_token_ttl": 0, "code_ttl": 42}"#,
        )
        .unwrap();
        assert_eq!(c.refresh_token_ttl_secs, 7);
        assert_eq!(c.code_ttl_secs, 42);
    }

    #[test]
    fn a_config_files_limits_are_checked_like_the_flags() {
        let file = |json: &str| -> LimitArgs {
            let f: FileConfig = serde_json::from_str(json).unwrap();
            LimitArgs {
                header_timeout: f.header_timeout,
                body_timeout: f.body_timeout,
                idle_timeout: f.idle_timeout,
                max_connections: f.max_connections,
                shutdown_timeout: f.shutdown_timeout,
            }
        };
        assert_eq!(
            file(r#"{"max_connections": 0}"#).check().unwrap_err(),
            format!("max_connections must be between 1 and {}, not 0", u32::MAX)
        );
        assert!(file(r#"{"header_timeout": 0}"#).check().is_err());
        assert!(file(r#"{"idle_timeout": 86401}"#).check().is_err());
        assert!(
            file(r#"{"shutdown_timeout": 0, "body_timeout": 3600}"#)
                .check()
                .is_ok()
        );
        use clap::Parser as _;
        assert!(Cli::try_parse_from(["serve", "--max-connections", "0"]).is_err());
    }
}
