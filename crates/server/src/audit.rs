//! Audit events: one row in the durable store and one `tracing` line per
//! security-relevant event (`device_code.issued`, `device_code.approved`,
//! `device_code.denied`, `device_code.expired`, `token.issued`,
//! `refresh.reuse_detected`, `token.revoked`, ...).
//!
//! Callers pass ids only (grant id, family id, `jti`), never a raw secret.
//! A failure to store an event is logged and does not fail the request.

use crate::app::AppState;
use crate::model::AuditEvent;

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

/// Records an event.
pub async fn record(state: &AppState, event: Event<'_>) {
    let details = if event.details.is_null() {
        serde_json::json!({})
    } else {
        event.details
    };
    metrics::counter!("devauth_audit_events_total", "kind" => event.kind.to_owned()).increment(1);
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
        at: state.clock.now(),
        kind: event.kind.to_owned(),
        client_id: event.client_id.map(str::to_owned),
        user_id: event.user_id.map(str::to_owned),
        ip: event.ip.map(str::to_owned),
        details,
    };
    if let Err(e) = state.stores.durable.audit(&row).await {
        tracing::warn!(error = %e, kind = event.kind, "could not store an audit event");
    }
}
