//! `devauth agent`: keep every renewable profile fresh (the client's own
//! logins and adopted ones), in the background or for one pass (`--once`,
//! for cron and CI).
//!
//! Exit status of `--once`: 0 when every profile is fine, 3 when one needs
//! a new login, 6 when a refresh server was unreachable or failing.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use devauth_agent::backoff::Backoff;
use devauth_agent::daemon::{self, Daemon, Report};
use devauth_agent::metrics::Metrics;
use devauth_agent::notify::Notifier;
use devauth_agent::profiles::ProfileBackend;
use devauth_agent::{Config, Summary};
use devauth_client::ProfileStore;
use devauth_client::clock::{Clock, SystemClock};
use devauth_import::follow::Refresher;
use devauth_import::refresh::{Endpoints, Http};
use devauth_import::rfc3339;

use crate::exit::{self, UsageError};

/// Flags of `devauth agent`. What the command does, as `devauth agent
/// --help` shows it, is the doc of `Command::Agent` in `main.rs` (clap takes
/// the variant's doc, not this one).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do one pass, print a summary and exit (for cron and CI).
    ///
    /// The summary goes to stdout (as JSON with --json); the exit status is
    /// 0, 3 or 6, as above.
    #[arg(long)]
    once: bool,
    /// Seconds between passes (at least 1).
    #[arg(long, value_name = "S", default_value_t = 60)]
    interval: u64,
    /// Refresh what expires within this many seconds.
    ///
    /// Plus up to 10% per profile, so that profiles imported together do not
    /// all refresh at once.
    #[arg(long, value_name = "S", default_value_t = 300)]
    threshold: u64,
    /// At most this many refreshes at once (at least 1).
    #[arg(long, value_name = "N", default_value_t = 10)]
    concurrency: usize,
    /// Serve /healthz and /metrics on this address (e.g. 127.0.0.1:9464).
    ///
    /// /metrics is Prometheus text. Profile names show there, never tokens:
    /// keep it on loopback unless something else protects it.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Re-import when a source changes (a fresh login heals needs-login).
    ///
    /// Watches the sources of imported profiles (kiro-cli's database, the AWS
    /// SSO cache files) and re-reads one when it changes.
    #[arg(long)]
    watch: bool,
    /// Run this shell command on every state change.
    ///
    /// Run with `sh -c` and killed after 30 s. It gets the event as JSON on
    /// stdin and in DEVAUTH_EVENT, and DEVAUTH_PROFILE, DEVAUTH_STATE,
    /// DEVAUTH_PREVIOUS_STATE (empty for a new profile) and DEVAUTH_REASON.
    #[arg(long, value_name = "CMD", env = "DEVAUTH_AGENT_NOTIFY_COMMAND")]
    notify_command: Option<String>,
    /// POST every state change as JSON to this URL (10 s timeout).
    #[arg(long, value_name = "URL", env = "DEVAUTH_AGENT_WEBHOOK")]
    notify_webhook: Option<String>,
    /// With --once: print the summary as JSON on stdout instead of a line.
    #[arg(long, requires = "once")]
    json: bool,
    /// Keep only this profile fresh [default: every profile].
    ///
    /// DEVAUTH_PROFILE set in the agent's environment limits it too.
    #[arg(long = "profile", env = "DEVAUTH_PROFILE", value_name = "NAME")]
    only: Option<String>,
}

fn log_report(report: &Report) {
    for e in &report.events {
        let prev = e.previous.map_or("new", |s| s.as_str());
        match &e.reason {
            Some(r) => eprintln!("{}: {prev} -> {}: {r}", e.profile, e.state),
            None => eprintln!("{}: {prev} -> {}", e.profile, e.state),
        }
    }
    for err in &report.notify_errors {
        eprintln!("warning: {err}");
    }
}

fn summary_line(s: &Summary) -> String {
    let mut parts = vec![format!("{} fresh", s.fresh)];
    for (n, what) in [
        (s.refreshed, "refreshed"),
        (s.already_fresh, "already refreshed elsewhere"),
        (s.recovered, "recovered from their source"),
        (s.needing_login(), "need a new login"),
        (s.temporary, "failed temporarily"),
        (s.waiting, "waiting to retry"),
        (s.skipped, "skipped"),
        (s.interrupted, "not visited (stopping)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!("{} profiles: {}", s.profiles, parts.join(", "))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    if args.interval == 0 && !args.once {
        return Err(UsageError("--interval must be at least 1 second".into()).into());
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(Metrics::default());
    let daemon = Daemon {
        backend: Arc::new(ProfileBackend {
            store: ProfileStore::open_default()?,
            refresher: Refresher {
                http: Http::default(),
                endpoints: Endpoints::from_env(),
            },
            only: args.only.clone(),
        }),
        clock: clock.clone(),
        config: Config {
            threshold: Duration::from_secs(args.threshold),
            concurrency: args.concurrency,
            backoff: Backoff::default(),
        },
        metrics: metrics.clone(),
        notifier: Notifier {
            command: args.notify_command,
            webhook: args.notify_webhook,
        },
    };
    let stop = daemon::stop_on_signals().map_err(anyhow::Error::msg)?;

    let listener = match &args.listen {
        Some(addr) => {
            let (bound, handle) =
                devauth_agent::listen::serve(addr, metrics, clock.clone(), stop.clone())
                    .map_err(|e| UsageError(format!("cannot listen on {addr}: {e}")))?;
            eprintln!("listening on http://{bound} (/healthz, /metrics)");
            Some(handle)
        }
        None => None,
    };

    if args.once {
        let started = Instant::now();
        let report = daemon.pass(&stop);
        log_report(&report);
        let s = &report.summary;
        if args.json {
            println!("{}", serde_json::to_string(s)?);
        } else {
            println!(
                "{} in {:.1} s",
                summary_line(s),
                started.elapsed().as_secs_f64()
            );
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = listener {
            let _ = h.join();
        }
        return Ok(exit::for_pass(s));
    }

    eprintln!(
        "devauth agent: a pass every {} s, refreshing what expires within {} s, {} at a time{}",
        args.interval,
        args.threshold,
        args.concurrency,
        if args.watch { ", watching sources" } else { "" }
    );
    let stop_flag: &AtomicBool = &stop;
    daemon.run(
        Duration::from_secs(args.interval),
        args.watch,
        stop_flag,
        &mut |report: &Report| {
            log_report(report);
            let s = &report.summary;
            if s.refreshed + s.needs_login + s.temporary + s.recovered > 0 {
                eprintln!(
                    "{} at {}",
                    summary_line(s),
                    rfc3339::format_seconds(clock.now())
                );
            }
        },
    );
    if let Some(h) = listener {
        let _ = h.join();
    }
    eprintln!("devauth agent: stopped");
    Ok(ExitCode::SUCCESS)
}
