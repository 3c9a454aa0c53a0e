//! Minting tokens, shared by every grant of the token endpoint.
//!
//! * Access tokens are RS256 JWTs (RFC 9068) carrying `sid`, the id of the
//!   refresh-token family, so revoking the family revokes them too.
//! * A refresh token is issued when the client may use the `refresh_token`
//!   grant and the scope holds `offline_access`; it is stored only as a hash.
//! * An ID token is issued when the scope holds `openid`.
//!
//! Only an [`AuthenticatedClient`] can receive tokens.

use axum::response::Response;
use devauth_proto::token::{BEARER, TokenResponse};
use devauth_proto::{GrantType, Scope, Secret};

use super::client_auth::AuthenticatedClient;
use super::error::{OAuthError, no_store_json};
use crate::audit::{Event, EventKind};
use crate::keys::{AccessClaims, IdClaims, at_hash};
use crate::model::{
    Client, KeyAlgorithm, RefreshToken, RefreshTokenState, Resource, Timestamp, TokenFamily,
    TokenHash, User,
};
use crate::state::AppState;

/// A fresh refresh token in `family`, replacing `parent` (none for the first
/// of a family): the raw value (to send once) and its record.
pub fn new_refresh_token(
    state: &AppState,
    family: &TokenFamily,
    scope: &Scope,
    now: Timestamp,
    parent: Option<&str>,
) -> (Secret, RefreshToken) {
    let raw = crate::random::secret();
    let record = RefreshToken {
        id: crate::random::id(),
        token_hash: TokenHash::of(raw.expose()),
        family_id: family.id.clone(),
        client_id: family.client_id.clone(),
        user_id: family.user_id.clone(),
        scope: scope.clone(),
        created_at: now,
        expires_at: now.plus_secs(i64::from(state.config.refresh_token_ttl_secs)),
        state: RefreshTokenState::Active,
        parent_id: parent.map(str::to_owned),
        version: 0,
    };
    (raw, record)
}

/// What goes into an access token and ID token.
pub struct Minted {
    /// The access token.
    pub access_token: Secret,
    /// Its `jti`.
    pub jti: String,
    /// The ID token, with `openid`.
    pub id_token: Option<Secret>,
}

/// Signs an access token (and an ID token when `user` is given and the scope
/// holds `openid`). The access token's `aud` is `resource` when one was
/// asked for (RFC 8707), else the issuer.
#[expect(clippy::too_many_arguments, reason = "each is a claim")]
pub fn mint(
    state: &AppState,
    client: &Client,
    sub: &str,
    user: Option<&User>,
    scope: &Scope,
    sid: Option<&str>,
    auth_time: Option<Timestamp>,
    nonce: Option<String>,
    resource: Option<&str>,
    now: Timestamp,
) -> Result<Minted, OAuthError> {
    let client_id = client.id.as_str();
    let keys = state.keys.get();
    let key = keys.current(KeyAlgorithm::Rs256, now)?;
    let ttl = i64::from(state.config.access_token_ttl_secs);
    let jti = crate::random::id();
    let claims = AccessClaims {
        iss: state.config.issuer.clone(),
        sub: sub.to_owned(),
        // RFC 8707 / RFC 9068: the resource the token is for, else this server.
        aud: resource.map_or_else(|| state.config.issuer.clone(), str::to_owned),
        client_id: client_id.to_owned(),
        scope: scope.to_string(),
        jti: jti.clone(),
        iat: now.secs(),
        exp: now.plus_secs(ttl).secs(),
        auth_time: auth_time.map(Timestamp::secs),
        sid: sid.map(str::to_owned),
    };
    let access_token = key.sign("at+jwt", &claims)?;
    let id_token = match user {
        Some(user) if scope.contains("openid") => {
            let id = IdClaims {
                iss: state.config.issuer.clone(),
                sub: user.id.clone(),
                aud: client_id.to_owned(),
                azp: client_id.to_owned(),
                iat: now.secs(),
                exp: now.plus_secs(ttl).secs(),
                auth_time: auth_time.unwrap_or(now).secs(),
                nonce,
                at_hash: Some(at_hash(&access_token)),
                // With `profile`, or for a client the operator made (such as
                // `devauth-cli`), which shows the person their own name
                // ("Logged in as alice"); a self-registered client must ask.
                preferred_username: (scope.contains("profile")
                    || client.origin == crate::model::ClientOrigin::Admin)
                    .then(|| user.username.clone()),
            };
            // The client's `id_token_signed_response_alg` (RS256 unless set).
            let id_key = keys.current(client.id_token_alg, now)?;
            Some(Secret::new(id_key.sign("JWT", &id)?))
        }
        _ => None,
    };
    Ok(Minted {
        access_token: Secret::new(access_token),
        jti,
        id_token,
    })
}

/// The token response body.
pub fn respond(
    state: &AppState,
    minted: Minted,
    refresh_token: Option<Secret>,
    scope: &Scope,
) -> Response {
    let body = TokenResponse {
        access_token: minted.access_token,
        token_type: BEARER.to_owned(),
        expires_in: Some(u64::from(state.config.access_token_ttl_secs)),
        refresh_token,
        scope: Some(scope.to_string()),
        id_token: minted.id_token,
        extra: serde_json::Map::new(),
    };
    no_store_json(&body)
}

/// Whether this login gets a refresh token.
pub fn wants_refresh(client: &AuthenticatedClient, scope: &Scope) -> bool {
    client.client().allows_grant(&GrantType::RefreshToken) && scope.contains("offline_access")
}

/// What a fresh login grants: who, for what, and where it came from.
pub struct Login<'a> {
    /// The person.
    pub user: &'a User,
    /// The granted scope.
    pub scope: &'a Scope,
    /// When the person authenticated.
    pub auth_time: Timestamp,
    /// OIDC nonce to echo into the ID token.
    pub nonce: Option<String>,
    /// The grant that redeemed the approval.
    pub grant: GrantType,
    /// The authorization code it came from (to revoke on its replay).
    pub code_hash: Option<&'a TokenHash>,
    /// The resource (RFC 8707) its access tokens are for.
    pub resource: Option<&'a str>,
    /// The requester's address, for the audit log.
    pub ip: &'a str,
}

/// Issues tokens for a fresh login (an approved device code or an
/// authorization code): a new family, maybe a refresh token, the access
/// token and maybe an ID token.
pub async fn issue_login(
    state: &AppState,
    client: &AuthenticatedClient,
    login: Login<'_>,
) -> Result<Response, OAuthError> {
    let Login {
        user,
        scope,
        auth_time,
        nonce,
        grant,
        code_hash,
        resource,
        ip,
    } = login;
    let now = state.clock.now();
    let family = TokenFamily {
        id: crate::random::id(),
        client_id: client.id().to_owned(),
        user_id: user.id.clone(),
        auth_time,
        created_at: now,
        code_hash: code_hash.cloned(),
        resource: resource.map(str::to_owned),
        revoked_at: None,
    };
    state.stores.durable.add_family(&family).await?;
    let issued = async {
        let refresh = if wants_refresh(client, scope) {
            let (raw, record) = new_refresh_token(state, &family, scope, now, None);
            state.stores.durable.add_refresh_token(&record).await?;
            Some(raw)
        } else {
            None
        };
        let minted = mint(
            state,
            client.client(),
            &user.id,
            Some(user),
            scope,
            Some(&family.id),
            Some(auth_time),
            nonce,
            resource,
            now,
        )?;
        Ok::<_, OAuthError>((refresh, minted))
    }
    .await;
    let (refresh, minted) = match issued {
        Ok(issued) => issued,
        Err(e) => {
            // Nothing reached the client: a refresh token stored before the
            // failure must not stay usable. Best effort; the sweeper removes
            // an empty family in any case.
            if let Err(revoke) = state.stores.durable.revoke_family(&family.id, now).await {
                tracing::warn!(family_id = %family.id, error = %revoke, "cannot revoke an unissued family");
            }
            return Err(e);
        }
    };
    // A self-registered client that gets tokens is in use: it no longer expires.
    let registered = client.client();
    if registered.origin.is_self_registered()
        && registered.used_at.is_none()
        && let Err(e) = state
            .stores
            .durable
            .mark_client_used(&registered.id, now)
            .await
    {
        tracing::warn!(client_id = %registered.id, error = %e, "cannot record a client's first use");
    }
    state
        .record_audit(Event {
            kind: EventKind::TokenIssued,
            client_id: Some(client.id()),
            user_id: Some(&user.id),
            ip: Some(ip),
            details: serde_json::json!({
                "grant_type": grant.as_str(),
                "family_id": family.id,
                "jti": minted.jti,
                "refresh_token": refresh.is_some(),
            }),
        })
        .await;
    Ok(respond(state, minted, refresh, scope))
}

/// Resolves the scope a client asks for: a syntax error or a scope outside
/// what the client may have is `invalid_scope`; none asked means `default`.
pub fn resolve_scope(
    client: &AuthenticatedClient,
    requested: Option<&str>,
    default: &Scope,
    resource: Option<&Resource>,
) -> Result<Scope, OAuthError> {
    client
        .client()
        .grantable_scope(
            requested,
            default,
            crate::config::SUPPORTED_SCOPES,
            resource,
        )
        .map_err(|refusal| {
            OAuthError::bad(devauth_proto::ErrorCode::InvalidScope, refusal.to_string())
        })
}
