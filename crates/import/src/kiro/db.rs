//! Reading and writing kiro-cli's SQLite database without getting in its way.
//!
//! Reads open the file read-only (never `immutable=1`: kiro-cli may write at
//! any moment), wait at most [`BUSY_TIMEOUT`] for a lock, read everything in
//! one short transaction and close. Writes are one `BEGIN IMMEDIATE`
//! transaction that checks the row still holds the value we read before it
//! replaces it (compare-and-swap), so a refresh kiro-cli made meanwhile is
//! never overwritten.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

use super::token::{PROFILE_STATE_KEY, REGISTRATION_KEYS, TokenKey};
use crate::error::{ImportError, Missing};

/// How long a read or write waits for kiro-cli to release a lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

/// kiro-cli's database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiroDb {
    path: PathBuf,
    busy_timeout: Duration,
}

/// What one read of the database found.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Token rows present, as raw text, in key order.
    pub tokens: Vec<(TokenKey, String)>,
    /// Registration rows present, as raw text.
    pub registrations: Vec<(String, String)>,
    /// The raw `api.codewhisperer.profile` document of the `state` table.
    pub profile_state: Option<String>,
}

/// The result of a compare-and-swap write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cas {
    /// The row still held the expected value and now holds the new one.
    Written,
    /// The row changed meanwhile (or vanished); nothing was written. Holds
    /// the row's current value.
    Changed(Option<String>),
}

fn text(value: SqlValue) -> Option<String> {
    match value {
        SqlValue::Text(s) => Some(s),
        SqlValue::Blob(b) => String::from_utf8(b).ok(),
        _ => None,
    }
}

impl KiroDb {
    /// The database at `path` (not opened yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            busy_timeout: BUSY_TIMEOUT,
        }
    }

    /// The same database with another busy timeout.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn map_err(&self, source: rusqlite::Error) -> ImportError {
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ImportError::Locked {
                path: self.path.clone(),
            },
            Some(ErrorCode::NotADatabase) => ImportError::UnknownSchema {
                path: self.path.clone(),
                detail: "not an SQLite database".into(),
            },
            _ => ImportError::Sqlite {
                path: self.path.clone(),
                source,
            },
        }
    }

    fn open(&self, flags: OpenFlags) -> Result<Connection, ImportError> {
        if !self.path.is_file() {
            return Err(ImportError::NotFound {
                what: Missing::KiroDatabase,
                path: self.path.clone(),
            });
        }
        let conn = Connection::open_with_flags(&self.path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| self.map_err(e))?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(|e| self.map_err(e))?;
        Ok(conn)
    }

    /// Reads every token and registration row and the profile ARN in one
    /// short read transaction, then closes the database.
    pub fn read(&self) -> Result<Snapshot, ImportError> {
        let mut conn = self.open(OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let tx = conn.transaction().map_err(|e| self.map_err(e))?;
        let tables: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('auth_kv', 'state')")
                .map_err(|e| self.map_err(e))?;
            stmt.query_map([], |r| r.get(0))
                .and_then(Iterator::collect)
                .map_err(|e| self.map_err(e))?
        };
        if !tables.iter().any(|t| t == "auth_kv") {
            return Err(ImportError::UnknownSchema {
                path: self.path.clone(),
                detail: "it has no auth_kv table".into(),
            });
        }
        let mut snapshot = Snapshot::default();
        {
            let keys: Vec<&str> = TokenKey::ALL
                .iter()
                .map(|k| k.as_str())
                .chain(REGISTRATION_KEYS)
                .collect();
            let mut stmt = tx
                .prepare("SELECT key, value FROM auth_kv WHERE key IN (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(|e| ImportError::UnknownSchema {
                    path: self.path.clone(),
                    detail: format!("auth_kv is not (key, value): {e}"),
                })?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(keys), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, SqlValue>(1)?))
                })
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| self.map_err(e))?;
            for (key, value) in rows {
                let Some(value) = text(value) else { continue };
                if let Some(k) = TokenKey::parse(&key) {
                    snapshot.tokens.push((k, value));
                } else {
                    snapshot.registrations.push((key, value));
                }
            }
            snapshot.tokens.sort_by_key(|(k, _)| *k);
        }
        if tables.iter().any(|t| t == "state") {
            snapshot.profile_state = tx
                .query_row(
                    "SELECT value FROM state WHERE key = ?1",
                    [PROFILE_STATE_KEY],
                    |r| r.get::<_, SqlValue>(0),
                )
                .map(text)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
                .map_err(|e| self.map_err(e))?;
        }
        tx.commit().map_err(|e| self.map_err(e))?;
        Ok(snapshot)
    }

    /// Reads one `auth_kv` value.
    pub fn read_key(&self, key: &str) -> Result<Option<String>, ImportError> {
        let conn = self.open(OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.query_row("SELECT value FROM auth_kv WHERE key = ?1", [key], |r| {
            r.get::<_, SqlValue>(0)
        })
        .map(text)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(|e| self.map_err(e))
    }

    /// Replaces the value of `key` with `new` only if it still is `expected`,
    /// inside one write transaction.
    pub fn compare_and_swap(
        &self,
        key: &str,
        expected: &str,
        new: &str,
    ) -> Result<Cas, ImportError> {
        let mut conn = self.open(OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.map_err(e))?;
        let current = tx
            .query_row("SELECT value FROM auth_kv WHERE key = ?1", [key], |r| {
                r.get::<_, SqlValue>(0)
            })
            .map(text)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.map_err(e))?;
        if current.as_deref() != Some(expected) {
            return Ok(Cas::Changed(current));
        }
        tx.execute(
            "UPDATE auth_kv SET value = ?1 WHERE key = ?2",
            params![new, key],
        )
        .map_err(|e| self.map_err(e))?;
        tx.commit().map_err(|e| self.map_err(e))?;
        Ok(Cas::Written)
    }
}
