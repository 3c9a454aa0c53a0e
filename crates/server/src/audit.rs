//! Audit events: one row in the durable store and one `tracing` line per
//! security-relevant event, of one of the kinds [`EventKind`] lists
//! (`device_code.issued`, `device_code.approved`, `token.issued`,
//! `refresh.reuse_detected`, ...).
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

/// What an audit event records. [`EventKind::as_str`] gives the `kind`
/// stored in the audit table, logged and used as the metric label: those
/// strings are data (stored rows, alerts, docs) and must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A device asked for a code (`POST /oauth/device_authorization`).
    DeviceCodeIssued,
    /// A person approved a device code on the confirm page.
    DeviceCodeApproved,
    /// A person denied a device code on the confirm page.
    DeviceCodeDenied,
    /// A device code was locked (denied) after too many refused confirmations.
    DeviceCodeLocked,
    /// A device exchanged its approved code for tokens.
    DeviceCodeExchanged,
    /// A device code expired undecided (recorded by the sweeper).
    DeviceCodeExpired,
    /// A person denied an authorization-code request on the consent page.
    AuthorizationDenied,
    /// A person approved an authorization-code request: a code went to the client.
    AuthorizationCodeIssued,
    /// An authorization code was presented a second time (its tokens are revoked).
    AuthorizationCodeReplayed,
    /// Tokens were issued (any grant).
    TokenIssued,
    /// A token was revoked (RFC 7009).
    TokenRevoked,
    /// A rotated-out refresh token came back after its grace period: its family is revoked.
    RefreshReuseDetected,
    /// A client registered itself (RFC 7591).
    ClientRegistered,
    /// A person signed in.
    UserLogin,
    /// A sign-in failed (wrong password, or an unknown name).
    UserLoginFailed,
}

impl EventKind {
    /// Every kind, in the order listed above.
    pub const ALL: [Self; 15] = [
        Self::DeviceCodeIssued,
        Self::DeviceCodeApproved,
        Self::DeviceCodeDenied,
        Self::DeviceCodeLocked,
        Self::DeviceCodeExchanged,
        Self::DeviceCodeExpired,
        Self::AuthorizationDenied,
        Self::AuthorizationCodeIssued,
        Self::AuthorizationCodeReplayed,
        Self::TokenIssued,
        Self::TokenRevoked,
        Self::RefreshReuseDetected,
        Self::ClientRegistered,
        Self::UserLogin,
        Self::UserLoginFailed,
    ];

    /// The stored and logged name: `device_code.issued`, `token.issued`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DeviceCodeIssued => "device_code.issued",
            Self::DeviceCodeApproved => "device_code.approved",
            Self::DeviceCodeDenied => "device_code.denied",
            Self::DeviceCodeLocked => "device_code.locked",
            Self::DeviceCodeExchanged => "device_code.exchanged",
            Self::DeviceCodeExpired => "device_code.expired",
            Self::AuthorizationDenied => "authorization.denied",
            Self::AuthorizationCodeIssued => "authorization_code.issued",
            Self::AuthorizationCodeReplayed => "authorization_code.replayed",
            Self::TokenIssued => "token.issued",
            Self::TokenRevoked => "token.revoked",
            Self::RefreshReuseDetected => "refresh.reuse_detected",
            Self::ClientRegistered => "client.registered",
            Self::UserLogin => "user.login",
            Self::UserLoginFailed => "user.login_failed",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, to whom; built by the handlers.
#[derive(Debug)]
pub struct Event<'a> {
    /// Event kind.
    pub kind: EventKind,
    /// Client involved.
    pub client_id: Option<&'a str>,
    /// User involved.
    pub user_id: Option<&'a str>,
    /// Requester IP.
    pub ip: Option<&'a str>,
    /// Extra details (ids only).
    pub details: serde_json::Value,
}

impl Event<'_> {
    /// An event of `kind` naming no client, user, IP or details yet (fill
    /// them in with struct update syntax: `Event { ip, ..Event::of(kind) }`).
    pub fn of(kind: EventKind) -> Self {
        Self {
            kind,
            client_id: None,
            user_id: None,
            ip: None,
            details: serde_json::Value::Null,
        }
    }
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
        metrics::counter!("devauth_audit_events_total", "kind" => event.kind.as_str()).increment(1);
        tracing::info!(
            target: "devauth::audit",
            kind = event.kind.as_str(),
            client_id = event.client_id,
            user_id = event.user_id,
            ip = event.ip,
            details = %details,
            "audit"
        );
        let row = AuditEvent {
            at,
            kind: event.kind.as_str().to_owned(),
            client_id: event.client_id.map(str::to_owned),
            user_id: event.user_id.map(str::to_owned),
            ip: event.ip.map(str::to_owned),
            details,
        };
        match self {
            Self::Direct => {
                if let Err(e) = store.audit(&row).await {
                    tracing::warn!(error = %e, kind = event.kind.as_str(), "could not store an audit event");
                }
            }
            Self::Background(tx) => {
                if tx.try_send(row).is_err() {
                    metrics::counter!("devauth_audit_dropped_total").increment(1);
                    tracing::warn!(
                        kind = event.kind.as_str(),
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

    #[test]
    fn kind_names_are_distinct_and_dotted() {
        let names: std::collections::BTreeSet<_> =
            EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), EventKind::ALL.len());
        assert!(names.iter().all(|n| n.contains('.')));
        assert_eq!(
            EventKind::RefreshReuseDetected.as_str(),
            "refresh.reuse_detected"
        );
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
