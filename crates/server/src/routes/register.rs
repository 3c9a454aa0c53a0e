//! `POST /oauth/register`: dynamic client registration (RFC 7591), as MCP
//! clients use it. Off by default (`devauth serve --registration
//! off|open|token`); with `token`, the request must carry an initial access
//! token from `devauth admin registration-token` as a bearer token.
//!
//! Guards, in order: the policy (off → 404), the per-IP rate limit
//! (`registration_rate_limit` per hour → 429), the initial access token
//! (→ 401 `invalid_token`), a JSON body, then the metadata rules of
//! [`crate::registration`] (→ 400 `invalid_redirect_uri` /
//! `invalid_client_metadata`). A confidential client's secret is in the 201
//! answer only; the server keeps its hash. Self-registered clients that
//! never receive a token are deleted by the sweeper after
//! `registered_client_ttl_secs`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use devauth_proto::ErrorCode;
use devauth_proto::registration::{ClientInformation, ClientMetadata};

use super::error::OAuthError;
use crate::audit::{Event, EventKind};
use crate::client_addr::RequesterInfo;
use crate::config::RegistrationPolicy;
use crate::model::{ClientOrigin, TokenHash};
use crate::registration::{Registered, register};
use crate::state::AppState;
use crate::store::StoreError;

/// The path.
pub const PATH: &str = "/oauth/register";

/// The handler.
#[tracing::instrument(name = "register", skip_all)]
pub async fn handle(
    State(state): State<AppState>,
    RequesterInfo(requester): RequesterInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let origin = match state.config.registration {
        RegistrationPolicy::Off => {
            return Err(OAuthError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidRequest,
                "dynamic client registration is off on this server",
            ));
        }
        RegistrationPolicy::Open => ClientOrigin::Registered,
        RegistrationPolicy::Token => ClientOrigin::RegisteredWithToken,
    };
    let now = state.clock.now();
    let limit = state.config.registration_rate_limit;
    if limit > 0 {
        let key = format!("register:{}", requester.ip);
        if crate::rate_limit::hit(state.stores.flow.as_ref(), &key, 3600, now).await?
            > u64::from(limit)
        {
            return Err(OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::InvalidRequest,
                "too many registrations from this address, retry in an hour",
            ));
        }
    }
    if origin == ClientOrigin::RegisteredWithToken {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(devauth_proto::bearer::parse_authorization)
            .ok_or_else(OAuthError::invalid_token)?;
        if !state
            .stores
            .durable
            .registration_token_valid(&TokenHash::of(token), now)
            .await?
        {
            return Err(OAuthError::invalid_token());
        }
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(OAuthError::invalid_request(
            "send the client metadata as application/json",
        ));
    }
    let requested: ClientMetadata = serde_json::from_slice(&body).map_err(|_| {
        OAuthError::bad(
            ErrorCode::InvalidClientMetadata,
            "the body is not a JSON object of client metadata",
        )
    })?;
    let resource_scopes: Vec<String> = state
        .stores
        .durable
        .list_resources()
        .await?
        .iter()
        .flat_map(|r| r.scopes.iter().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let Registered {
        mut client,
        confidential,
        metadata,
    } = register(
        requested,
        crate::random::id(),
        origin,
        now,
        &resource_scopes,
    )
    .map_err(|refusal| OAuthError::bad(refusal.code, refusal.description))?;
    let secret = confidential.then(crate::random::secret);
    client.secret_hash = secret.as_ref().map(crate::registration::secret_hash);
    match state.stores.durable.add_client(&client).await {
        Ok(()) => {}
        // A random id collided: vanishingly rare, and the client may retry.
        Err(StoreError::AlreadyExists(_)) => return Err(OAuthError::server_error()),
        Err(e) => return Err(e.into()),
    }
    state
        .record_audit(Event {
            client_id: Some(&client.id),
            ip: Some(&requester.ip),
            details: serde_json::json!({
                "origin": origin.as_str(),
                "confidential": confidential,
            }),
            ..Event::of(EventKind::ClientRegistered)
        })
        .await;
    let info = ClientInformation {
        client_id: client.id.clone(),
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        client_id_issued_at: now.secs(),
        metadata,
    };
    let mut res = (StatusCode::CREATED, axum::Json(info)).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
