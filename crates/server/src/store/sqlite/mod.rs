//! SQLite backend: one database file serves both
//! [`DurableStore`](super::DurableStore) and [`FlowStore`](super::FlowStore)
//! (the default, single-process deployment), through `rusqlite` on the
//! bundled SQLite. Opening the file and its connections is here; `sql.rs`
//! runs statements and maps driver errors, `writer.rs`, `readers.rs` and
//! `checkpointer.rs` are the threads that use the connections, `durable.rs`
//! and `flow.rs` implement the two traits, `rows.rs` reads rows into model
//! values, `schema.rs` applies migrations, `tests.rs` holds the tests beyond
//! the shared suite.
//!
//! How it keeps the rules of [`crate::store`]:
//! * the database runs in WAL mode with a busy timeout and foreign keys on,
//!   so readers never block the one writer;
//! * every write goes to one connection on its own thread, which commits the
//!   writes queued together as one transaction, a write of several
//!   statements in a savepoint of its own (`writer`: group commit); a
//!   write is answered only once committed;
//! * reads run in place on one of a few read connections (`readers`);
//! * versioned records are updated with `WHERE <key> = ? AND version = ?`
//!   and a lost race is `Ok(false)`;
//! * authorization codes are taken with `DELETE … RETURNING`, which is atomic;
//! * rate-limit hits are one `INSERT … ON CONFLICT DO UPDATE … RETURNING`;
//! * statements are prepared once per connection and cached; the schema
//!   comes from `migrations/sqlite/`, embedded, applied in order and counted
//!   in `PRAGMA user_version` (`schema`).
//!
//! Durability: `synchronous=NORMAL` in WAL mode (SQLite's advice for WAL),
//! so a committed write survives the process being killed at any moment;
//! the WAL is synced at each checkpoint, so a power loss may lose the last
//! commits before it but never leaves the database inconsistent.
//!
//! Expired device grants are kept for [`super::EXPIRED_GRANT_RETENTION_MS`] after
//! they expire, so that a device polling late still gets `expired_token`
//! rather than `invalid_grant`; [`FlowStore::sweep`](super::FlowStore::sweep) reports each grant that
//! expired while pending exactly once, then deletes it when the retention ends.

mod checkpointer;
mod readers;
mod rows;
mod schema;
mod sql;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Row};

use self::checkpointer::Checkpointer;
use self::readers::Readers;
use self::sql::{exec, map_err};
use self::writer::{Statement, Writer};
use super::{StoreError, StoreResult, Stores};

/// The parameters of one [`Statement`], owned: `values![a, b]` in an async
/// fn returning `StoreResult` (a parameter that cannot be bound is an error).
macro_rules! values {
    ($($param:expr),* $(,)?) => {
        vec![$($crate::store::sqlite::writer::owned(&$param)?),*]
    };
}

// The two traits, each in its own file (after `values!`, which they use).
mod durable;
mod flow;
#[cfg(test)]
mod tests;

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
