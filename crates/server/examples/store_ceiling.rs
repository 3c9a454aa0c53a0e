//! How fast the durable SQLite store alone serves the load benchmark's two
//! hot paths, with no HTTP and no load generator: the ceiling the store puts
//! on `bench/load.sh`'s figures on this machine (docs/benchmarks.md).
//!
//! * `create`: what the device-authorization endpoint asks of the store for
//!   each request — a fresh device code and user code, the grant stored
//!   (committed before the answer), and its audit row through the background
//!   audit writer, as `devauth serve` does;
//! * `create-bare`: the same without the audit row, to price it;
//! * `poll`: what a too-early poll asks of it — the grant read by the hash of
//!   its device code, over 64 pending grants.
//!
//! `CONCURRENCY` tasks (32, as wrk's connections) run on the runtime
//! `devauth serve` uses for `SECONDS`; it prints operations per second and
//! the CPU time the process spent per operation (from `/proc/self/stat`), so
//! the store's cost can be added to the HTTP stack's.
//!
//! Usage: `cargo run --release -p devauth-server --example store_ceiling -- create|create-bare|poll DATA_DIR [SECONDS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use devauth_server::audit::{AuditSink, AuditWriter};
use devauth_server::clock::{Clock, SystemClock};
use devauth_server::model::{AuditEvent, TokenHash};
use devauth_server::random;
use devauth_server::store::sqlite::SqliteStore;
use devauth_server::store::{FlowStore, StoreError};
use devauth_testkit::store_suite::sample_grant;

// The allocator `devauth serve` runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests in flight at once (wrk's connections in `bench/load.sh`).
const CONCURRENCY: usize = 32;

/// Pending grants the poll mode reads, as `bench/load.sh` seeds.
const CODES: usize = 64;

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, in clock ticks
    // (100 per second on Linux).
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: store_ceiling create|create-bare|poll DATA_DIR [SECONDS]";
    let mode = args.next().expect(usage);
    let dir = std::path::PathBuf::from(args.next().expect(usage));
    let seconds: u64 = args
        .next()
        .map_or(10, |s| s.parse().expect("SECONDS is a number"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(&mode, &dir, Duration::from_secs(seconds)));
}

async fn run(mode: &str, dir: &std::path::Path, length: Duration) {
    std::fs::create_dir_all(dir).expect("make DATA_DIR");
    let store = Arc::new(
        SqliteStore::open(&dir.join("devauth.db"))
            .await
            .expect("open the store"),
    );
    let (audit, writer) = AuditWriter::spawn(store.clone());
    let AuditSink::Background(audit) = audit else {
        unreachable!("spawn makes a background sink")
    };
    let mut codes = Vec::new();
    for _ in 0..CODES {
        let grant = sample_grant(SystemClock.now());
        store.add_device_grant(&grant).await.expect("seed a grant");
        codes.push(grant.device_code_hash.clone());
    }
    let codes: Arc<Vec<TokenHash>> = Arc::new(codes);
    assert!(
        matches!(mode, "create" | "create-bare" | "poll"),
        "MODE is create, create-bare or poll"
    );
    let create = mode.starts_with("create");
    let with_audit = mode == "create";
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    // Audit rows the full queue refused (the server drops them too, and
    // counts them in `devauth_audit_dropped_total`): each is writer work
    // not done, so it is reported beside the figure.
    let dropped = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let cpu_start = cpu_time();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let (store, audit, codes) = (store.clone(), audit.clone(), codes.clone());
        let (stop, done, dropped) = (stop.clone(), done.clone(), dropped.clone());
        tasks.spawn(async move {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                if create {
                    // A fresh device code (and its hash) and user code,
                    // drawn as the endpoint draws them.
                    let now = SystemClock.now();
                    let mut grant = sample_grant(now);
                    loop {
                        match store.add_device_grant(&grant).await {
                            Err(StoreError::AlreadyExists(_)) => {
                                grant.user_code = random::user_code().as_str().to_owned();
                            }
                            other => break other.expect("store a grant"),
                        }
                    }
                    if with_audit {
                        let row = AuditEvent {
                            at: now,
                            kind: "device_code.issued".into(),
                            client_id: Some(grant.client_id.clone()),
                            user_id: None,
                            ip: Some(grant.requester.ip.clone()),
                            details: serde_json::json!({ "grant_id": grant.id, "scope": grant.scope.to_string() }),
                        };
                        if audit.try_send(row).is_err() {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                } else {
                    let hash = &codes[i % codes.len()];
                    store
                        .device_grant_by_code(hash)
                        .await
                        .expect("read a grant")
                        .expect("a seeded grant");
                    i += 1;
                    // A real request yields to the runtime between reads.
                    tokio::task::yield_now().await;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let ops = done.load(Ordering::Relaxed);
    let wall = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_start);
    while tasks.join_next().await.is_some() {}
    drop(audit);
    writer.shutdown().await;
    store.close().await;
    let per_op = cpu.as_secs_f64() * 1e6 / ops as f64;
    println!(
        "{mode}: {:.0} ops/s over {:.1} s; CPU {:.2} cores, {per_op:.1} µs per op",
        ops as f64 / wall.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_secs_f64() / wall.as_secs_f64(),
    );
    let dropped = dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        println!("  audit rows dropped (queue full): {dropped} of {ops}");
    }
}
