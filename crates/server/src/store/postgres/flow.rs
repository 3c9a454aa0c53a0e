//! [`FlowStore`] on PostgreSQL: device grants, authorization codes,
//! browser sessions and rate-limit hits, with their sweep.

use async_trait::async_trait;

use super::PgStore;
use super::rows::{code_from, get, grant_from, session_from};
use super::sql::{exec, map_err, one, timed};
use crate::model::{AuthorizationCode, BrowserSession, DeviceGrant, Timestamp, TokenHash};
use crate::store::columns::grant_state_columns;
use crate::store::{EXPIRED_GRANT_RETENTION_MS, FlowStore, StoreError, StoreResult};

#[async_trait]
impl FlowStore for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_device_grant(&self, grant: &DeviceGrant) -> StoreResult<()> {
        timed(async {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            // A user code is unique among retained grants: an expired grant
            // keeps its code until the retention ends (its late poll reads it,
            // and no one typing the old code lands on a new request). The
            // transaction lock on the code serialises the check and insert.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 8628))")
                .bind(&grant.user_code)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let live = sqlx::query(
                "SELECT 1 FROM device_grants WHERE user_code = $1 AND expires_at > $2 LIMIT 1",
            )
            .bind(&grant.user_code)
            .bind(grant.created_at.millis() - EXPIRED_GRANT_RETENTION_MS)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if live.is_some() {
                return Err(StoreError::AlreadyExists("user code".into()));
            }
            let (state, user_id, at) = grant_state_columns(&grant.state);
            sqlx::query(
                "INSERT INTO device_grants (id, device_code_hash, user_code, client_id, scope, \
                 requester_ip, requester_user_agent, created_at, expires_at, interval_secs, \
                 last_polled_at, failed_confirmations, state, state_user_id, state_at, version, \
                 resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(&grant.id)
            .bind(grant.device_code_hash.as_str())
            .bind(&grant.user_code)
            .bind(&grant.client_id)
            .bind(grant.scope.to_string())
            .bind(&grant.requester.ip)
            .bind(&grant.requester.user_agent)
            .bind(grant.created_at.millis())
            .bind(grant.expires_at.millis())
            .bind(i32::try_from(grant.interval_secs).unwrap_or(i32::MAX))
            .bind(grant.last_polled_at.map(Timestamp::millis))
            .bind(i32::try_from(grant.failed_confirmations).unwrap_or(i32::MAX))
            .bind(state)
            .bind(user_id)
            .bind(at)
            .bind(grant.version)
            .bind(&grant.resource)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM device_grants WHERE device_code_hash = $1")
                .bind(hash.as_str()),
            grant_from,
        )
        .await
    }

    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>> {
        one(
            &self.pool,
            sqlx::query(
                "SELECT * FROM device_grants WHERE user_code = $1 \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(user_code),
            grant_from,
        )
        .await
    }

    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool> {
        timed(async {
            let (state, user_id, at) = grant_state_columns(&grant.state);
            let done = sqlx::query(
                "UPDATE device_grants SET scope = $3, expires_at = $4, interval_secs = $5, \
                 last_polled_at = $6, failed_confirmations = $7, state = $8, state_user_id = $9, \
                 state_at = $10, version = $2 + 1 \
                 WHERE device_code_hash = $1 AND version = $2",
            )
            .bind(grant.device_code_hash.as_str())
            .bind(expected_version)
            .bind(grant.scope.to_string())
            .bind(grant.expires_at.millis())
            .bind(i32::try_from(grant.interval_secs).unwrap_or(i32::MAX))
            .bind(grant.last_polled_at.map(Timestamp::millis))
            .bind(i32::try_from(grant.failed_confirmations).unwrap_or(i32::MAX))
            .bind(state)
            .bind(user_id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, \
                 scope, code_challenge, nonce, auth_time, created_at, expires_at, resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(code.code_hash.as_str())
            .bind(&code.client_id)
            .bind(&code.user_id)
            .bind(&code.redirect_uri)
            .bind(code.scope.to_string())
            .bind(&code.code_challenge)
            .bind(&code.nonce)
            .bind(code.auth_time.millis())
            .bind(code.created_at.millis())
            .bind(code.expires_at.millis())
            .bind(&code.resource),
        )
        .await
        .map(drop)
    }

    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>> {
        one(
            &self.pool,
            sqlx::query("DELETE FROM authorization_codes WHERE code_hash = $1 RETURNING *")
                .bind(hash.as_str()),
            code_from,
        )
        .await
    }

    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO browser_sessions (id_hash, csrf_token, user_id, authenticated_at, \
                 created_at, expires_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(session.id_hash.as_str())
            .bind(&session.csrf_token)
            .bind(&session.user_id)
            .bind(session.authenticated_at.map(Timestamp::millis))
            .bind(session.created_at.millis())
            .bind(session.expires_at.millis())
            .bind(session.version),
        )
        .await
        .map(drop)
    }

    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM browser_sessions WHERE id_hash = $1").bind(id_hash.as_str()),
            session_from,
        )
        .await
    }

    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let changed = exec(
            &self.pool,
            sqlx::query(
                "UPDATE browser_sessions SET csrf_token = $3, user_id = $4, authenticated_at = $5, \
                 expires_at = $6, version = $2 + 1 WHERE id_hash = $1 AND version = $2",
            )
            .bind(session.id_hash.as_str())
            .bind(expected_version)
            .bind(&session.csrf_token)
            .bind(&session.user_id)
            .bind(session.authenticated_at.map(Timestamp::millis))
            .bind(session.expires_at.millis()),
        )
        .await?;
        Ok(changed == 1)
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1").bind(id_hash.as_str()),
        )
        .await
        .map(drop)
    }

    async fn hits(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        timed(async {
            let window_ms = i64::from(window_secs.max(1)) * 1000;
            let start = now.millis().div_euclid(window_ms) * window_ms;
            // One row per key holds the newest window and the one before.
            let row = sqlx::query(
                "SELECT CASE WHEN window_start = $2 THEN hits \
                             WHEN window_start = $2 + $3 THEN prev_hits \
                             ELSE 0 END AS n \
                 FROM rate_hits WHERE key = $1",
            )
            .bind(key)
            .bind(start)
            .bind(window_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            let hits: i64 = match row {
                Some(row) => get(&row, "n")?,
                None => 0,
            };
            Ok(u64::try_from(hits).unwrap_or(0))
        })
        .await
    }

    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        timed(async {
            let window_ms = i64::from(window_secs.max(1)) * 1000;
            let start = now.millis().div_euclid(window_ms) * window_ms;
            // Windows only move forward: a replica whose clock lags a little
            // counts its hit in the newer window instead of resetting it.
            let row = sqlx::query(
                "INSERT INTO rate_hits (key, window_start, window_end, hits) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                   prev_hits = CASE \
                       WHEN EXCLUDED.window_start = rate_hits.window_end THEN rate_hits.hits \
                       WHEN EXCLUDED.window_start > rate_hits.window_start THEN 0 \
                       ELSE rate_hits.prev_hits END, \
                   hits = CASE WHEN EXCLUDED.window_start > rate_hits.window_start \
                               THEN 1 ELSE rate_hits.hits + 1 END, \
                   window_start = GREATEST(rate_hits.window_start, EXCLUDED.window_start), \
                   window_end = GREATEST(rate_hits.window_end, EXCLUDED.window_end) \
                 RETURNING hits",
            )
            .bind(key)
            .bind(start)
            .bind(start + window_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            let hits: i64 = get(&row, "hits")?;
            Ok(u64::try_from(hits).unwrap_or(0))
        })
        .await
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<Vec<DeviceGrant>> {
        timed(async {
            let now_ms = now.millis();
            let expired: Vec<DeviceGrant> = sqlx::query(
                "UPDATE device_grants SET expiry_reported = TRUE \
                 WHERE expires_at <= $1 AND state = 'pending' AND NOT expiry_reported \
                 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(grant_from)
            .collect::<StoreResult<_>>()?;
            sqlx::query("DELETE FROM device_grants WHERE expires_at <= $1")
                .bind(now_ms - EXPIRED_GRANT_RETENTION_MS)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            for sql in [
                "DELETE FROM authorization_codes WHERE expires_at <= $1",
                "DELETE FROM browser_sessions WHERE expires_at <= $1",
                // Kept one window past its end: the next window reads it.
                "DELETE FROM rate_hits WHERE 2 * window_end - window_start <= $1",
            ] {
                sqlx::query(sql)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
            }
            Ok(expired)
        })
        .await
    }
}
