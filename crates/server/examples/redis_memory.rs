//! Memory per pending device authorization in Redis: `INFO memory`
//! `used_memory` before and after creating N pending grants through the
//! [`FlowStore`], divided by N. Run it on a private, empty redis-server
//! (`bench/redis-memory.sh` does that); it deletes its keys at the end.
//!
//! Usage: `cargo run --release -p devauth-server --example redis_memory -- redis://127.0.0.1:PORT/ [N]`

use std::sync::Arc;

use devauth_server::clock::{Clock, SystemClock};
use devauth_server::random;
use devauth_server::store::redis::RedisFlowStore;
use devauth_server::store::{FlowStore, StoreError, StoreResult};
use devauth_testkit::store_suite::sample_grant;
use tokio::task::JoinSet;

/// Grants in flight at once.
const IN_FLIGHT: usize = 64;

async fn used_memory(client: &redis::Client) -> u64 {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .expect("INFO memory");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory")
}

async fn memory_usage(client: &redis::Client, key: &str) -> u64 {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async::<Option<u64>>(&mut conn)
        .await
        .expect("MEMORY USAGE")
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: redis_memory REDIS_URL [COUNT]");
    let count: usize = args
        .next()
        .map(|n| n.parse().expect("COUNT is a number"))
        .unwrap_or(100_000);
    let prefix = "devauth-bench:";
    let client = redis::Client::open(url.as_str()).expect("Redis URL");
    let store = Arc::new(RedisFlowStore::connect_with_prefix(&url, prefix).expect("store"));
    store.delete_all().await.expect("start from no keys");

    let before = used_memory(&client).await;
    let now = SystemClock.now();
    let mut tasks: JoinSet<StoreResult<()>> = JoinSet::new();
    let mut sample = None;
    for i in 0..count {
        if tasks.len() >= IN_FLIGHT {
            tasks
                .join_next()
                .await
                .expect("a task")
                .expect("task ran")
                .expect("add grant");
        }
        let grant = sample_grant(now);
        if i == 0 {
            sample = Some(grant.clone());
        }
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            // As the server does: a user code already taken is drawn again
            // (with 100,000 codes of 20^8 a clash happens in about one run
            // out of five).
            let mut grant = grant;
            loop {
                match store.add_device_grant(&grant).await {
                    Err(StoreError::AlreadyExists(_)) => {
                        grant.user_code = random::user_code().as_str().to_owned();
                    }
                    done => return done,
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task ran").expect("add grant");
    }
    let after = used_memory(&client).await;

    let grant = sample.expect("at least one grant");
    let grant_key = format!("{prefix}g:{}", grant.device_code_hash.as_str());
    let index_key = format!("{prefix}u:{}", grant.user_code);
    let expiring_key = format!("{prefix}expiring");
    let per_grant = memory_usage(&client, &grant_key).await;
    let per_index = memory_usage(&client, &index_key).await;
    let expiring = memory_usage(&client, &expiring_key).await;

    let total = after.saturating_sub(before);
    let per = total as f64 / count as f64;
    println!("pending authorizations: {count}");
    println!("used_memory before:     {before} bytes");
    println!("used_memory after:      {after} bytes");
    println!("bytes per authorization: {per:.0} (target < 1024)");
    println!(
        "  MEMORY USAGE: grant {per_grant} B, user-code index {per_index} B, expiry set {:.0} B per entry",
        expiring as f64 / count as f64
    );
    store.delete_all().await.expect("clean up");
    if per >= 1024.0 {
        std::process::exit(1);
    }
}
