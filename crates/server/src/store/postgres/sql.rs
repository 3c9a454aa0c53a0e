//! Running SQL on the pool: every call under [`CALL_TIMEOUT`], statements
//! that change rows, return one or return all, and the mapping of driver
//! errors to the store's kinds. `durable.rs` and `flow.rs` go through these.

use std::future::Future;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgPool, PgRow};

use crate::store::{StoreError, StoreResult};

/// Upper bound on any one store call (a hung server must not hang requests).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A query with its arguments bound.
pub(super) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, PgArguments>;

/// Runs `query`; the number of rows it changed.
pub(super) async fn exec(pool: &PgPool, query: PgQuery<'_>) -> StoreResult<u64> {
    timed(async {
        query
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(map_err)
    })
    .await
}

/// The first row `query` returns, turned into a value.
pub(super) async fn one<T>(
    pool: &PgPool,
    query: PgQuery<'_>,
    from: impl FnOnce(&PgRow) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    timed(async {
        query
            .fetch_optional(pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(from)
            .transpose()
    })
    .await
}

/// Every row `query` returns, each turned into a value.
pub(super) async fn all<T>(
    pool: &PgPool,
    query: PgQuery<'_>,
    from: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    timed(async {
        query
            .fetch_all(pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(from)
            .collect()
    })
    .await
}

/// Runs one store call under [`CALL_TIMEOUT`].
pub(super) async fn timed<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::time::timeout(CALL_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("PostgreSQL call timed out".into())))
}

/// Maps a driver error to the store's vocabulary. Messages name the failure,
/// never a bound value.
pub(super) fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("no PostgreSQL connection available".into())
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("PostgreSQL I/O error: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("PostgreSQL TLS error: {e}")),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("PostgreSQL pool closed".into())
        }
        sqlx::Error::Protocol(m) => StoreError::Unavailable(format!("PostgreSQL protocol: {m}")),
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::AlreadyExists(
                    db.constraint().unwrap_or("unique constraint").to_owned(),
                );
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // 08: connection exception; 53: insufficient resources;
            // 57P01-03: shutdown / cannot connect now; 40001/40P01: retryable conflicts.
            if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
            {
                StoreError::Unavailable(format!("PostgreSQL: {}", db.message()))
            } else {
                StoreError::Other(format!("PostgreSQL error {code}: {}", db.message()))
            }
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Inconsistent(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}
