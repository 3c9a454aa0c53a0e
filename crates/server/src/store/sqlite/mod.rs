//! SQLite backend: one database file serves both [`DurableStore`] and
//! [`FlowStore`] (the default, single-process deployment), through
//! `rusqlite` on the bundled SQLite.
//!
//! How it keeps the rules of [`crate::store`]:
//! * the database runs in WAL mode with a busy timeout and foreign keys on,
//!   so readers never block the one writer;
//! * every write goes to one connection on its own thread, which commits the
//!   writes queued together as one transaction, a write of several
//!   statements in a savepoint of its own ([`writer`]: group commit); a
//!   write is answered only once committed;
//! * reads run in place on one of a few read connections ([`readers`]);
//! * versioned records are updated with `WHERE <key> = ? AND version = ?`
//!   and a lost race is `Ok(false)`;
//! * authorization codes are taken with `DELETE … RETURNING`, which is atomic;
//! * rate-limit hits are one `INSERT … ON CONFLICT DO UPDATE … RETURNING`;
//! * statements are prepared once per connection and cached; the schema
//!   comes from `migrations/sqlite/`, embedded, applied in order and counted
//!   in `PRAGMA user_version` ([`schema`]).
//!
//! Durability: `synchronous=NORMAL` in WAL mode (SQLite's advice for WAL),
//! so a committed write survives the process being killed at any moment;
//! the WAL is synced at each checkpoint, so a power loss may lose the last
//! commits before it but never leaves the database inconsistent.
//!
//! Expired device grants are kept for [`super::EXPIRED_GRANT_RETENTION_MS`] after
//! they expire, so that a device polling late still gets `expired_token`
//! rather than `invalid_grant`; [`FlowStore::sweep`] reports each grant that
//! expired while pending exactly once, then deletes it when the retention ends.

mod checkpointer;
mod readers;
mod rows;
mod schema;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use devauth_proto::GrantType;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Params, Row, params};

use self::checkpointer::Checkpointer;
use self::readers::Readers;
use self::rows::{
    audit_from, client_from, code_from, family_from, grant_columns, grant_from, key_from,
    refresh_from, resource_from, session_from, user_from,
};
use self::writer::{Statement, Writer, owned};
use super::columns::{grant_state_columns, refresh_state_columns};
use super::{DurableStore, FlowStore, StoreError, StoreResult, Stores};
use crate::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, DeviceGrant, RefreshToken, Resource,
    SigningKeyRecord, Timestamp, TokenFamily, TokenHash, User,
};

/// The parameters of one [`Statement`], owned: `values![a, b]` in an async
/// fn returning `StoreResult` (a parameter that cannot be bound is an error).
macro_rules! values {
    ($($param:expr),* $(,)?) => {
        vec![$(owned(&$param)?),*]
    };
}

/// How long a connection waits for a lock held by another process (an
/// `admin` command) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections: one per thread that may read at once (the runtime's
/// workers) is enough; a few more cost only memory.
const READERS: usize = 4;

/// Prepared statements kept per connection (the store has about fifty).
const STATEMENT_CACHE: usize = 96;

/// Bytes of the database file each connection maps into memory: pages that
/// are not in a connection's page cache are read from the mapping instead
/// of with a system call each. (The page caches stay at SQLite's default
/// 2 MiB: a commit walks the writer's whole cache, so a big one costs every
/// write more than it saves.)
const MMAP_BYTES: i64 = 1 << 30;

/// Size the WAL file is cut back to after a burst of writes, bytes.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// A SQLite database serving both store traits (cheap to clone).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Writer,
    readers: Readers,
    checkpointer: std::sync::Mutex<Checkpointer>,
    /// The folder of a database opened by [`SqliteStore::open_temporary`],
    /// removed with the store.
    _temp: Option<tempfile::TempDir>,
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600: it holds the private signing
    /// keys) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, None)
    }

    /// A private database in a temporary folder removed with the store
    /// (tests: the same code path as a real database file).
    pub async fn open_temporary() -> StoreResult<Self> {
        let dir = tempfile::tempdir()
            .map_err(|e| StoreError::Other(format!("cannot make a temporary folder: {e}")))?;
        let path = dir.path().join("devauth.db");
        Self::open_with(&path, Some(dir))
    }

    fn open_with(path: &Path, temp: Option<tempfile::TempDir>) -> StoreResult<Self> {
        create_private_file(path)?;
        let writer = connect(path)?;
        // WAL first, on one connection: the switch needs an exclusive lock.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Other(format!(
                "the database refused WAL mode (journal mode is {mode})"
            )));
        }
        // Savepoints keep their undo pages in memory (`temp_store`); the
        // checkpointer thread, not commits, copies the WAL back.
        writer
            .execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY; \
                 PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
            ))
            .map_err(map_err)?;
        schema::migrate(&writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = connect(path)?;
                conn.execute_batch("PRAGMA query_only = ON;")
                    .map_err(map_err)?;
                Ok(conn)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let checkpointer = connect(path)?;
        checkpointer
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(map_err)?;
        let catch_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
        Ok(Self {
            inner: Arc::new(Inner {
                checkpointer: std::sync::Mutex::new(Checkpointer::spawn(
                    checkpointer,
                    catch_up.clone(),
                )?),
                writer: Writer::spawn(writer, catch_up)?,
                readers: Readers::new(readers),
                _temp: temp,
            }),
        })
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

    /// Closes the database; later calls fail with
    /// [`StoreError::Unavailable`] (shutdown, and outage tests). Writes
    /// already queued are committed first.
    pub async fn close(&self) {
        self.inner.readers.close();
        self.inner.writer.close().await;
        self.inner
            .checkpointer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stop();
    }

    /// Runs one statement in the writer's next group commit; the rows it
    /// changed.
    async fn execute(&self, sql: &'static str, params: Vec<Value>) -> StoreResult<usize> {
        self.inner.writer.execute(Statement::new(sql, params)).await
    }

    /// Runs one statement returning rows in the writer's next group commit;
    /// its first row.
    async fn execute_returning<T: Send + 'static>(
        &self,
        sql: &'static str,
        params: Vec<Value>,
        from: fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.inner
            .writer
            .execute_returning(Statement::new(sql, params), from)
            .await
    }

    /// Runs `work`, several statements that stand or fall together, in the
    /// writer's next group commit.
    async fn write_all<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.transaction(work).await
    }

    /// Runs `work` on a read connection.
    fn read<T>(&self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.inner.readers.read(work)
    }

    async fn ping_db(&self) -> StoreResult<()> {
        self.read(|c| exec(c, "SELECT 1", []).map(drop))?;
        self.execute("SELECT 1", Vec::new()).await.map(drop)
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Renames a client in place, as an edit from another process would
    /// (the store traits have no client update).
    pub(crate) async fn rename_client_for_test(&self, id: &str, name: &str) {
        let (id, name) = (id.to_owned(), name.to_owned());
        self.execute(
            "UPDATE clients SET name = ? WHERE id = ?",
            vec![Value::from(name), Value::from(id)],
        )
        .await
        .unwrap();
    }
}

/// One connection to `path` with the settings every connection shares.
fn connect(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    conn.execute_batch(&format!("PRAGMA mmap_size = {MMAP_BYTES};"))
        .map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// What every call gets once [`SqliteStore::close`] has run.
fn closed() -> StoreError {
    StoreError::Unavailable("the database is closed".into())
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
fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match &e {
        rusqlite::Error::SqliteFailure(err, msg) => {
            let text = msg.clone().unwrap_or_else(|| err.to_string());
            match err.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    StoreError::AlreadyExists(text)
                }
                code if matches!(code & 0xff, ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED) => {
                    StoreError::Unavailable(text)
                }
                _ => StoreError::Other(text),
            }
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Inconsistent(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// Runs one cached statement; the number of rows it changed.
fn exec(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    // `execute` refuses statements that return rows; step them instead.
    if stmt.column_count() > 0 {
        let mut rows = stmt.query(params).map_err(map_err)?;
        while rows.next().map_err(map_err)?.is_some() {}
        return Ok(conn.changes() as usize);
    }
    stmt.execute(params).map_err(map_err)
}

/// The first row of one cached query, turned into a value.
fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    from: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let mut rows = stmt.query(params).map_err(map_err)?;
    match rows.next().map_err(map_err)? {
        Some(row) => from(row).map(Some),
        None => Ok(None),
    }
}

/// Every row of one cached query, each turned into a value.
fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    from: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let mut rows = stmt.query(params).map_err(map_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        out.push(from(row)?);
    }
    Ok(out)
}

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
                [now.plus_secs(-super::FAMILY_RETENTION_SECS).millis()],
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
                [now.plus_millis(-super::EXPIRED_GRANT_RETENTION_MS).millis()],
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

#[cfg(test)]
mod tests {
    use devauth_proto::Scope;

    use super::*;
    use crate::model::{DeviceGrantState, RefreshTokenState, Requester};

    fn t0() -> Timestamp {
        Timestamp::from_secs(1_700_000_000)
    }

    fn grant(id: &str, user_code: &str) -> DeviceGrant {
        DeviceGrant {
            id: id.into(),
            device_code_hash: TokenHash::of(&format!("dc-{id}")),
            user_code: user_code.into(),
            client_id: "devauth-cli".into(),
            resource: None,
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
        SqliteStore::open_temporary().await.unwrap()
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
            resource: None,
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
            code_hash: None,
            resource: None,
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
            parent_id: None,
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
        let much_later = later.plus_millis(super::super::EXPIRED_GRANT_RETENTION_MS);
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
    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            username: name.into(),
            password_hash: "x".into(),
            disabled: false,
            created_at: t0(),
        }
    }

    #[tokio::test]
    async fn a_failing_write_in_a_group_is_rolled_back_alone() {
        let s = store().await;
        // Hold the writer inside a job until every other write is queued, so
        // that they are committed together as the next group.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let held = s.write_all(move |_| {
            gate.recv().ok();
            Ok(())
        });
        let (alice, alice_again, carol) = (
            user("u1", "alice"),
            user("u2", "alice"),
            user("u5", "carol"),
        );
        // Futures queue their job when first polled: `join!` below polls
        // them in order, so all are queued before the release.
        let ok = s.add_user(&alice);
        let duplicate = s.add_user(&alice_again);
        // Two statements in one job; the second fails, so the first must go.
        let half = s.write_all(|c| {
            exec(
                c,
                "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                 VALUES ('u3', 'bob', 'x', 0, 0)",
                [],
            )?;
            exec(
                c,
                "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                 VALUES ('u4', 'alice', 'x', 0, 0)",
                [],
            )
            .map(drop)
        });
        let after = s.add_user(&carol);
        let releaser = async {
            tokio::task::yield_now().await;
            release.send(()).unwrap();
        };
        let (held, ok, duplicate, half, after, ()) =
            tokio::join!(held, ok, duplicate, half, after, releaser);
        held.unwrap();
        ok.unwrap();
        after.unwrap();
        assert!(matches!(duplicate, Err(StoreError::AlreadyExists(_))));
        assert!(matches!(half, Err(StoreError::AlreadyExists(_))));
        let names: Vec<_> = s
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["alice", "carol"]);
        assert_eq!(s.user_by_id("u1").await.unwrap().unwrap().username, "alice");
    }

    #[tokio::test]
    async fn many_concurrent_writes_are_all_stored() {
        let s = store().await;
        let writes = (0..500).map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.add_device_grant(&grant(&format!("g{i}"), &format!("{i:0>8}")))
                    .await
            })
        });
        for w in writes.collect::<Vec<_>>() {
            w.await.unwrap().unwrap();
        }
        let count: i64 = s
            .read(|c| {
                one(c, "SELECT COUNT(*) FROM device_grants", [], |r| {
                    r.get(0).map_err(map_err)
                })
            })
            .unwrap()
            .unwrap();
        assert_eq!(count, 500);
    }

    #[tokio::test]
    async fn closed_store_refuses_reads_and_writes() {
        let s = store().await;
        s.add_user(&user("u1", "alice")).await.unwrap();
        s.close().await;
        assert!(matches!(
            s.user_by_id("u1").await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            s.add_user(&user("u2", "bob")).await,
            Err(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_database_migrated_by_sqlx_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devauth.db");
        {
            // What the sqlx-based store of earlier versions left behind.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(include_str!("../../../migrations/sqlite/0001_initial.sql"))
                .unwrap();
            c.execute_batch(
                "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
                 description TEXT NOT NULL, installed_on TIMESTAMP, success BOOLEAN NOT NULL, \
                 checksum BLOB NOT NULL, execution_time BIGINT NOT NULL); \
                 INSERT INTO _sqlx_migrations VALUES (1, 'initial', 0, 1, x'00', 0); \
                 INSERT INTO users VALUES ('u1', 'alice', 'x', 0, 0); \
                 INSERT INTO device_grants VALUES ('g1', 'h1', 'BCDFGHJK', 'devauth-cli', \
                 'openid', '127.0.0.1', 'curl', 0, 600000, 5, NULL, 0, 'pending', NULL, NULL, 0, 0);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).await.unwrap();
        assert_eq!(s.user_by_id("u1").await.unwrap().unwrap().username, "alice");
        let version: i64 = s
            .read(|c| one(c, "PRAGMA user_version", [], |r| r.get(0).map_err(map_err)))
            .unwrap()
            .unwrap();
        // 0001 was taken over, not re-run; 0002 rebuilt device_grants
        // with the row in it; the later ones added columns.
        assert_eq!(version, 9);
        let g = s
            .device_grant_by_user_code("BCDFGHJK")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.id, "g1");
        assert_eq!(g.device_code_hash.as_str(), "h1");
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devauth.db");
        drop(SqliteStore::open(&path).await.unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(err.to_string().contains("newer than this devauth"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devauth.db");
        let s = SqliteStore::open(&path).await.unwrap();
        // Eight writers without a pause: each new grant dirties pages at
        // random places, about 200 MB of WAL in all if it never restarted.
        let writers = (0..8).map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..2_500 {
                    let id = format!("{w}-{i}");
                    let mut g = grant(&id, &format!("{w}{i:0>7}"));
                    g.device_code_hash = TokenHash::of(&id);
                    s.add_device_grant(&g).await.unwrap();
                }
            })
        });
        for w in writers.collect::<Vec<_>>() {
            w.await.unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("devauth.db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < 2 * WAL_SIZE_LIMIT as u64,
            "the WAL grew to {} MiB",
            wal >> 20
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_read_connection_sees_an_answered_write() {
        let s = store().await;
        let g = grant("g1", "BCDFGHJK");
        s.add_device_grant(&g).await.unwrap();
        let mut current = g.clone();
        // More rounds than read connections, so each one serves reads right
        // after a write it did not make.
        for round in 0..(READERS as i64 * 25) {
            let mut next = current.clone();
            next.failed_confirmations = u32::try_from(round + 1).unwrap();
            assert!(s.update_device_grant(&next, round).await.unwrap());
            let seen = s
                .device_grant_by_code(&g.device_code_hash)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(seen.version, round + 1);
            assert_eq!(seen.failed_confirmations, next.failed_confirmations);
            current = seen;
        }
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let s = store().await;
        let boom = s
            .write_all(|c| -> StoreResult<()> {
                exec(
                    c,
                    "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                     VALUES ('u9', 'mallory', 'x', 0, 0)",
                    [],
                )?;
                panic!("a bug in a write");
            })
            .await;
        assert!(matches!(boom, Err(StoreError::Other(_))));
        // Rolled back, and the next write works.
        assert!(s.user_by_id("u9").await.unwrap().is_none());
        s.add_user(&user("u1", "alice")).await.unwrap();
        assert!(s.user_by_id("u1").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_transaction_sqlite_gives_up_fails_the_whole_group() {
        let s = store().await;
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let held = s.write_all(move |_| {
            gate.recv().ok();
            Ok(())
        });
        let (alice, carol) = (user("u1", "alice"), user("u3", "carol"));
        let before = s.add_user(&alice);
        // What SQLite does on SQLITE_FULL or an I/O error: the transaction
        // is gone mid-group.
        let gives_up = async { s.execute("ROLLBACK", Vec::new()).await.map(drop) };
        let after = s.add_user(&carol);
        let releaser = async {
            tokio::task::yield_now().await;
            release.send(()).unwrap();
        };
        let (_held, before, gives_up, after, ()) =
            tokio::join!(held, before, gives_up, after, releaser);
        // (The held job may share their group, or have one of its own.)
        for result in [before, gives_up, after] {
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{result:?}"
            );
        }
        // Nothing of that group is stored, and the writer goes on.
        assert!(s.list_users().await.unwrap().is_empty());
        s.add_user(&alice).await.unwrap();
        assert_eq!(s.list_users().await.unwrap().len(), 1);
    }
}
