//! The application state shared by every handler, and the router.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::Stores;

/// What every handler can reach (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Arc<Config>,
}

/// The whole HTTP surface: OAuth endpoints and verification pages.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .merge(crate::routes::router())
        .merge(crate::pages::router())
        .with_state(state)
}
