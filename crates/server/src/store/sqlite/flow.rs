//! [`FlowStore`] on SQLite: device grants, authorization codes, browser
//! sessions and rate-limit hits, with their sweep.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::rows::{code_from, grant_columns, grant_from, session_from};
use super::sql::{all, exec, map_err, one};
use crate::model::{AuthorizationCode, BrowserSession, DeviceGrant, Timestamp, TokenHash};
use crate::store::columns::grant_state_columns;
use crate::store::{DurableStore, FlowStore, StoreError, StoreResult};

#[async_trait]
impl FlowStore for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        DurableStore::migrate(self).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_device_grant(&self, g: &DeviceGrant) -> StoreResult<()> {
        let (state, user, at) = grant_state_columns(&g.state);
        // One statement: a user code is unique among stored grants, and an
        // expired grant keeps its code until the sweeper deletes it after the
        // retention (its late poll and its expiry report need the row), so a
        // clash is refused and the caller draws again.
        let done = self
            .execute(
                "INSERT INTO device_grants \
                 (id, device_code_hash, user_code, client_id, scope, requester_ip, \
                  requester_user_agent, created_at, expires_at, interval_secs, last_polled_at, \
                  failed_confirmations, state, state_user_id, state_at, version, resource) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT(user_code) DO NOTHING",
                values![
                    g.id,
                    g.device_code_hash.as_str(),
                    g.user_code,
                    g.client_id,
                    g.scope.to_string(),
                    g.requester.ip,
                    g.requester.user_agent,
                    g.created_at.millis(),
                    g.expires_at.millis(),
                    i64::from(g.interval_secs),
                    g.last_polled_at.map(Timestamp::millis),
                    i64::from(g.failed_confirmations),
                    state,
                    user,
                    at,
                    g.version,
                    g.resource
                ],
            )
            .await?;
        if done == 0 {
            return Err(StoreError::AlreadyExists(
                "the user code belongs to a stored device grant".into(),
            ));
        }
        Ok(())
    }

    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>> {
        self.read(|c| {
            one(
                c,
                concat!(
                    "SELECT ",
                    grant_columns!(),
                    " FROM device_grants WHERE device_code_hash = ?"
                ),
                [hash.as_str()],
                grant_from,
            )
        })
    }

    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>> {
        self.read(|c| {
            one(
                c,
                concat!(
                    "SELECT ",
                    grant_columns!(),
                    " FROM device_grants WHERE user_code = ?"
                ),
                [user_code],
                grant_from,
            )
        })
    }

    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let g = grant;
        let (state, user, at) = grant_state_columns(&g.state);
        self.execute(
            "UPDATE device_grants SET interval_secs = ?, last_polled_at = ?, \
                 failed_confirmations = ?, state = ?, state_user_id = ?, state_at = ?, \
                 version = ? WHERE device_code_hash = ? AND version = ?",
            values![
                i64::from(g.interval_secs),
                g.last_polled_at.map(Timestamp::millis),
                i64::from(g.failed_confirmations),
                state,
                user,
                at,
                expected_version + 1,
                g.device_code_hash.as_str(),
                expected_version
            ],
        )
        .await
        .map(|n| n > 0)
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let code = code.clone();
        self.execute(
            "INSERT INTO authorization_codes \
                 (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, nonce, \
                  auth_time, created_at, expires_at, resource) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values![
                code.code_hash.as_str(),
                code.client_id,
                code.user_id,
                code.redirect_uri,
                code.scope.to_string(),
                code.code_challenge,
                code.nonce,
                code.auth_time.millis(),
                code.created_at.millis(),
                code.expires_at.millis(),
                code.resource
            ],
        )
        .await
        .map(drop)
    }

    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>> {
        self.execute_returning(
            "DELETE FROM authorization_codes WHERE code_hash = ? RETURNING *",
            values![hash.as_str()],
            code_from,
        )
        .await
    }

    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()> {
        let s = session.clone();
        self.execute(
            "INSERT INTO browser_sessions \
                 (id_hash, csrf_token, user_id, authenticated_at, created_at, expires_at, version) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            values![
                s.id_hash.as_str(),
                s.csrf_token,
                s.user_id,
                s.authenticated_at.map(Timestamp::millis),
                s.created_at.millis(),
                s.expires_at.millis(),
                s.version
            ],
        )
        .await
        .map(drop)
    }

    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM browser_sessions WHERE id_hash = ?",
                [id_hash.as_str()],
                session_from,
            )
        })
    }

    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let s = session.clone();
        self.execute(
            "UPDATE browser_sessions SET csrf_token = ?, user_id = ?, authenticated_at = ?, \
                 expires_at = ?, version = ? WHERE id_hash = ? AND version = ?",
            values![
                s.csrf_token,
                s.user_id,
                s.authenticated_at.map(Timestamp::millis),
                s.expires_at.millis(),
                expected_version + 1,
                s.id_hash.as_str(),
                expected_version
            ],
        )
        .await
        .map(|n| n > 0)
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        let hash = id_hash.clone();
        self.execute(
            "DELETE FROM browser_sessions WHERE id_hash = ?",
            values![hash.as_str()],
        )
        .await
        .map(drop)
    }

    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        let window_ms = i64::from(window_secs.max(1)) * 1000;
        let start = now.millis().div_euclid(window_ms) * window_ms;
        let count = self
            .execute_returning(
                "INSERT INTO rate_limits (key, window_start, count, expires_at) \
                 VALUES (?, ?, 1, ?) \
                 ON CONFLICT(key, window_start) DO UPDATE SET count = count + 1 RETURNING count",
                // Kept one window past its end: the next window reads it
                // (sliding limits, crate::rate_limit).
                values![key, start, start + 2 * window_ms],
                |row| row.get::<_, i64>(0).map_err(map_err),
            )
            .await?
            .unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn hits(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        let window_ms = i64::from(window_secs.max(1)) * 1000;
        let start = now.millis().div_euclid(window_ms) * window_ms;
        let count = self.read(|c| {
            one(
                c,
                "SELECT count FROM rate_limits WHERE key = ? AND window_start = ?",
                params![key, start],
                |row| row.get::<_, i64>(0).map_err(map_err),
            )
        })?;
        Ok(count.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<Vec<DeviceGrant>> {
        self.write_all(move |c| {
            let expired = all(
                c,
                concat!(
                    "UPDATE device_grants SET expiry_reported = 1 \
                     WHERE state = 'pending' AND expires_at <= ? AND expiry_reported = 0 \
                     RETURNING ",
                    grant_columns!()
                ),
                [now.millis()],
                grant_from,
            )?;
            exec(
                c,
                "DELETE FROM device_grants WHERE expires_at <= ?",
                [now.plus_millis(-crate::store::EXPIRED_GRANT_RETENTION_MS)
                    .millis()],
            )?;
            for table in ["authorization_codes", "browser_sessions", "rate_limits"] {
                exec(
                    c,
                    &format!("DELETE FROM {table} WHERE expires_at <= ?"),
                    [now.millis()],
                )?;
            }
            Ok(expired)
        })
        .await
    }
}
