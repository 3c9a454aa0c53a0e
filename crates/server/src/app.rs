//! The router: every route and page of the server, with the layers around
//! them, over an [`AppState`].
//!
//! Serve [`router`] with `into_make_service_with_connect_info::<SocketAddr>()`
//! (as [`crate::listener::serve`] does) so handlers see the peer address;
//! build its state as [`crate::state`] describes.

use axum::extract::DefaultBodyLimit;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::BODY_LIMIT_BYTES;
use crate::state::AppState;

/// The whole HTTP surface: OAuth endpoints and verification pages, with the
/// body limit, panic catcher and metrics around them; `/metrics` too unless
/// it is served on an address of its own (`config.metrics_listen`).
pub fn router(state: AppState) -> axum::Router {
    let mut routes = axum::Router::new()
        .merge(crate::routes::router())
        .merge(crate::pages::router());
    if state.config.metrics_listen.is_none() {
        routes = routes.route(
            crate::routes::metrics::PATH,
            axum::routing::get(crate::routes::metrics::handle),
        );
    }
    routes
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(CatchPanicLayer::custom(
            crate::routes::error::panic_response,
        ))
        .with_state(state)
}

/// `/metrics` alone, for `--metrics-listen` (a scrape address kept off the
/// public listener).
pub fn metrics_router() -> axum::Router {
    axum::Router::new().route(
        crate::routes::metrics::PATH,
        axum::routing::get(crate::routes::metrics::handle),
    )
}
