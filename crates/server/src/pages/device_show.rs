//! `GET /device`: the code entry form; `?user_code=XXXX-XXXX` pre-fills it
//! (RFC 8628 §3.3.1 `verification_uri_complete`). The person still presses
//! Continue, so a link alone never reaches the confirm page.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;

use super::client_ip::ClientIp;
use super::device_code;
use super::error::PageError;
use super::form;
use super::session;
use super::view::{self, DevicePage};

#[derive(Deserialize)]
struct Query {
    user_code: Option<String>,
}

/// Shows the code entry form, starting a session if needed.
#[tracing::instrument(name = "pages.device.show", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query: Query = form::parse_query(query.as_deref())?;
    let session = session::load_or_start(&state, &headers, &ip).await?;
    let page = DevicePage {
        csrf: session.record.csrf_token.clone(),
        user_code: query
            .user_code
            .as_deref()
            .map(device_code::refill)
            .unwrap_or_default(),
        error: None,
    };
    Ok(session.attach(view::render(StatusCode::OK, &page)))
}
