//! [`DurableStore`] on PostgreSQL: users, clients, resources, keys, token
//! families and refresh tokens, revoked access tokens, the audit log.

use async_trait::async_trait;
use devauth_proto::GrantType;

use super::PgStore;
use super::rows::{
    audit_from, client_from, family_from, key_from, refresh_from, resource_from, user_from,
};
use super::sql::{all, exec, map_err, one, timed};
use crate::model::{
    AuditEvent, Client, RefreshToken, Resource, SigningKeyRecord, Timestamp, TokenFamily,
    TokenHash, User,
};
use crate::store::columns::refresh_state_columns;
use crate::store::{DurableStore, StoreResult};

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens \
     (id, token_hash, family_id, client_id, user_id, scope, created_at, expires_at, state, state_at, version, parent_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

fn bind_refresh<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    t: &'q RefreshToken,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let (state, at) = refresh_state_columns(&t.state);
    q.bind(&t.id)
        .bind(t.token_hash.as_str())
        .bind(&t.family_id)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(t.scope.to_string())
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(state)
        .bind(at)
        .bind(t.version)
        .bind(&t.parent_id)
}

#[async_trait]
impl DurableStore for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_user(&self, user: &User) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.disabled)
            .bind(user.created_at.millis()),
        )
        .await
        .map(drop)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM users WHERE username = $1").bind(username),
            user_from,
        )
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM users WHERE id = $1").bind(id),
            user_from,
        )
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        all(
            &self.pool,
            sqlx::query("SELECT * FROM users ORDER BY username"),
            user_from,
        )
        .await
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool> {
        let changed = exec(
            &self.pool,
            sqlx::query("UPDATE users SET disabled = $2 WHERE username = $1")
                .bind(username)
                .bind(disabled),
        )
        .await?;
        Ok(changed == 1)
    }

    async fn set_user_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        let changed = exec(
            &self.pool,
            sqlx::query("UPDATE users SET password_hash = $2 WHERE username = $1")
                .bind(username)
                .bind(password_hash),
        )
        .await?;
        Ok(changed == 1)
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        let changed = exec(
            &self.pool,
            sqlx::query("DELETE FROM users WHERE username = $1").bind(username),
        )
        .await?;
        Ok(changed == 1)
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        let changed = exec(
            &self.pool,
            sqlx::query("DELETE FROM clients WHERE id = $1").bind(id),
        )
        .await?;
        Ok(changed == 1)
    }

    async fn add_client(&self, client: &Client) -> StoreResult<()> {
        timed(async {
            let grants: Vec<String> = client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect();
            sqlx::query(
                "INSERT INTO clients \
                 (id, name, secret_hash, grant_types, redirect_uris, allowed_scopes, created_at, \
                  may_introspect, id_token_alg, origin, client_uri, used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&client.id)
            .bind(&client.name)
            .bind(client.secret_hash.as_ref().map(TokenHash::as_str))
            .bind(grants)
            .bind(&client.redirect_uris)
            .bind(client.allowed_scopes.to_string())
            .bind(client.created_at.millis())
            .bind(client.may_introspect)
            .bind(client.id_token_alg.as_str())
            .bind(client.origin.as_str())
            .bind(&client.client_uri)
            .bind(client.used_at.map(Timestamp::millis))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        timed(async {
            let grants: Vec<&str> = client.grant_types.iter().map(GrantType::as_str).collect();
            let done = sqlx::query(
                "UPDATE clients SET name = $2, grant_types = $3, redirect_uris = $4, \
                 allowed_scopes = $5, may_introspect = $6, id_token_alg = $7 WHERE id = $1",
            )
            .bind(&client.id)
            .bind(&client.name)
            .bind(grants)
            .bind(&client.redirect_uris)
            .bind(client.allowed_scopes.to_string())
            .bind(client.may_introspect)
            .bind(client.id_token_alg.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn mark_client_used(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        timed(async {
            let done =
                sqlx::query("UPDATE clients SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
                    .bind(id)
                    .bind(at.millis())
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn delete_unused_registered_clients(
        &self,
        created_before: Timestamp,
    ) -> StoreResult<u64> {
        timed(async {
            let done = sqlx::query(
                "DELETE FROM clients WHERE origin <> 'admin' AND used_at IS NULL \
                 AND created_at < $1",
            )
            .bind(created_before.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn add_registration_token(
        &self,
        hash: &TokenHash,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO registration_tokens (token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(hash.as_str())
            .bind(created_at.millis())
            .bind(expires_at.millis()),
        )
        .await
        .map(drop)
    }

    async fn registration_token_valid(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<bool> {
        timed(async {
            let found = sqlx::query(
                "SELECT 1 FROM registration_tokens WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(hash.as_str())
            .bind(now.millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(found.is_some())
        })
        .await
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM clients WHERE id = $1").bind(id),
            client_from,
        )
        .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        all(
            &self.pool,
            sqlx::query("SELECT * FROM clients ORDER BY id"),
            client_from,
        )
        .await
    }

    async fn add_resource(&self, resource: &Resource) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query("INSERT INTO resources (url, scopes, created_at) VALUES ($1, $2, $3)")
                .bind(&resource.url)
                .bind(resource.scopes.to_string())
                .bind(resource.created_at.millis()),
        )
        .await
        .map(drop)
    }

    async fn resource(&self, url: &str) -> StoreResult<Option<Resource>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM resources WHERE url = $1").bind(url),
            resource_from,
        )
        .await
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        all(
            &self.pool,
            sqlx::query("SELECT * FROM resources ORDER BY url"),
            resource_from,
        )
        .await
    }

    async fn remove_resource(&self, url: &str) -> StoreResult<bool> {
        let changed = exec(
            &self.pool,
            sqlx::query("DELETE FROM resources WHERE url = $1").bind(url),
        )
        .await?;
        Ok(changed > 0)
    }

    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_pkcs8_der, created_at, retired_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(key.alg.as_str())
            .bind(&key.private_pkcs8_der)
            .bind(key.created_at.millis())
            .bind(key.retired_at.map(Timestamp::millis)),
        )
        .await
        .map(drop)
    }

    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        all(
            &self.pool,
            sqlx::query("SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC"),
            key_from,
        )
        .await
    }

    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL",
            )
            .bind(keep)
            .bind(at.millis()),
        )
        .await
        .map(drop)
    }

    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64> {
        timed(async {
            let done = sqlx::query("DELETE FROM signing_keys WHERE retired_at < $1")
                .bind(before.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn add_family(&self, family: &TokenFamily) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO token_families \
                 (id, client_id, user_id, auth_time, created_at, revoked_at, code_hash, resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&family.id)
            .bind(&family.client_id)
            .bind(&family.user_id)
            .bind(family.auth_time.millis())
            .bind(family.created_at.millis())
            .bind(family.revoked_at.map(Timestamp::millis))
            .bind(family.code_hash.as_ref().map(TokenHash::as_str))
            .bind(&family.resource),
        )
        .await
        .map(drop)
    }

    async fn family(&self, id: &str) -> StoreResult<Option<TokenFamily>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM token_families WHERE id = $1").bind(id),
            family_from,
        )
        .await
    }

    async fn family_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<TokenFamily>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM token_families WHERE code_hash = $1")
                .bind(code_hash.as_str()),
            family_from,
        )
        .await
    }

    async fn revoke_family(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        timed(async {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            let done = sqlx::query(
                "UPDATE token_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE refresh_tokens SET state = 'revoked', state_at = $2, version = version + 1 \
                 WHERE family_id = $1 AND state <> 'revoked'",
            )
            .bind(id)
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        timed(async {
            bind_refresh(sqlx::query(INSERT_REFRESH), token)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        one(
            &self.pool,
            sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1").bind(hash.as_str()),
            refresh_from,
        )
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        old_version: i64,
        new: &RefreshToken,
    ) -> StoreResult<bool> {
        timed(async {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            let (state, at) = refresh_state_columns(&old.state);
            let done = sqlx::query(
                "UPDATE refresh_tokens SET state = $3, state_at = $4, expires_at = $5, \
                 version = $2 + 1 WHERE id = $1 AND version = $2",
            )
            .bind(&old.id)
            .bind(old_version)
            .bind(state)
            .bind(at)
            .bind(old.expires_at.millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            bind_refresh(sqlx::query(INSERT_REFRESH), new)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn latest_in_family(&self, family_id: &str) -> StoreResult<Option<RefreshToken>> {
        one(
            &self.pool,
            sqlx::query(
                "SELECT * FROM refresh_tokens WHERE family_id = $1 \
                 ORDER BY created_at DESC, seq DESC LIMIT 1",
            )
            .bind(family_id),
            refresh_from,
        )
        .await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(expires_at.millis()),
        )
        .await
        .map(drop)
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        timed(async {
            let row = sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(row.is_some())
        })
        .await
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        exec(
            &self.pool,
            sqlx::query(
                "INSERT INTO audit_events (at, kind, client_id, user_id, ip, details) \
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            )
            .bind(event.at.millis())
            .bind(&event.kind)
            .bind(&event.client_id)
            .bind(&event.user_id)
            .bind(&event.ip)
            .bind(event.details.to_string()),
        )
        .await
        .map(drop)
    }

    async fn delete_audit_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        timed(async {
            let done = sqlx::query(
                "DELETE FROM audit_events WHERE seq IN \
                 (SELECT seq FROM audit_events WHERE at < $1 ORDER BY at, seq LIMIT $2)",
            )
            .bind(before.millis())
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        all(&self.pool, sqlx::query("SELECT at, kind, client_id, user_id, ip, details::text AS details FROM audit_events \
                 ORDER BY at DESC, seq DESC LIMIT $1",)
                .bind(i64::from(limit)), audit_from).await
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<u64> {
        timed(async {
            let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
                .bind(now.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            let jtis = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= $1")
                .bind(now.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            // Families with no token left, once no access token minted from
            // them (their `sid`) can still be valid.
            let families = sqlx::query(
                "DELETE FROM token_families WHERE created_at <= $1 AND NOT EXISTS \
                 (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id)",
            )
            .bind(now.plus_secs(-crate::store::FAMILY_RETENTION_SECS).millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(tokens.rows_affected() + jtis.rows_affected() + families.rows_affected())
        })
        .await
    }
}
