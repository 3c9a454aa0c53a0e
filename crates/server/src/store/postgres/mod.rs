//! PostgreSQL backend: both [`DurableStore`](super::DurableStore) and
//! [`FlowStore`](super::FlowStore) on one sqlx pool,
//! for servers that run as several replicas. The pool and migrations are
//! here; `sql.rs` runs statements under the call timeout and maps driver
//! errors, `durable.rs` and `flow.rs` implement the two traits and `rows.rs`
//! reads rows into model values.
//!
//! * Schema: versioned SQL files under `crates/server/migrations/postgres`,
//!   embedded in the binary and applied by [`DurableStore::migrate`](super::DurableStore::migrate) (called on
//!   start and by `devauth admin migrate`). sqlx's migrator holds
//!   `pg_advisory_lock` while it works, so replicas starting together apply
//!   each migration once; the others wait and then find nothing to do.
//! * Concurrency: versioned rows are updated with `WHERE … AND version = $n`
//!   and zero affected rows is a lost race (`Ok(false)`); authorization codes
//!   are consumed with `DELETE … RETURNING`; rate-limit counters with one
//!   `INSERT … ON CONFLICT DO UPDATE … RETURNING`. Nothing reads then writes.
//! * Failures: the pool waits at most [`ACQUIRE_TIMEOUT`] for a connection and
//!   every call at most [`CALL_TIMEOUT`]; unreachable servers, dropped
//!   connections and those timeouts become [`StoreError::Unavailable`], unique
//!   violations [`StoreError::AlreadyExists`]. The pool reconnects by itself
//!   (each connection is tested before use), so a restarted PostgreSQL is
//!   picked up without a restart of the server.
//! * Expired device grants stay readable for [`super::EXPIRED_GRANT_RETENTION_MS`] after
//!   `expires_at` so a late poll still gets `expired_token`, not `invalid_grant`;
//!   [`FlowStore::sweep`](super::FlowStore::sweep) reports each grant that expired while pending once.
//!
//! Times are stored as milliseconds since the epoch (`BIGINT`), as in the model.

mod durable;
mod flow;
mod rows;
mod sql;

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use self::sql::CALL_TIMEOUT;
use self::sql::{map_err, timed};
use super::{StoreError, StoreResult};

/// How long a call waits for a pooled connection before answering `Unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Default pool size per replica.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// The migrations under `migrations/postgres`, embedded at compile time. Add a
/// new numbered file for every change; never edit an applied one (its checksum
/// is checked on start).
static EMBEDDED: Migrator = sqlx::migrate!("./migrations/postgres");

/// Name of the table recording applied migrations.
const MIGRATIONS_TABLE: &str = "devauth_migrations";

/// Both stores on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store for a `postgres://` URL. Connects lazily: an unreachable server
    /// shows as [`StoreError::Unavailable`] on the first call (e.g. `migrate`).
    pub fn connect(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::Other(format!("bad database URL: {e}")))?;
        Ok(Self::connect_with(options, DEFAULT_MAX_CONNECTIONS))
    }

    /// A store from parsed options (tests set `search_path` to a private schema here).
    pub fn connect_with(options: PgConnectOptions, max_connections: u32) -> Self {
        let options = options.application_name("devauth");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Self { pool }
    }

    /// The underlying pool (for tests and `admin` tooling).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn migrator() -> Migrator {
        let mut migrator = Migrator::with_migrations(EMBEDDED.iter().cloned().collect());
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.set_locking(true);
        // During a rolling upgrade an older replica must still start on a schema
        // that newer replicas already migrated (migrations only add things).
        migrator.set_ignore_missing(true);
        migrator
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        timed(async {
            Self::migrator().run(&self.pool).await.map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => map_err(e),
                other => StoreError::Other(format!("migration failed: {other}")),
            })
        })
        .await
    }

    async fn ping_db(&self) -> StoreResult<()> {
        timed(async {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(map_err)
        })
        .await
    }
}
