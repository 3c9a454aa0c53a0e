//! Server-rendered verification pages.
use crate::app::AppState;

/// Routes of the HTML pages.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}
