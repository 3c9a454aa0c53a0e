//! Turning rows into model values and model states into columns.
//!
//! Columns are read by name, except a device grant's, which are read by
//! position from [`grant_columns!`] (the polling path reads one per request,
//! and finding seventeen columns by name cost more than the lookup of the
//! row). A value that cannot be what the model says (an unknown state, a bad
//! scope) is [`StoreError::Inconsistent`].

use devauth_proto::{GrantType, Scope};
use rusqlite::types::FromSql;
use rusqlite::{Row, RowIndex};

use super::sql::map_err;
use crate::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, ClientOrigin, DeviceGrant, KeyAlgorithm,
    RefreshToken, Requester, Resource, SigningKeyRecord, Timestamp, TokenFamily, TokenHash, User,
};
use crate::store::columns::{grant_state_from, refresh_state_from};
use crate::store::{StoreError, StoreResult};

fn inconsistent(what: &str) -> StoreError {
    StoreError::Inconsistent(what.to_owned())
}

fn get<T: FromSql>(row: &Row<'_>, col: impl RowIndex) -> StoreResult<T> {
    row.get(col).map_err(map_err)
}

fn ts(row: &Row<'_>, col: impl RowIndex) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_millis(get::<i64>(row, col)?))
}

fn opt_ts(row: &Row<'_>, col: impl RowIndex) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp::from_millis))
}

fn scope(row: &Row<'_>, col: impl RowIndex) -> StoreResult<Scope> {
    Scope::parse(&get::<String>(row, col)?).map_err(|_| inconsistent("bad scope"))
}

pub(super) fn user_from(row: &Row<'_>) -> StoreResult<User> {
    Ok(User {
        id: get(row, "id")?,
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        disabled: get::<i64>(row, "disabled")? != 0,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn client_from(row: &Row<'_>) -> StoreResult<Client> {
    let grants: String = get(row, "grant_types")?;
    let uris: String = get(row, "redirect_uris")?;
    Ok(Client {
        id: get(row, "id")?,
        name: get(row, "name")?,
        secret_hash: get::<Option<String>>(row, "secret_hash")?.map(TokenHash::from_stored),
        grant_types: grants
            .split(' ')
            .filter(|g| !g.is_empty())
            .map(GrantType::parse)
            .collect(),
        redirect_uris: serde_json::from_str(&uris)
            .map_err(|_| inconsistent("bad redirect_uris"))?,
        allowed_scopes: scope(row, "allowed_scopes")?,
        may_introspect: get(row, "may_introspect")?,
        id_token_alg: {
            let alg: String = get(row, "id_token_alg")?;
            KeyAlgorithm::parse(&alg).ok_or_else(|| inconsistent("bad id_token_alg"))?
        },
        origin: {
            let origin: String = get(row, "origin")?;
            ClientOrigin::parse(&origin).ok_or_else(|| inconsistent("bad origin"))?
        },
        client_uri: get(row, "client_uri")?,
        used_at: opt_ts(row, "used_at")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn resource_from(row: &Row<'_>) -> StoreResult<Resource> {
    Ok(Resource {
        url: get(row, "url")?,
        scopes: scope(row, "scopes")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn key_from(row: &Row<'_>) -> StoreResult<SigningKeyRecord> {
    let alg: String = get(row, "alg")?;
    Ok(SigningKeyRecord {
        kid: get(row, "kid")?,
        alg: KeyAlgorithm::parse(&alg).ok_or_else(|| inconsistent("unknown key algorithm"))?,
        private_pkcs8_der: get(row, "private_der")?,
        created_at: ts(row, "created_at")?,
        retired_at: opt_ts(row, "retired_at")?,
    })
}

pub(super) fn family_from(row: &Row<'_>) -> StoreResult<TokenFamily> {
    Ok(TokenFamily {
        id: get(row, "id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        code_hash: get::<Option<String>>(row, "code_hash")?.map(TokenHash::from_stored),
        resource: get(row, "resource")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

pub(super) fn refresh_from(row: &Row<'_>) -> StoreResult<RefreshToken> {
    let state: String = get(row, "state")?;
    let at = opt_ts(row, "state_at")?;
    let state = refresh_state_from(&state, at)?;
    Ok(RefreshToken {
        id: get(row, "id")?,
        token_hash: TokenHash::from_stored(get(row, "token_hash")?),
        family_id: get(row, "family_id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        state,
        parent_id: get(row, "parent_id")?,
        version: get(row, "version")?,
    })
}

pub(super) fn audit_from(row: &Row<'_>) -> StoreResult<AuditEvent> {
    let details: String = get(row, "details")?;
    Ok(AuditEvent {
        at: ts(row, "at")?,
        kind: get(row, "kind")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        ip: get(row, "ip")?,
        details: serde_json::from_str(&details).map_err(|_| inconsistent("bad audit details"))?,
    })
}

/// The columns of `device_grants` that [`grant_from`] reads, in the order
/// it reads them: `SELECT grant_columns!() ...`, `RETURNING grant_columns!()`.
macro_rules! grant_columns {
    () => {
        "id, device_code_hash, user_code, client_id, scope, requester_ip, \
         requester_user_agent, created_at, expires_at, interval_secs, last_polled_at, \
         failed_confirmations, state, state_user_id, state_at, version, resource"
    };
}
pub(super) use grant_columns;

/// A device grant from a row of [`grant_columns!`], by position.
pub(super) fn grant_from(row: &Row<'_>) -> StoreResult<DeviceGrant> {
    let state: String = get(row, 12)?;
    let user: Option<String> = get(row, 13)?;
    let at = opt_ts(row, 14)?;
    let state = grant_state_from(&state, user, at)?;
    Ok(DeviceGrant {
        id: get(row, 0)?,
        device_code_hash: TokenHash::from_stored(get(row, 1)?),
        user_code: get(row, 2)?,
        client_id: get(row, 3)?,
        scope: scope(row, 4)?,
        resource: get(row, 16)?,
        requester: Requester {
            ip: get(row, 5)?,
            user_agent: get(row, 6)?,
        },
        created_at: ts(row, 7)?,
        expires_at: ts(row, 8)?,
        interval_secs: u32::try_from(get::<i64>(row, 9)?)
            .map_err(|_| inconsistent("bad interval"))?,
        last_polled_at: opt_ts(row, 10)?,
        failed_confirmations: u32::try_from(get::<i64>(row, 11)?)
            .map_err(|_| inconsistent("bad failed_confirmations"))?,
        state,
        version: get(row, 15)?,
    })
}

pub(super) fn code_from(row: &Row<'_>) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: TokenHash::from_stored(get(row, "code_hash")?),
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        redirect_uri: get(row, "redirect_uri")?,
        scope: scope(row, "scope")?,
        code_challenge: get(row, "code_challenge")?,
        nonce: get(row, "nonce")?,
        resource: get(row, "resource")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
    })
}

pub(super) fn session_from(row: &Row<'_>) -> StoreResult<BrowserSession> {
    Ok(BrowserSession {
        id_hash: TokenHash::from_stored(get(row, "id_hash")?),
        csrf_token: get(row, "csrf_token")?,
        user_id: get(row, "user_id")?,
        authenticated_at: opt_ts(row, "authenticated_at")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        version: get(row, "version")?,
    })
}
