//! SQLite backend: one database file serves both [`DurableStore`] and
//! [`FlowStore`] (the default, single-process deployment).
//!
//! How it keeps the rules of [`crate::store`]:
//! * the database runs in WAL mode with a busy timeout and foreign keys on,
//!   so readers never block the one writer and a briefly locked database
//!   waits instead of failing (sqlx#451);
//! * every write is a single statement or a short transaction whose first
//!   statement writes, so a transaction never has to upgrade a read lock;
//! * versioned records are updated with `WHERE id = ? AND version = ?` and a
//!   lost race is `Ok(false)`;
//! * authorization codes are taken with `DELETE … RETURNING`, which is atomic;
//! * rate-limit hits are one `INSERT … ON CONFLICT DO UPDATE … RETURNING`;
//! * queries are built at run time (no compile-time checked macros), the
//!   schema comes from `migrations/sqlite/` embedded with [`sqlx::migrate!`].
//!
//! Expired device grants are kept for [`EXPIRED_GRANT_RETENTION_SECS`] after
//! they expire, so that a device polling late still gets `expired_token`
//! rather than `invalid_grant`; [`FlowStore::sweep`] reports each grant that
//! expired while pending exactly once, then deletes it when the retention ends.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use devauth_proto::{GrantType, Scope};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::{DurableStore, FlowStore, StoreError, StoreResult, Stores};
use crate::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, DeviceGrant, DeviceGrantState,
    KeyAlgorithm, RefreshToken, RefreshTokenState, Requester, SigningKeyRecord, Timestamp,
    TokenFamily, TokenHash, User,
};

/// How long an expired device grant is kept so late polls get `expired_token`.
pub const EXPIRED_GRANT_RETENTION_SECS: i64 = 600;

/// Audit rows stored by one statement of [`DurableStore::audit_batch`].
const AUDIT_ROWS_PER_INSERT: usize = 200;

/// How long a writer waits for the database lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Connections of the pool that serves reads from a database file (WAL
/// lets them read alongside the writer).
const READERS: u32 = 4;

/// A SQLite database serving both store traits.
///
/// Writes go through `writer`, a pool of one connection: SQLite admits one
/// writer at a time anyway, and concurrent writers on separate connections
/// would collide on the write lock and sleep in the busy timeout (long tail
/// latencies); queued on one connection they run back to back. Plain reads
/// (`SELECT`) go through `reader`, which for a file database has several
/// connections; each statement is its own read transaction, so it sees every
/// write committed before it started. An in-memory database uses one
/// connection for both.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600: it holds the private signing
    /// keys) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // Switch to WAL on one connection first: the switch needs an
        // exclusive lock and pooled connections opening together would
        // otherwise race for it ("database is locked").
        {
            use sqlx::ConnectOptions as _;
            use sqlx::Connection as _;
            let conn = options.connect().await.map_err(map_err)?;
            conn.close().await.map_err(map_err)?;
        }
        let writer = Self::pool(options.clone(), 1).await?;
        let store = Self {
            writer,
            reader: Self::pool(options, READERS).await?,
        };
        store.run_migrations().await?;
        Ok(store)
    }

    /// A private in-memory database (tests). One connection, so every query
    /// sees the same database.
    pub async fn open_in_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(map_err)?
            .foreign_keys(true);
        let pool = Self::pool(options, 1).await?;
        let store = Self {
            writer: pool.clone(),
            reader: pool,
        };
        store.run_migrations().await?;
        Ok(store)
    }

    async fn pool(options: SqliteConnectOptions, max: u32) -> StoreResult<SqlitePool> {
        SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            // In-memory databases vanish with their last connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(map_err)
    }

    /// Opens the database at `path` and returns it as both stores.
    pub async fn open_stores(path: &Path) -> StoreResult<Stores> {
        Ok(Self::open(path).await?.into_stores())
    }

    /// This store as both [`Stores`] halves.
    pub fn into_stores(self) -> Stores {
        let me = Arc::new(self);
        Stores {
            durable: me.clone(),
            flow: me,
        }
    }

    /// Closes every connection; later calls fail with
    /// [`StoreError::Unavailable`] (shutdown, and outage tests).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    async fn ping_db(&self) -> StoreResult<()> {
        for pool in [&self.writer, &self.reader] {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Renames a client in place, as an edit from another process would
    /// (the store traits have no client update).
    pub(crate) async fn rename_client_for_test(&self, id: &str, name: &str) {
        sqlx::query("UPDATE clients SET name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&self.writer)
            .await
            .unwrap();
    }
}

/// Creates an empty database file readable only by its owner, so SQLite (which
/// gives its `-wal` and `-shm` files the database's mode) never makes it
/// world-readable. An existing file is left as it is.
fn create_private_file(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Other(format!(
            "cannot create the database file {}: {e}",
            path.display()
        ))),
    }
}

/// Maps a driver error to the store's error kinds. Messages carry SQLite's
/// text (table and column names), never bound values.
fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::AlreadyExists(db.message().to_owned())
        }
        sqlx::Error::Database(db) => {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes.
            let busy = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6));
            if busy {
                StoreError::Unavailable(db.message().to_owned())
            } else {
                StoreError::Other(db.message().to_owned())
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

fn inconsistent(what: &str) -> StoreError {
    StoreError::Inconsistent(what.to_owned())
}

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(col).map_err(map_err)
}

fn ts(row: &SqliteRow, col: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_millis(get::<i64>(row, col)?))
}

fn opt_ts(row: &SqliteRow, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp::from_millis))
}

fn scope(row: &SqliteRow, col: &str) -> StoreResult<Scope> {
    Scope::parse(&get::<String>(row, col)?).map_err(|_| inconsistent("bad scope"))
}

fn user_from(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: get(row, "id")?,
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        disabled: get::<i64>(row, "disabled")? != 0,
        created_at: ts(row, "created_at")?,
    })
}

fn client_from(row: &SqliteRow) -> StoreResult<Client> {
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
        created_at: ts(row, "created_at")?,
    })
}

fn key_from(row: &SqliteRow) -> StoreResult<SigningKeyRecord> {
    let alg: String = get(row, "alg")?;
    Ok(SigningKeyRecord {
        kid: get(row, "kid")?,
        alg: KeyAlgorithm::parse(&alg).ok_or_else(|| inconsistent("unknown key algorithm"))?,
        private_pkcs8_der: get(row, "private_der")?,
        created_at: ts(row, "created_at")?,
        retired_at: opt_ts(row, "retired_at")?,
    })
}

fn family_from(row: &SqliteRow) -> StoreResult<TokenFamily> {
    Ok(TokenFamily {
        id: get(row, "id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

fn refresh_state_columns(state: &RefreshTokenState) -> (&'static str, Option<i64>) {
    match state {
        RefreshTokenState::Active => ("active", None),
        RefreshTokenState::Rotated { rotated_at } => ("rotated", Some(rotated_at.millis())),
        RefreshTokenState::Revoked { revoked_at } => ("revoked", Some(revoked_at.millis())),
    }
}

fn refresh_from(row: &SqliteRow) -> StoreResult<RefreshToken> {
    let state: String = get(row, "state")?;
    let at = opt_ts(row, "state_at")?;
    let state = match (state.as_str(), at) {
        ("active", None) => RefreshTokenState::Active,
        ("rotated", Some(rotated_at)) => RefreshTokenState::Rotated { rotated_at },
        ("revoked", Some(revoked_at)) => RefreshTokenState::Revoked { revoked_at },
        _ => return Err(inconsistent("impossible refresh token state")),
    };
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
        version: get(row, "version")?,
    })
}

fn audit_from(row: &SqliteRow) -> StoreResult<AuditEvent> {
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

fn grant_state_columns(state: &DeviceGrantState) -> (&'static str, Option<&str>, Option<i64>) {
    match state {
        DeviceGrantState::Pending => ("pending", None, None),
        DeviceGrantState::Approved {
            user_id,
            approved_at,
        } => ("approved", Some(user_id), Some(approved_at.millis())),
        DeviceGrantState::Denied { denied_at } => ("denied", None, Some(denied_at.millis())),
        DeviceGrantState::Exchanged { exchanged_at } => {
            ("exchanged", None, Some(exchanged_at.millis()))
        }
    }
}

fn grant_from(row: &SqliteRow) -> StoreResult<DeviceGrant> {
    let state: String = get(row, "state")?;
    let user: Option<String> = get(row, "state_user_id")?;
    let at = opt_ts(row, "state_at")?;
    let state = match (state.as_str(), user, at) {
        ("pending", None, None) => DeviceGrantState::Pending,
        ("approved", Some(user_id), Some(approved_at)) => DeviceGrantState::Approved {
            user_id,
            approved_at,
        },
        ("denied", None, Some(denied_at)) => DeviceGrantState::Denied { denied_at },
        ("exchanged", None, Some(exchanged_at)) => DeviceGrantState::Exchanged { exchanged_at },
        _ => return Err(inconsistent("impossible device grant state")),
    };
    Ok(DeviceGrant {
        id: get(row, "id")?,
        device_code_hash: TokenHash::from_stored(get(row, "device_code_hash")?),
        user_code: get(row, "user_code")?,
        client_id: get(row, "client_id")?,
        scope: scope(row, "scope")?,
        requester: Requester {
            ip: get(row, "requester_ip")?,
            user_agent: get(row, "requester_user_agent")?,
        },
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        interval_secs: u32::try_from(get::<i64>(row, "interval_secs")?)
            .map_err(|_| inconsistent("bad interval"))?,
        last_polled_at: opt_ts(row, "last_polled_at")?,
        failed_confirmations: u32::try_from(get::<i64>(row, "failed_confirmations")?)
            .map_err(|_| inconsistent("bad failed_confirmations"))?,
        state,
        version: get(row, "version")?,
    })
}

fn code_from(row: &SqliteRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: TokenHash::from_stored(get(row, "code_hash")?),
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        redirect_uri: get(row, "redirect_uri")?,
        scope: scope(row, "scope")?,
        code_challenge: get(row, "code_challenge")?,
        nonce: get(row, "nonce")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
    })
}

fn session_from(row: &SqliteRow) -> StoreResult<BrowserSession> {
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

#[async_trait]
impl DurableStore for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, disabled, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(i64::from(user.disabled))
        .bind(user.created_at.millis())
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET disabled = ? WHERE username = ?")
            .bind(i64::from(disabled))
            .bind(username)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
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
        sqlx::query(
            "INSERT INTO clients \
             (id, name, secret_hash, grant_types, redirect_uris, allowed_scopes, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(client.secret_hash.as_ref().map(TokenHash::as_str))
        .bind(grants)
        .bind(uris)
        .bind(client.allowed_scopes.to_string())
        .bind(client.created_at.millis())
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT * FROM clients WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(client_from)
            .transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        sqlx::query("SELECT * FROM clients ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?
            .iter()
            .map(client_from)
            .collect()
    }

    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, retired_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(&key.private_pkcs8_der)
        .bind(key.created_at.millis())
        .bind(key.retired_at.map(Timestamp::millis))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        sqlx::query("SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?
            .iter()
            .map(key_from)
            .collect()
    }

    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE kid != ? AND retired_at IS NULL")
            .bind(at.millis())
            .bind(keep)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE retired_at < ?")
            .bind(before.millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn add_family(&self, family: &TokenFamily) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_families (id, client_id, user_id, auth_time, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&family.id)
        .bind(&family.client_id)
        .bind(&family.user_id)
        .bind(family.auth_time.millis())
        .bind(family.created_at.millis())
        .bind(family.revoked_at.map(Timestamp::millis))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn family(&self, id: &str) -> StoreResult<Option<TokenFamily>> {
        sqlx::query("SELECT * FROM token_families WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(family_from)
            .transpose()
    }

    async fn revoke_family(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_err)?;
        let done = sqlx::query(
            "UPDATE token_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(at.millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', state_at = ?, version = version + 1 \
             WHERE family_id = ? AND state != 'revoked'",
        )
        .bind(at.millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        insert_refresh(&self.writer, token).await
    }

    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ?")
            .bind(hash.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(refresh_from)
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        old_version: i64,
        new: &RefreshToken,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_err)?;
        let (state, at) = refresh_state_columns(&old.state);
        let done = sqlx::query(
            "UPDATE refresh_tokens SET state = ?, state_at = ?, version = ? \
             WHERE id = ? AND version = ?",
        )
        .bind(state)
        .bind(at)
        .bind(old_version + 1)
        .bind(&old.id)
        .bind(old_version)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        insert_refresh(&mut *tx, new).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn latest_in_family(&self, family_id: &str) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(
            "SELECT * FROM refresh_tokens WHERE family_id = ? \
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(family_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?
        .as_ref()
        .map(refresh_from)
        .transpose()
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?) \
             ON CONFLICT(jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at.millis())
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        insert_audit(&self.writer, event).await
    }

    async fn audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        // One multi-row INSERT per chunk (6 bound values a row, far below
        // SQLite's limit of 32766): one trip to the writer connection for
        // many rows, so the audit trail hardly delays the request writes
        // queued on the same connection.
        let mut tx = self.writer.begin().await.map_err(map_err)?;
        for chunk in events.chunks(AUDIT_ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO audit_events (at, kind, client_id, user_id, ip, details) ",
            );
            insert.push_values(chunk, |mut row, event| {
                row.push_bind(event.at.millis())
                    .push_bind(event.kind.clone())
                    .push_bind(event.client_id.clone())
                    .push_bind(event.user_id.clone())
                    .push_bind(event.ip.clone())
                    .push_bind(event.details.to_string());
            });
            insert.build().execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        sqlx::query("SELECT * FROM audit_events ORDER BY seq DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?
            .iter()
            .map(audit_from)
            .collect()
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<u64> {
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= ?")
            .bind(now.millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        // Families whose every token is gone, once no access token minted
        // from them can still be valid.
        let families = sqlx::query(
            "DELETE FROM token_families WHERE created_at <= ? AND NOT EXISTS \
             (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id)",
        )
        .bind(now.plus_secs(-super::FAMILY_RETENTION_SECS).millis())
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        let jtis = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= ?")
            .bind(now.millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(tokens.rows_affected() + families.rows_affected() + jtis.rows_affected())
    }
}

async fn insert_audit<'e, E>(executor: E, event: &AuditEvent) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO audit_events (at, kind, client_id, user_id, ip, details) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(event.at.millis())
    .bind(&event.kind)
    .bind(&event.client_id)
    .bind(&event.user_id)
    .bind(&event.ip)
    .bind(event.details.to_string())
    .execute(executor)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn insert_refresh<'e, E>(executor: E, token: &RefreshToken) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let (state, at) = refresh_state_columns(&token.state);
    sqlx::query(
        "INSERT INTO refresh_tokens \
         (id, token_hash, family_id, client_id, user_id, scope, created_at, expires_at, \
          state, state_at, version) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&token.id)
    .bind(token.token_hash.as_str())
    .bind(&token.family_id)
    .bind(&token.client_id)
    .bind(&token.user_id)
    .bind(token.scope.to_string())
    .bind(token.created_at.millis())
    .bind(token.expires_at.millis())
    .bind(state)
    .bind(at)
    .bind(token.version)
    .execute(executor)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_device_grant(&self, grant: &DeviceGrant) -> StoreResult<()> {
        let (state, user, at) = grant_state_columns(&grant.state);
        // One statement: a user code may be reused once its grant has
        // expired, so a clash on `user_code` overwrites an expired grant's
        // row (every column) and is refused otherwise (no row written).
        let done = sqlx::query(
            "INSERT INTO device_grants \
             (id, device_code_hash, user_code, client_id, scope, requester_ip, \
              requester_user_agent, created_at, expires_at, interval_secs, last_polled_at, \
              failed_confirmations, state, state_user_id, state_at, version) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(user_code) DO UPDATE SET \
              id = excluded.id, device_code_hash = excluded.device_code_hash, \
              client_id = excluded.client_id, scope = excluded.scope, \
              requester_ip = excluded.requester_ip, \
              requester_user_agent = excluded.requester_user_agent, \
              created_at = excluded.created_at, expires_at = excluded.expires_at, \
              interval_secs = excluded.interval_secs, last_polled_at = excluded.last_polled_at, \
              failed_confirmations = excluded.failed_confirmations, state = excluded.state, \
              state_user_id = excluded.state_user_id, state_at = excluded.state_at, \
              version = excluded.version, expiry_reported = 0 \
             WHERE device_grants.expires_at <= excluded.created_at",
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
        .bind(i64::from(grant.interval_secs))
        .bind(grant.last_polled_at.map(Timestamp::millis))
        .bind(i64::from(grant.failed_confirmations))
        .bind(state)
        .bind(user)
        .bind(at)
        .bind(grant.version)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists(
                "the user code belongs to a live device grant".into(),
            ));
        }
        Ok(())
    }

    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>> {
        sqlx::query("SELECT * FROM device_grants WHERE device_code_hash = ?")
            .bind(hash.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(grant_from)
            .transpose()
    }

    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>> {
        sqlx::query("SELECT * FROM device_grants WHERE user_code = ?")
            .bind(user_code)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(grant_from)
            .transpose()
    }

    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let (state, user, at) = grant_state_columns(&grant.state);
        let done = sqlx::query(
            "UPDATE device_grants SET interval_secs = ?, last_polled_at = ?, \
             failed_confirmations = ?, state = ?, state_user_id = ?, state_at = ?, version = ? \
             WHERE id = ? AND version = ?",
        )
        .bind(i64::from(grant.interval_secs))
        .bind(grant.last_polled_at.map(Timestamp::millis))
        .bind(i64::from(grant.failed_confirmations))
        .bind(state)
        .bind(user)
        .bind(at)
        .bind(expected_version + 1)
        .bind(&grant.id)
        .bind(expected_version)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes \
             (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, nonce, \
              auth_time, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>> {
        sqlx::query("DELETE FROM authorization_codes WHERE code_hash = ? RETURNING *")
            .bind(hash.as_str())
            .fetch_optional(&self.writer)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(code_from)
            .transpose()
    }

    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO browser_sessions \
             (id_hash, csrf_token, user_id, authenticated_at, created_at, expires_at, version) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(session.id_hash.as_str())
        .bind(&session.csrf_token)
        .bind(&session.user_id)
        .bind(session.authenticated_at.map(Timestamp::millis))
        .bind(session.created_at.millis())
        .bind(session.expires_at.millis())
        .bind(session.version)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>> {
        sqlx::query("SELECT * FROM browser_sessions WHERE id_hash = ?")
            .bind(id_hash.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE browser_sessions SET csrf_token = ?, user_id = ?, authenticated_at = ?, \
             expires_at = ?, version = ? WHERE id_hash = ? AND version = ?",
        )
        .bind(&session.csrf_token)
        .bind(&session.user_id)
        .bind(session.authenticated_at.map(Timestamp::millis))
        .bind(session.expires_at.millis())
        .bind(expected_version + 1)
        .bind(session.id_hash.as_str())
        .bind(expected_version)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = ?")
            .bind(id_hash.as_str())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        let window_ms = i64::from(window_secs.max(1)) * 1000;
        let start = now.millis().div_euclid(window_ms) * window_ms;
        let row = sqlx::query(
            "INSERT INTO rate_limits (key, window_start, count, expires_at) VALUES (?, ?, 1, ?) \
             ON CONFLICT(key, window_start) DO UPDATE SET count = count + 1 RETURNING count",
        )
        .bind(key)
        .bind(start)
        .bind(start + window_ms)
        .fetch_one(&self.writer)
        .await
        .map_err(map_err)?;
        let count: i64 = get(&row, "count")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<Vec<DeviceGrant>> {
        let expired = sqlx::query(
            "UPDATE device_grants SET expiry_reported = 1 \
             WHERE state = 'pending' AND expires_at <= ? AND expiry_reported = 0 RETURNING *",
        )
        .bind(now.millis())
        .fetch_all(&self.writer)
        .await
        .map_err(map_err)?
        .iter()
        .map(grant_from)
        .collect::<StoreResult<Vec<_>>>()?;
        sqlx::query("DELETE FROM device_grants WHERE expires_at <= ?")
            .bind(now.plus_secs(-EXPIRED_GRANT_RETENTION_SECS).millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at <= ?")
            .bind(now.millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM browser_sessions WHERE expires_at <= ?")
            .bind(now.millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM rate_limits WHERE expires_at <= ?")
            .bind(now.millis())
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RefreshTokenState;

    fn t0() -> Timestamp {
        Timestamp::from_secs(1_700_000_000)
    }

    fn grant(id: &str, user_code: &str) -> DeviceGrant {
        DeviceGrant {
            id: id.into(),
            device_code_hash: TokenHash::of(&format!("dc-{id}")),
            user_code: user_code.into(),
            client_id: "devauth-cli".into(),
            scope: Scope::parse("openid offline_access").unwrap(),
            requester: Requester {
                ip: "127.0.0.1".into(),
                user_agent: "test".into(),
            },
            created_at: t0(),
            expires_at: t0().plus_secs(600),
            interval_secs: 5,
            last_polled_at: None,
            failed_confirmations: 0,
            state: DeviceGrantState::Pending,
            version: 0,
        }
    }

    async fn store() -> SqliteStore {
        SqliteStore::open_in_memory().await.unwrap()
    }

    #[tokio::test]
    async fn device_grant_round_trip_and_cas() {
        let s = store().await;
        let g = grant("g1", "BCDFGHJK");
        s.add_device_grant(&g).await.unwrap();
        assert!(matches!(
            s.add_device_grant(&grant("g2", "BCDFGHJK")).await,
            Err(StoreError::AlreadyExists(_))
        ));
        let read = s
            .device_grant_by_code(&g.device_code_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, g);
        let approved = read.clone().approve("u1".into(), t0()).unwrap();
        assert!(s.update_device_grant(&approved, 0).await.unwrap());
        // A second writer holding version 0 loses.
        let denied = read.deny(t0()).unwrap();
        assert!(!s.update_device_grant(&denied, 0).await.unwrap());
        let now = s
            .device_grant_by_user_code("BCDFGHJK")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.version, 1);
        assert!(
            matches!(now.state, DeviceGrantState::Approved { ref user_id, .. } if user_id == "u1")
        );
    }

    #[tokio::test]
    async fn authorization_codes_are_taken_once() {
        let s = store().await;
        let code = AuthorizationCode {
            code_hash: TokenHash::of("code"),
            client_id: "c".into(),
            user_id: "u".into(),
            redirect_uri: "http://127.0.0.1:1234/callback".into(),
            scope: Scope::parse("openid").unwrap(),
            code_challenge: "x".into(),
            nonce: Some("n".into()),
            auth_time: t0(),
            created_at: t0(),
            expires_at: t0().plus_secs(60),
        };
        s.add_authorization_code(&code).await.unwrap();
        let (a, b) = tokio::join!(
            s.take_authorization_code(&code.code_hash),
            s.take_authorization_code(&code.code_hash)
        );
        let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(taken, vec![code]);
    }

    #[tokio::test]
    async fn hits_count_per_window() {
        let s = store().await;
        assert_eq!(s.hit("ip:1", 60, t0()).await.unwrap(), 1);
        assert_eq!(s.hit("ip:1", 60, t0().plus_secs(1)).await.unwrap(), 2);
        assert_eq!(s.hit("ip:2", 60, t0()).await.unwrap(), 1);
        assert_eq!(s.hit("ip:1", 60, t0().plus_secs(61)).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn refresh_rotation_and_family_revocation() {
        let s = store().await;
        let fam = TokenFamily {
            id: "f".into(),
            client_id: "c".into(),
            user_id: "u".into(),
            auth_time: t0(),
            created_at: t0(),
            revoked_at: None,
        };
        s.add_family(&fam).await.unwrap();
        let rt = |id: &str, at: Timestamp| RefreshToken {
            id: id.into(),
            token_hash: TokenHash::of(id),
            family_id: "f".into(),
            client_id: "c".into(),
            user_id: "u".into(),
            scope: Scope::parse("openid").unwrap(),
            created_at: at,
            expires_at: at.plus_secs(3600),
            state: RefreshTokenState::Active,
            version: 0,
        };
        let first = rt("r1", t0());
        s.add_refresh_token(&first).await.unwrap();
        let mut used = first.clone();
        used.state = RefreshTokenState::Rotated { rotated_at: t0() };
        let second = rt("r2", t0().plus_secs(1));
        assert!(s.rotate_refresh_token(&used, 0, &second).await.unwrap());
        assert!(
            !s.rotate_refresh_token(&used, 0, &rt("r3", t0()))
                .await
                .unwrap()
        );
        assert!(
            s.refresh_token(&TokenHash::of("r3"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(s.latest_in_family("f").await.unwrap().unwrap().id, "r2");
        assert!(s.revoke_family("f", t0()).await.unwrap());
        assert!(!s.revoke_family("f", t0()).await.unwrap());
        let r2 = s
            .refresh_token(&TokenHash::of("r2"))
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(r2.state, RefreshTokenState::Revoked { .. }));
    }

    #[tokio::test]
    async fn sweep_reports_expired_pending_grants_once() {
        let s = store().await;
        s.add_device_grant(&grant("g1", "BCDFGHJK")).await.unwrap();
        let approved = grant("g2", "CCCCCCCC").approve("u".into(), t0()).unwrap();
        s.add_device_grant(&approved).await.unwrap();
        let later = t0().plus_secs(601);
        let expired = FlowStore::sweep(&s, later).await.unwrap();
        assert_eq!(
            expired.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
            ["g1"]
        );
        assert!(FlowStore::sweep(&s, later).await.unwrap().is_empty());
        // Kept for late polls, then deleted.
        assert!(
            s.device_grant_by_user_code("BCDFGHJK")
                .await
                .unwrap()
                .is_some()
        );
        let much_later = later.plus_secs(EXPIRED_GRANT_RETENTION_SECS);
        FlowStore::sweep(&s, much_later).await.unwrap();
        assert!(
            s.device_grant_by_user_code("BCDFGHJK")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn file_database_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devauth.db");
        {
            let s = SqliteStore::open(&path).await.unwrap();
            s.add_device_grant(&grant("g1", "BCDFGHJK")).await.unwrap();
        }
        let s = SqliteStore::open(&path).await.unwrap();
        assert!(
            s.device_grant_by_user_code("BCDFGHJK")
                .await
                .unwrap()
                .is_some()
        );
        #[cfg(unix)]
        for file in ["devauth.db", "devauth.db-wal", "devauth.db-shm"] {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is private: {mode:o}");
        }
    }
}
