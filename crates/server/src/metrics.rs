//! Prometheus metrics: the recorder, the request-tracking middleware, and
//! what `/metrics` renders.
//!
//! Metrics (all prefixed `devauth_`):
//! * `devauth_http_requests_total{route, method, status}` — every response
//!   (`route` is the route template or `unmatched`, `method` one of a fixed
//!   set or `other`: no label takes a value a client chooses);
//! * `devauth_http_request_duration_seconds{route, method}` — a histogram
//!   with explicit buckets (so Prometheus gets real buckets, not summaries);
//! * `devauth_oauth_outcomes_total{route, outcome}` — `ok` or the RFC 6749
//!   error code an OAuth endpoint answered with (`authorization_pending`,
//!   `slow_down`, `invalid_grant`, ...);
//! * `devauth_audit_events_total{kind}` — audit events;
//! * `devauth_audit_dropped_total` — audit rows dropped because the
//!   background audit writer's queue was full (see [`crate::audit`]).
//!
//! The recorder is process-global; it is installed once, on first use.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The outcome an OAuth handler answered with, left in the response extensions
/// for [`track`].
#[derive(Debug, Clone)]
pub struct Outcome(pub String);

/// The global Prometheus handle (installing the recorder on first call);
/// `None` when another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// The method as a label: one of a fixed set, anything else `other`, so
/// made-up methods cannot grow `/metrics` without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware counting requests and timing them. Every label takes a
/// bounded set of values: the matched route template (`unmatched` for any
/// other path), `method_label`, the status code.
pub async fn track(req: Request, next: Next) -> Response {
    // Make sure the recorder exists before the first metric is emitted.
    let _ = handle();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let start = Instant::now();
    let response = next.run(req).await;
    let elapsed = start.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    metrics::counter!("devauth_http_requests_total", "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!("devauth_http_request_duration_seconds", "route" => route.clone(), "method" => method).record(elapsed);
    if let Some(Outcome(outcome)) = response.extensions().get::<Outcome>() {
        metrics::counter!("devauth_oauth_outcomes_total", "route" => route, "outcome" => outcome.clone()).increment(1);
    }
    response
}
