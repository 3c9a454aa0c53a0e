//! The background sweeper: every [`INTERVAL`] it deletes what has expired in
//! both stores, audits device grants that expired while pending
//! (`device_code.expired`), prunes audit events past the retention
//! (`audit_retention_days`), deletes self-registered clients that never
//! received a token within `registered_client_ttl_secs`, and reloads the signing keys (so a rotation by
//! `devauth admin keys rotate` or another replica is picked up).
//!
//! A failing store is logged and retried on the next tick; the task ends when
//! its handle is aborted.

use std::time::Duration;

use crate::audit::{Event, EventKind};
use crate::state::AppState;

/// Audit rows deleted per statement, and statements per sweep (bounded
/// work per tick: a backlog is worked off over several ticks).
const AUDIT_BATCH: u32 = 1000;
const AUDIT_BATCHES: usize = 20;

/// Time between sweeps.
pub const INTERVAL: Duration = Duration::from_secs(30);

/// Runs one sweep now.
pub async fn sweep_once(state: &AppState) {
    let now = state.clock.now();
    match state.stores.flow.sweep(now).await {
        Ok(expired) => {
            for grant in expired {
                state
                    .record_audit(Event {
                        client_id: Some(&grant.client_id),
                        ip: Some(&grant.requester.ip),
                        details: serde_json::json!({ "grant_id": grant.id }),
                        ..Event::of(EventKind::DeviceCodeExpired)
                    })
                    .await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "sweeping the flow store failed"),
    }
    if let Err(e) = state.stores.durable.sweep(now).await {
        tracing::warn!(error = %e, "sweeping the durable store failed");
    }
    if state.config.audit_retention_days > 0 {
        let before = now.plus_secs(-i64::from(state.config.audit_retention_days) * 86_400);
        let mut pruned = 0;
        for _ in 0..AUDIT_BATCHES {
            match state
                .stores
                .durable
                .delete_audit_before(before, AUDIT_BATCH)
                .await
            {
                Ok(n) => {
                    pruned += n;
                    if n < u64::from(AUDIT_BATCH) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning audit events failed");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(deleted = pruned, "pruned audit events past the retention");
        }
    }
    let unused_since = now.plus_secs(-i64::from(state.config.registered_client_ttl_secs));
    match state
        .stores
        .durable
        .delete_unused_registered_clients(unused_since)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "deleted self-registered clients never used"),
        Err(e) => tracing::warn!(error = %e, "deleting unused registered clients failed"),
    }
    if let Err(e) = state
        .keys
        .reload(
            state.stores.durable.as_ref(),
            now,
            state.config.max_token_ttl_secs(),
        )
        .await
    {
        tracing::warn!(error = %e, "reloading signing keys failed");
    }
    if let Some(h) = crate::metrics::handle() {
        h.run_upkeep();
    }
}

/// Spawns the sweeper on the current runtime.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            sweep_once(&state).await;
        }
    })
}
