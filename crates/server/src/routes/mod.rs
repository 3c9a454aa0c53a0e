//! OAuth and JSON endpoints, one file per route.
use crate::app::AppState;

/// Routes of the OAuth/JSON surface.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}
