//! Rate limits that hold across replicas and have no edges to game.
//!
//! Counts live in the [`FlowStore`] (so every replica sees them) as fixed
//! windows, and are read as a *sliding* window: the count of the current
//! window plus the previous window's count weighted by how much of it still
//! lies within one window of now (the sliding-window-counter estimate). A
//! client cannot spend a limit at the end of one window and again at the
//! start of the next: at the boundary the previous window still weighs in
//! fully, and its weight drains smoothly over the following window.

use crate::model::Timestamp;
use crate::store::{FlowStore, StoreResult};

/// The sliding count for `key` at `now`, given the current window's count.
async fn smoothed(
    flow: &dyn FlowStore,
    key: &str,
    window_secs: u32,
    now: Timestamp,
    current: u64,
) -> StoreResult<u64> {
    let window_ms = i64::from(window_secs.max(1)) * 1000;
    let previous = flow
        .hits(key, window_secs, now.plus_millis(-window_ms))
        .await?;
    let into_window = now.millis().rem_euclid(window_ms);
    // previous × (remaining share of the previous window), rounded up so the
    // estimate never undercounts.
    let weighted = (u128::from(previous) * u128::from((window_ms - into_window) as u64))
        .div_ceil(window_ms as u128);
    Ok(current + u64::try_from(weighted).unwrap_or(u64::MAX))
}

/// Counts one hit for `key` and returns the sliding count including it.
pub async fn hit(
    flow: &dyn FlowStore,
    key: &str,
    window_secs: u32,
    now: Timestamp,
) -> StoreResult<u64> {
    let current = flow.hit(key, window_secs, now).await?;
    smoothed(flow, key, window_secs, now, current).await
}

/// The sliding count for `key`, without counting a hit.
pub async fn count(
    flow: &dyn FlowStore,
    key: &str,
    window_secs: u32,
    now: Timestamp,
) -> StoreResult<u64> {
    let current = flow.hits(key, window_secs, now).await?;
    smoothed(flow, key, window_secs, now, current).await
}

/// Seconds until the sliding count for `key` drops below `limit` (if no more
/// hits come): a `Retry-After` that is neither too early nor too late.
pub async fn retry_after_secs(
    flow: &dyn FlowStore,
    key: &str,
    window_secs: u32,
    now: Timestamp,
    limit: u64,
) -> StoreResult<u64> {
    let window_ms = i64::from(window_secs.max(1)) * 1000;
    let previous = flow
        .hits(key, window_secs, now.plus_millis(-window_ms))
        .await?;
    let current = flow.hits(key, window_secs, now).await?;
    let into = now.millis().rem_euclid(window_ms);
    let rest = window_ms - into;
    // When the previous window's weight alone (or the current window's, in
    // the next one) lets the total fall below `limit`.
    let wait_ms = |weighted: u64, base: u64, remaining: i64| -> Option<i64> {
        if base >= limit {
            return None;
        }
        if weighted == 0 {
            return Some(0);
        }
        // ⌈weighted × r / window⌉ + base < limit
        //   ⇔  r ≤ (limit − base − 1) × window / weighted
        let r_max =
            i64::try_from(u128::from(limit - base - 1) * window_ms as u128 / u128::from(weighted))
                .unwrap_or(i64::MAX);
        Some((remaining - r_max).max(0))
    };
    let ms = match wait_ms(previous, current, rest) {
        Some(ms) => ms,
        // The current window alone is at the limit: past its end it is the
        // previous one, draining over the next.
        None => rest + wait_ms(current, 0, window_ms).unwrap_or(window_ms),
    };
    Ok(u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn the_previous_window_drains_smoothly() {
        let store = SqliteStore::open_temporary().await.unwrap();
        let t0 = Timestamp::from_secs(1_800_000_000); // a multiple of 60 s
        for _ in 0..10 {
            hit(&store, "k", 60, t0.plus_secs(59)).await.unwrap();
        }
        // Just after the boundary the previous window still counts in full…
        assert_eq!(count(&store, "k", 60, t0.plus_secs(60)).await.unwrap(), 10);
        // …half-way through, half of it…
        assert_eq!(count(&store, "k", 60, t0.plus_secs(90)).await.unwrap(), 5);
        // …and a window later, nothing.
        assert_eq!(count(&store, "k", 60, t0.plus_secs(120)).await.unwrap(), 0);
        // A hit adds to the weighted rest.
        assert_eq!(hit(&store, "k", 60, t0.plus_secs(90)).await.unwrap(), 6);
    }

    #[tokio::test]
    async fn retry_after_is_when_the_count_falls_below_the_limit() {
        let store = SqliteStore::open_temporary().await.unwrap();
        let t0 = Timestamp::from_secs(1_800_000_000);
        for _ in 0..10 {
            hit(&store, "r", 60, t0).await.unwrap();
        }
        // 10 hits now, limit 10: they all weigh until this window ends, then
        // drain; below 10 as soon as the next window has begun.
        let wait = retry_after_secs(&store, "r", 60, t0, 10).await.unwrap();
        assert_eq!(wait, 66);
        let later = t0.plus_secs(wait as i64);
        assert!(count(&store, "r", 60, later).await.unwrap() < 10);
        // Limit 5: half of the previous window must have drained.
        let wait = retry_after_secs(&store, "r", 60, t0, 5).await.unwrap();
        assert_eq!(wait, 96);
        assert!(
            count(&store, "r", 60, t0.plus_secs(wait as i64))
                .await
                .unwrap()
                < 5
        );
        assert!(
            count(&store, "r", 60, t0.plus_secs(wait as i64 - 2))
                .await
                .unwrap()
                >= 5
        );
    }
}
