//! Reading PostgreSQL rows into model values, one function per table.

use devauth_proto::{GrantType, Scope};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, ClientOrigin, DeviceGrant, KeyAlgorithm,
    RefreshToken, Requester, Resource, SigningKeyRecord, Timestamp, TokenFamily, TokenHash, User,
};
use crate::store::columns::{grant_state_from, refresh_state_from};
use crate::store::{StoreError, StoreResult};

pub(super) fn get<'r, T>(row: &'r PgRow, col: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Inconsistent(format!("column {col}: {e}")))
}

pub(super) fn ts(row: &PgRow, col: &str) -> StoreResult<Timestamp> {
    get::<i64>(row, col).map(Timestamp::from_millis)
}

pub(super) fn ts_opt(row: &PgRow, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp::from_millis))
}

pub(super) fn scope(row: &PgRow, col: &str) -> StoreResult<Scope> {
    Scope::parse(&get::<String>(row, col)?)
        .map_err(|_| StoreError::Inconsistent(format!("column {col}: bad scope")))
}

pub(super) fn user_from(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: get(row, "id")?,
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        disabled: get(row, "disabled")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn client_from(row: &PgRow) -> StoreResult<Client> {
    Ok(Client {
        id: get(row, "id")?,
        name: get(row, "name")?,
        secret_hash: get::<Option<String>>(row, "secret_hash")?.map(TokenHash::from_stored),
        grant_types: get::<Vec<String>>(row, "grant_types")?
            .iter()
            .map(|g| GrantType::parse(g))
            .collect(),
        redirect_uris: get(row, "redirect_uris")?,
        allowed_scopes: scope(row, "allowed_scopes")?,
        may_introspect: get(row, "may_introspect")?,
        id_token_alg: {
            let alg: String = get(row, "id_token_alg")?;
            KeyAlgorithm::parse(&alg)
                .ok_or_else(|| StoreError::Inconsistent("bad id_token_alg".into()))?
        },
        origin: {
            let origin: String = get(row, "origin")?;
            ClientOrigin::parse(&origin)
                .ok_or_else(|| StoreError::Inconsistent("bad origin".into()))?
        },
        client_uri: get(row, "client_uri")?,
        used_at: ts_opt(row, "used_at")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn resource_from(row: &PgRow) -> StoreResult<Resource> {
    Ok(Resource {
        url: get(row, "url")?,
        scopes: scope(row, "scopes")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn key_from(row: &PgRow) -> StoreResult<SigningKeyRecord> {
    let alg: String = get(row, "alg")?;
    Ok(SigningKeyRecord {
        kid: get(row, "kid")?,
        alg: KeyAlgorithm::parse(&alg)
            .ok_or_else(|| StoreError::Inconsistent(format!("unknown key algorithm {alg}")))?,
        private_pkcs8_der: get(row, "private_pkcs8_der")?,
        created_at: ts(row, "created_at")?,
        retired_at: ts_opt(row, "retired_at")?,
    })
}

pub(super) fn family_from(row: &PgRow) -> StoreResult<TokenFamily> {
    Ok(TokenFamily {
        id: get(row, "id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        code_hash: get::<Option<String>>(row, "code_hash")?.map(TokenHash::from_stored),
        resource: get(row, "resource")?,
        revoked_at: ts_opt(row, "revoked_at")?,
    })
}

pub(super) fn refresh_from(row: &PgRow) -> StoreResult<RefreshToken> {
    let state: String = get(row, "state")?;
    let at = ts_opt(row, "state_at")?;
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

pub(super) fn grant_from(row: &PgRow) -> StoreResult<DeviceGrant> {
    let state: String = get(row, "state")?;
    let user_id: Option<String> = get(row, "state_user_id")?;
    let at = ts_opt(row, "state_at")?;
    let state = grant_state_from(&state, user_id, at)?;
    let interval: i32 = get(row, "interval_secs")?;
    let failed: i32 = get(row, "failed_confirmations")?;
    Ok(DeviceGrant {
        id: get(row, "id")?,
        device_code_hash: TokenHash::from_stored(get(row, "device_code_hash")?),
        user_code: get(row, "user_code")?,
        client_id: get(row, "client_id")?,
        scope: scope(row, "scope")?,
        resource: get(row, "resource")?,
        requester: Requester {
            ip: get(row, "requester_ip")?,
            user_agent: get(row, "requester_user_agent")?,
        },
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        interval_secs: u32::try_from(interval)
            .map_err(|_| StoreError::Inconsistent("negative interval".into()))?,
        last_polled_at: ts_opt(row, "last_polled_at")?,
        failed_confirmations: u32::try_from(failed)
            .map_err(|_| StoreError::Inconsistent("negative failure count".into()))?,
        state,
        version: get(row, "version")?,
    })
}

pub(super) fn code_from(row: &PgRow) -> StoreResult<AuthorizationCode> {
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

pub(super) fn session_from(row: &PgRow) -> StoreResult<BrowserSession> {
    Ok(BrowserSession {
        id_hash: TokenHash::from_stored(get(row, "id_hash")?),
        csrf_token: get(row, "csrf_token")?,
        user_id: get(row, "user_id")?,
        authenticated_at: ts_opt(row, "authenticated_at")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        version: get(row, "version")?,
    })
}

pub(super) fn audit_from(row: &PgRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        at: ts(row, "at")?,
        kind: get(row, "kind")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        ip: get(row, "ip")?,
        details: serde_json::from_str(&get::<String>(row, "details")?)
            .map_err(|e| StoreError::Inconsistent(format!("audit details: {e}")))?,
    })
}
