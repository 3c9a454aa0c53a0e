//! `POST /oauth/device_authorization` (RFC 8628 §3.1, §3.2).
//!
//! Guards, in order: the per-IP rate limit (`--device-rate-limit` per
//! minute, 0 = off; over it → 429 `slow_down`), client identification,
//! the client's right to the device grant (`unauthorized_client`), the scope
//! (`invalid_scope`). The device code is its issue time (12 hex digits, not
//! secret) and 256 bits from the OS CSPRNG; only the time and the SHA-256 of
//! the whole code are stored ([`TokenHash::of_device_code`]), so new grants
//! land at one end of the store's index. The user code is redrawn on a
//! collision.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use devauth_proto::device::DeviceAuthorizationResponse;
use devauth_proto::{ErrorCode, GrantType, Scope};

use super::client_auth::authenticate;
use super::error::{OAuthError, no_store_json};
use super::form::OAuthForm;
use super::issue::resolve_scope;
use crate::audit::{Event, EventKind};
use crate::client_addr::RequesterInfo;
use crate::model::{DeviceGrant, DeviceGrantState, TokenHash};
use crate::state::AppState;
use crate::store::StoreError;

/// The path.
pub const PATH: &str = "/oauth/device_authorization";

/// How many user codes to draw before giving up on collisions.
const MAX_DRAWS: usize = 8;

/// The handler.
#[tracing::instrument(name = "device_authorization", skip_all)]
pub async fn handle(
    State(state): State<AppState>,
    RequesterInfo(requester): RequesterInfo,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let now = state.clock.now();
    let limit = state.config.device_rate_limit;
    if limit > 0 {
        let key = format!("device_authorization:{}", requester.ip);
        let hits = crate::rate_limit::hit(state.stores.flow.as_ref(), &key, 60, now).await?;
        if hits > u64::from(limit) {
            return Err(OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::SlowDown,
                "too many device authorizations from this address, retry in a minute",
            ));
        }
    }
    let client = authenticate(&state, &headers, &form).await?;
    if !client.client().allows_grant(&GrantType::DeviceCode) {
        return Err(OAuthError::bad(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device authorization grant",
        ));
    }
    let default = default_scope(client.client());
    let resource = super::resource::requested(&state, &form).await?;
    let scope = resolve_scope(&client, form.get("scope"), &default, resource.as_ref())?;

    let device_code = crate::random::device_code(now);
    let mut grant = DeviceGrant {
        id: crate::random::id(),
        device_code_hash: TokenHash::of_device_code(device_code.expose()),
        user_code: String::new(),
        client_id: client.id().to_owned(),
        resource: resource.map(|r| r.url),
        scope,
        requester,
        created_at: now,
        expires_at: now.plus_secs(i64::from(state.config.code_ttl_secs)),
        interval_secs: state.config.poll_interval_secs,
        last_polled_at: None,
        failed_confirmations: 0,
        state: DeviceGrantState::Pending,
        version: 0,
    };
    let mut user_code = None;
    for _ in 0..MAX_DRAWS {
        let code = crate::random::user_code();
        grant.user_code = code.as_str().to_owned();
        match state.stores.flow.add_device_grant(&grant).await {
            Ok(()) => {
                user_code = Some(code);
                break;
            }
            Err(StoreError::AlreadyExists(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let Some(user_code) = user_code else {
        tracing::error!("could not draw a free user code");
        return Err(OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            "no free user code, retry later",
        ));
    };
    state
        .record_audit(Event {
            client_id: Some(client.id()),
            ip: Some(&grant.requester.ip),
            details: serde_json::json!({ "grant_id": grant.id, "scope": grant.scope.to_string() }),
            ..Event::of(EventKind::DeviceCodeIssued)
        })
        .await;
    let verification_uri = state.config.url("/device");
    let body = DeviceAuthorizationResponse {
        device_code,
        user_code: user_code.display(),
        verification_uri_complete: state
            .config
            .verification_uri_complete
            .then(|| format!("{verification_uri}?user_code={}", user_code.display())),
        verification_uri,
        expires_in: u64::from(state.config.code_ttl_secs),
        interval: Some(u64::from(state.config.poll_interval_secs)),
        message: None,
    };
    Ok(no_store_json(&body))
}

/// `openid` when the client may have it, else nothing.
pub fn default_scope(client: &crate::model::Client) -> Scope {
    if client.allowed_scopes.is_empty() || client.allowed_scopes.contains("openid") {
        Scope::from_tokens(["openid"])
    } else {
        Scope::default()
    }
}
