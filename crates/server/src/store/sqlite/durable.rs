//! [`DurableStore`] on SQLite: users, clients, resources, keys, token
//! families and refresh tokens, revoked access tokens, the audit log.

use async_trait::async_trait;
use devauth_proto::GrantType;
use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::rows::{
    audit_from, client_from, family_from, key_from, refresh_from, resource_from, user_from,
};
use super::sql::{all, exec, one};
use crate::model::{
    AuditEvent, Client, RefreshToken, Resource, SigningKeyRecord, Timestamp, TokenFamily,
    TokenHash, User,
};
use crate::store::columns::refresh_state_columns;
use crate::store::{DurableStore, StoreError, StoreResult};

#[async_trait]
impl DurableStore for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        // Applied by `SqliteStore::open`, before any other connection exists.
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_user(&self, user: &User) -> StoreResult<()> {
        let user = user.clone();
        self.execute(
            "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
            values![
                user.id,
                user.username,
                user.password_hash,
                i64::from(user.disabled),
                user.created_at.millis()
            ],
        )
        .await
        .map(drop)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM users WHERE username = ?",
                [username],
                user_from,
            )
        })
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.read(|c| one(c, "SELECT * FROM users WHERE id = ?", [id], user_from))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| all(c, "SELECT * FROM users ORDER BY username", [], user_from))
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool> {
        let username = username.to_owned();
        self.execute(
            "UPDATE users SET disabled = ? WHERE username = ?",
            values![i64::from(disabled), username],
        )
        .await
        .map(|n| n > 0)
    }

    async fn set_user_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        self.execute(
            "UPDATE users SET password_hash = ? WHERE username = ?",
            values![password_hash, username],
        )
        .await
        .map(|n| n > 0)
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        self.execute("DELETE FROM users WHERE username = ?", values![username])
            .await
            .map(|n| n > 0)
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        self.execute("DELETE FROM clients WHERE id = ?", values![id])
            .await
            .map(|n| n > 0)
    }

    async fn add_client(&self, client: &Client) -> StoreResult<()> {
        let grants = client
            .grant_types
            .iter()
            .map(GrantType::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let client = client.clone();
        self.execute(
            "INSERT INTO clients \
                 (id, name, secret_hash, grant_types, redirect_uris, allowed_scopes, created_at, \
                  may_introspect, id_token_alg, origin, client_uri, used_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values![
                client.id,
                client.name,
                client.secret_hash.as_ref().map(TokenHash::as_str),
                grants,
                uris,
                client.allowed_scopes.to_string(),
                client.created_at.millis(),
                client.may_introspect,
                client.id_token_alg.as_str(),
                client.origin.as_str(),
                client.client_uri,
                client.used_at.map(Timestamp::millis)
            ],
        )
        .await
        .map(drop)
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let grants = client
            .grant_types
            .iter()
            .map(GrantType::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let client = client.clone();
        self.execute(
            "UPDATE clients SET name = ?, grant_types = ?, redirect_uris = ?, \
                 allowed_scopes = ?, may_introspect = ?, id_token_alg = ? WHERE id = ?",
            values![
                client.name,
                grants,
                uris,
                client.allowed_scopes.to_string(),
                client.may_introspect,
                client.id_token_alg.as_str(),
                client.id
            ],
        )
        .await
        .map(|n| n > 0)
    }

    async fn mark_client_used(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let id = id.to_owned();
        self.execute(
            "UPDATE clients SET used_at = ? WHERE id = ? AND used_at IS NULL",
            values![at.millis(), id],
        )
        .await
        .map(|n| n > 0)
    }

    async fn delete_unused_registered_clients(
        &self,
        created_before: Timestamp,
    ) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM clients WHERE origin <> 'admin' AND used_at IS NULL \
                 AND created_at < ?",
            values![created_before.millis()],
        )
        .await
        .map(|n| n as u64)
    }

    async fn add_registration_token(
        &self,
        hash: &TokenHash,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let hash = hash.clone();
        self.execute(
            "INSERT INTO registration_tokens (token_hash, created_at, expires_at) \
                 VALUES (?, ?, ?)",
            values![hash.as_str(), created_at.millis(), expires_at.millis()],
        )
        .await
        .map(drop)
    }

    async fn registration_token_valid(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.read(|c| {
            one(
                c,
                "SELECT 1 FROM registration_tokens WHERE token_hash = ? AND expires_at > ?",
                params![hash.as_str(), now.millis()],
                |_| Ok(()),
            )
            .map(|found| found.is_some())
        })
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        self.read(|c| one(c, "SELECT * FROM clients WHERE id = ?", [id], client_from))
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.read(|c| all(c, "SELECT * FROM clients ORDER BY id", [], client_from))
    }

    async fn add_resource(&self, resource: &Resource) -> StoreResult<()> {
        let r = resource.clone();
        self.execute(
            "INSERT INTO resources (url, scopes, created_at) VALUES (?, ?, ?)",
            values![r.url, r.scopes.to_string(), r.created_at.millis()],
        )
        .await
        .map(drop)
    }

    async fn resource(&self, url: &str) -> StoreResult<Option<Resource>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM resources WHERE url = ?",
                [url],
                resource_from,
            )
        })
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        self.read(|c| all(c, "SELECT * FROM resources ORDER BY url", [], resource_from))
    }

    async fn remove_resource(&self, url: &str) -> StoreResult<bool> {
        let url = url.to_owned();
        self.execute("DELETE FROM resources WHERE url = ?", values![url])
            .await
            .map(|n| n > 0)
    }

    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.execute(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, retired_at) \
                 VALUES (?, ?, ?, ?, ?)",
            values![
                key.kid,
                key.alg.as_str(),
                key.private_pkcs8_der,
                key.created_at.millis(),
                key.retired_at.map(Timestamp::millis)
            ],
        )
        .await
        .map(drop)
    }

    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC",
                [],
                key_from,
            )
        })
    }

    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()> {
        let keep = keep.to_owned();
        self.execute(
            "UPDATE signing_keys SET retired_at = ? WHERE kid != ? AND retired_at IS NULL",
            values![at.millis(), keep],
        )
        .await
        .map(drop)
    }

    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM signing_keys WHERE retired_at < ?",
            values![before.millis()],
        )
        .await
        .map(|n| n as u64)
    }

    async fn add_family(&self, family: &TokenFamily) -> StoreResult<()> {
        let f = family.clone();
        self.execute(
            "INSERT INTO token_families \
                 (id, client_id, user_id, auth_time, created_at, revoked_at, code_hash, resource) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            values![
                f.id,
                f.client_id,
                f.user_id,
                f.auth_time.millis(),
                f.created_at.millis(),
                f.revoked_at.map(Timestamp::millis),
                f.code_hash.as_ref().map(TokenHash::as_str),
                f.resource
            ],
        )
        .await
        .map(drop)
    }

    async fn family(&self, id: &str) -> StoreResult<Option<TokenFamily>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM token_families WHERE id = ?",
                [id],
                family_from,
            )
        })
    }

    async fn family_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<TokenFamily>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM token_families WHERE code_hash = ?",
                [code_hash.as_str()],
                family_from,
            )
        })
    }

    async fn revoke_family(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let id = id.to_owned();
        // Both statements run in the writer's transaction (one savepoint).
        self.write_all(move |c| {
            let done = exec(
                c,
                "UPDATE token_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                params![at.millis(), id],
            )?;
            exec(
                c,
                "UPDATE refresh_tokens SET state = 'revoked', state_at = ?, version = version + 1 \
                 WHERE family_id = ? AND state != 'revoked'",
                params![at.millis(), id],
            )?;
            Ok(done > 0)
        })
        .await
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.execute(INSERT_REFRESH, refresh_values(token)?)
            .await
            .map(drop)
    }

    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM refresh_tokens WHERE token_hash = ?",
                [hash.as_str()],
                refresh_from,
            )
        })
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        old_version: i64,
        new: &RefreshToken,
    ) -> StoreResult<bool> {
        let (old, new) = (old.clone(), new.clone());
        // The update and the insert share the job's savepoint: an insert that
        // fails rolls the update back too.
        self.write_all(move |c| {
            let (state, at) = refresh_state_columns(&old.state);
            let done = exec(
                c,
                "UPDATE refresh_tokens SET state = ?, state_at = ?, version = ? \
                 WHERE id = ? AND version = ?",
                params![state, at, old_version + 1, old.id, old_version],
            )?;
            if done == 0 {
                return Ok(false);
            }
            insert_refresh(c, &new)?;
            Ok(true)
        })
        .await
    }

    async fn latest_in_family(&self, family_id: &str) -> StoreResult<Option<RefreshToken>> {
        self.read(|c| {
            one(
                c,
                "SELECT * FROM refresh_tokens WHERE family_id = ? \
                 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                [family_id],
                refresh_from,
            )
        })
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        let jti = jti.to_owned();
        self.execute(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?) \
                 ON CONFLICT(jti) DO NOTHING",
            values![jti, expires_at.millis()],
        )
        .await
        .map(drop)
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.read(|c| {
            one(
                c,
                "SELECT 1 FROM revoked_access_tokens WHERE jti = ?",
                [jti],
                |_| Ok(()),
            )
            .map(|row| row.is_some())
        })
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.audit_batch(std::slice::from_ref(event)).await
    }

    async fn audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let events = events.to_vec();
        self.write_all(move |c| {
            for e in &events {
                exec(
                    c,
                    "INSERT INTO audit_events (at, kind, client_id, user_id, ip, details) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                    params![
                        e.at.millis(),
                        e.kind,
                        e.client_id,
                        e.user_id,
                        e.ip,
                        e.details.to_string()
                    ],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_audit_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM audit_events WHERE seq IN \
             (SELECT seq FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)",
            values![before.millis(), i64::from(limit)],
        )
        .await
        .map(|n| n as u64)
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        self.read(|c| {
            all(
                c,
                "SELECT * FROM audit_events ORDER BY seq DESC LIMIT ?",
                [i64::from(limit)],
                audit_from,
            )
        })
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<u64> {
        self.write_all(move |c| {
            let tokens = exec(
                c,
                "DELETE FROM refresh_tokens WHERE expires_at <= ?",
                [now.millis()],
            )?;
            // Families whose every token is gone, once no access token minted
            // from them can still be valid.
            let families = exec(
                c,
                "DELETE FROM token_families WHERE created_at <= ? AND NOT EXISTS \
                 (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id)",
                [now.plus_secs(-crate::store::FAMILY_RETENTION_SECS).millis()],
            )?;
            let jtis = exec(
                c,
                "DELETE FROM revoked_access_tokens WHERE expires_at <= ?",
                [now.millis()],
            )?;
            Ok((tokens + families + jtis) as u64)
        })
        .await
    }
}

/// The statement inserting a refresh token.
const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens \
         (id, token_hash, family_id, client_id, user_id, scope, created_at, expires_at, \
          state, state_at, version, parent_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

fn insert_refresh(c: &Connection, token: &RefreshToken) -> StoreResult<()> {
    exec(
        c,
        INSERT_REFRESH,
        rusqlite::params_from_iter(refresh_values(token)?),
    )
    .map(drop)
}

/// The parameters of [`INSERT_REFRESH`] for `token`.
fn refresh_values(token: &RefreshToken) -> StoreResult<Vec<Value>> {
    let (state, at) = refresh_state_columns(&token.state);
    Ok(values![
        token.id,
        token.token_hash.as_str(),
        token.family_id,
        token.client_id,
        token.user_id,
        token.scope.to_string(),
        token.created_at.millis(),
        token.expires_at.millis(),
        state,
        at,
        token.version,
        token.parent_id
    ])
}
