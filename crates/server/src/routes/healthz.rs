//! `GET /healthz`: pings both stores (each with a short timeout) and answers
//! `{"status": "ok"|"unavailable", "durable": …, "flow": …}`, 503 when either
//! store does not answer.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;
use crate::store::StoreResult;

/// The path.
pub const PATH: &str = "/healthz";

const PING_TIMEOUT: Duration = Duration::from_secs(2);

fn verdict(r: Result<StoreResult<()>, tokio::time::error::Elapsed>) -> &'static str {
    match r {
        Ok(Ok(())) => "ok",
        _ => "unavailable",
    }
}

/// The handler.
pub async fn handle(State(state): State<AppState>) -> Response {
    let (durable, flow) = tokio::join!(
        tokio::time::timeout(PING_TIMEOUT, state.stores.durable.ping()),
        tokio::time::timeout(PING_TIMEOUT, state.stores.flow.ping()),
    );
    let (durable, flow) = (verdict(durable), verdict(flow));
    let ok = durable == "ok" && flow == "ok";
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "unavailable" },
        "durable": durable,
        "flow": flow,
    });
    (status, axum::Json(body)).into_response()
}
