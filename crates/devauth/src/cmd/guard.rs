//! `devauth guard`: puts login in front of an MCP server or HTTP API that has
//! none (`devauth_guard`). Every flag but `--scope` also reads from
//! `DEVAUTH_GUARD_<FLAG>` (the limits share `serve`'s `DEVAUTH_*_TIMEOUT`
//! and `DEVAUTH_MAX_CONNECTIONS` variables).
//!
//! On start: bind, fetch the issuer's signing keys (no keys, no start), print
//! `devauth guard: listening on URL` on stderr, and serve until SIGTERM or
//! Ctrl-C. Logs go to stderr, filtered by `DEVAUTH_LOG`, as text or JSON
//! lines (`--log-format`, set up in `main.rs` before this runs).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use devauth_guard::{Config, Guard};
use devauth_server::listener::{Limits, serve as serve_with_limits};

use super::serve::{LimitArgs, shutdown_signal};
use crate::exit::UsageError;

/// Flags of `devauth guard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "DEVAUTH_GUARD_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8443"
    )]
    pub listen: SocketAddr,
    /// Where valid requests go: a plain http:// URL, best on loopback next
    /// to the guard, e.g. http://127.0.0.1:3000/mcp.
    #[arg(long, env = "DEVAUTH_GUARD_UPSTREAM", value_name = "URL")]
    pub upstream: String,
    /// The authorization server whose tokens are accepted: the tokens' `iss`
    /// (any issuer that publishes a JWKS).
    #[arg(long, env = "DEVAUTH_GUARD_ISSUER", value_name = "URL")]
    pub issuer: String,
    /// This resource's identifier: the public URL clients use, and the `aud`
    /// every token must carry (register it with `devauth admin resource add`).
    #[arg(long, env = "DEVAUTH_GUARD_RESOURCE", value_name = "URL")]
    pub resource: String,
    /// A scope every token must hold; repeat for several [default: none].
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// The JWKS URL, when the issuer publishes no metadata naming it
    /// [default: the issuer's jwks_uri].
    #[arg(long, env = "DEVAUTH_GUARD_JWKS_URI", value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// Send the token's subject upstream in this header (any value a client
    /// sends in it is replaced), e.g. X-Auth-User.
    #[arg(long, env = "DEVAUTH_GUARD_FORWARD_USER_HEADER", value_name = "NAME")]
    pub forward_user_header: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    #[arg(long, env = "DEVAUTH_GUARD_LEEWAY", value_name = "S", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub leeway: u64,
    /// Seconds the issuer's keys are used before they are fetched again.
    #[arg(long, env = "DEVAUTH_GUARD_JWKS_TTL", value_name = "S", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(10..=86400))]
    pub jwks_ttl: u64,
    /// A name for people in the resource's metadata (`resource_name`).
    #[arg(long, env = "DEVAUTH_GUARD_RESOURCE_NAME", value_name = "NAME")]
    pub resource_name: Option<String>,
    /// Serve /metrics on this address, e.g. 127.0.0.1:9090 (it is never
    /// served on --listen).
    #[arg(long, env = "DEVAUTH_GUARD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Connection limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(&args.issuer, &args.resource, &args.upstream)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(name) = &args.forward_user_header {
        config = config
            .forward_user_header(name)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    config.required_scopes = args.scopes.clone();
    config.jwks_uri = args.jwks_uri.clone();
    config.leeway = Duration::from_secs(args.leeway);
    config.jwks_ttl = Duration::from_secs(args.jwks_ttl);
    config.resource_name = args.resource_name.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(guard(args, config))?;
    Ok(ExitCode::SUCCESS)
}

async fn guard(args: Args, config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Counters are recorded from the start, whether or not they are scraped.
    let _ = devauth_server::metrics::handle();
    let guard = Guard::start(config).await?;
    let limits = args.limits.apply(Limits::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let metrics = match args.metrics_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for metrics"))?;
            if let Ok(a) = l.local_addr() {
                eprintln!("devauth guard: metrics on http://{a}/metrics");
            }
            Some(tokio::spawn(serve_with_limits(
                l,
                devauth_server::app::metrics_router(),
                limits,
                until_stopped(stopped.clone()),
            )))
        }
        None => None,
    };
    let c = guard.config();
    tracing::info!(%bound, issuer = %c.issuer, resource = %c.audience, upstream = %c.upstream, jwks = %guard.keys().jwks_uri(), "listening");
    eprintln!(
        "devauth guard: listening on http://{bound} for {} (tokens from {}, passed to {})",
        c.audience, c.issuer, c.upstream
    );
    let served = serve_with_limits(listener, guard.router(), limits, until_stopped(stopped)).await;
    if let Some(m) = metrics {
        let _ = m.await;
    }
    tracing::info!("stopped");
    served.context("the guard failed")
}
