//! Audit events: one row in the durable store and one `tracing` line per
//! security-relevant event (`device_code.issued`, `device_code.approved`,
//! `device_code.denied`, `device_code.expired`, `token.issued`,
//! `refresh.reuse_detected`, `token.revoked`, ...).
//!
//! Callers pass ids only (grant id, family id, `jti`), never a raw secret.
//! A failure to store an event is logged and does not fail the request.
//!
//! The `tracing` line is always written before [`AuditSink::record`] returns
//! (handlers call it through [`crate::state::AppState::record_audit`]). Where the
//! row goes depends on the state's [`AuditSink`]: [`AuditSink::Direct`] (the
//! default, and what tests use) stores it before returning;
//! [`AuditSink::Background`] (what `devauth serve` uses) hands it to an
//! [`AuditWriter`] task that stores queued rows in batches of up to
//! [`MAX_BATCH`], one transaction each, off the request path. Its queue holds
//! [`QUEUE_CAPACITY`] rows; when it is full the row is dropped, logged, and
//! counted in `devauth_audit_dropped_total` rather than slowing requests
//! down. [`AuditWriter::shutdown`] stores everything queued before exiting.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::model::{AuditEvent, Timestamp};
use crate::store::DurableStore;

/// Rows the background writer's queue holds.
pub const QUEUE_CAPACITY: usize = 8192;

/// Most rows stored in one transaction.
pub const MAX_BATCH: usize = 256;

/// Where [`AuditSink::record`] puts the audit row.
#[derive(Debug, Clone, Default)]
pub enum AuditSink {
    /// Stored in the durable store before `record` returns.
    #[default]
    Direct,
    /// Queued for an [`AuditWriter`].
    Background(mpsc::Sender<AuditEvent>),
}

/// The background task storing queued audit rows.
#[derive(Debug)]
pub struct AuditWriter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl AuditWriter {
    /// Starts a writer storing into `store`; put the returned sink in
    /// [`crate::state::Shared::audit`].
    pub fn spawn(store: Arc<dyn DurableStore>) -> (AuditSink, Self) {
        Self::spawn_with_capacity(store, QUEUE_CAPACITY)
    }

    fn spawn_with_capacity(store: Arc<dyn DurableStore>, capacity: usize) -> (AuditSink, Self) {
        let (tx, rx) = mpsc::channel(capacity);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(store, rx, stopped));
        (AuditSink::Background(tx), Self { stop, task })
    }

    /// Stores every row queued so far, then ends the task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the audit writer failed");
        }
    }
}

async fn run(
    store: Arc<dyn DurableStore>,
    mut rx: mpsc::Receiver<AuditEvent>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => {
                if n == 0 {
                    return;
                }
                store_batch(store.as_ref(), &mut batch).await;
            }
            _ = &mut stopped => {
                // Senders may live on (state clones): drain what is queued.
                rx.close();
                while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                    store_batch(store.as_ref(), &mut batch).await;
                }
                return;
            }
        }
    }
}

async fn store_batch(store: &dyn DurableStore, batch: &mut Vec<AuditEvent>) {
    if let Err(e) = store.audit_batch(batch).await {
        tracing::warn!(error = %e, rows = batch.len(), "could not store audit events");
    }
    batch.clear();
}

/// What happened, to whom; built by the handlers.
#[derive(Debug, Default)]
pub struct Event<'a> {
    /// Event kind.
    pub kind: &'a str,
    /// Client involved.
    pub client_id: Option<&'a str>,
    /// User involved.
    pub user_id: Option<&'a str>,
    /// Requester IP.
    pub ip: Option<&'a str>,
    /// Extra details (ids only).
    pub details: serde_json::Value,
}

impl AuditSink {
    /// Records `event`, which happened `at`: the `tracing` line now, the row
    /// in `store` now ([`AuditSink::Direct`]) or through the writer's queue.
    pub async fn record(&self, store: &dyn DurableStore, at: Timestamp, event: Event<'_>) {
        let details = if event.details.is_null() {
            serde_json::json!({})
        } else {
            event.details
        };
        metrics::counter!("devauth_audit_events_total", "kind" => event.kind.to_owned())
            .increment(1);
        tracing::info!(
            target: "devauth::audit",
            kind = event.kind,
            client_id = event.client_id,
            user_id = event.user_id,
            ip = event.ip,
            details = %details,
            "audit"
        );
        let row = AuditEvent {
            at,
            kind: event.kind.to_owned(),
            client_id: event.client_id.map(str::to_owned),
            user_id: event.user_id.map(str::to_owned),
            ip: event.ip.map(str::to_owned),
            details,
        };
        match self {
            Self::Direct => {
                if let Err(e) = store.audit(&row).await {
                    tracing::warn!(error = %e, kind = event.kind, "could not store an audit event");
                }
            }
            Self::Background(tx) => {
                if tx.try_send(row).is_err() {
                    metrics::counter!("devauth_audit_dropped_total").increment(1);
                    tracing::warn!(
                        kind = event.kind,
                        "audit queue full or closed: the event was not stored"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            at: Timestamp::from_secs(1_700_000_000),
            kind: format!("test.{n}"),
            client_id: None,
            user_id: None,
            ip: None,
            details: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn shutdown_stores_every_queued_row_in_order() {
        let store = Arc::new(SqliteStore::open_temporary().await.unwrap());
        let (sink, writer) = AuditWriter::spawn(store.clone());
        let AuditSink::Background(tx) = &sink else {
            panic!("a background sink")
        };
        for n in 0..600 {
            tx.try_send(event(n)).unwrap();
        }
        writer.shutdown().await;
        let rows = store.recent_audit(1000).await.unwrap();
        assert_eq!(rows.len(), 600);
        assert_eq!(rows[0].kind, "test.599", "newest first");
        assert_eq!(rows[599].kind, "test.0");
        // The queue is closed after shutdown.
        assert!(tx.try_send(event(600)).is_err());
    }

    #[tokio::test]
    async fn a_batch_is_stored_in_order() {
        let store = SqliteStore::open_temporary().await.unwrap();
        store
            .audit_batch(&[event(1), event(2), event(3)])
            .await
            .unwrap();
        let kinds: Vec<_> = store
            .recent_audit(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["test.3", "test.2", "test.1"]);
    }

    #[tokio::test]
    async fn a_full_queue_drops_instead_of_blocking() {
        let store = Arc::new(SqliteStore::open_temporary().await.unwrap());
        // The test runtime has one thread: the writer cannot drain the
        // queue before this loop awaits.
        let (sink, writer) = AuditWriter::spawn_with_capacity(store.clone(), 1);
        let AuditSink::Background(tx) = &sink else {
            panic!("a background sink")
        };
        let mut sent = 0;
        for n in 0..10_000 {
            if tx.try_send(event(n)).is_ok() {
                sent += 1;
            }
        }
        assert_eq!(sent, 1, "rows past the capacity are refused, not awaited");
        writer.shutdown().await;
        let rows = store.recent_audit(20_000).await.unwrap();
        assert_eq!(rows.len(), sent);
    }
}
