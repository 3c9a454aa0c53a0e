//! Picks and opens the storage backends from the server's storage settings
//! (`--data-dir`, `--database-url`, `--redis-url`), and reports their health.
//!
//! | settings                           | durable    | flow       |
//! |------------------------------------|------------|------------|
//! | none                               | SQLite     | SQLite     |
//! | `--database-url postgres://…`      | PostgreSQL | PostgreSQL |
//! | `--database-url postgres://…` + `--redis-url redis://…` | PostgreSQL | Redis |
//! | `--redis-url redis://…` alone      | SQLite     | Redis      |
//!
//! SQLite lives in [`SQLITE_FILE`] under the data folder; `--database-url
//! sqlite:PATH` names another file. [`open`] applies pending migrations (under
//! an advisory lock on PostgreSQL, so replicas may start together) and checks
//! that Redis answers, so a wrong URL fails at start rather than at the first
//! request. URLs may carry passwords: nothing here prints or returns them —
//! [`Plan`]'s `Display` names backends only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::postgres::PgStore;
use super::redis::RedisFlowStore;
use super::sqlite::SqliteStore;
use super::{StoreError, StoreResult, Stores};

/// File name of the SQLite database under the data folder.
pub const SQLITE_FILE: &str = "devauth.db";

/// Where durable state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurableBackend {
    /// A SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// `postgres://…` (may hold a password: never print it).
        url: String,
    },
}

/// Where device-flow state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowBackend {
    /// The same database as the durable state (SQLite or PostgreSQL).
    SameAsDurable,
    /// A Redis server.
    Redis {
        /// `redis://…` (may hold a password: never print it).
        url: String,
    },
}

/// The storage layout chosen from the settings, before anything is opened.
#[derive(Clone, PartialEq, Eq)]
pub struct Plan {
    /// Durable state.
    pub durable: DurableBackend,
    /// Device-flow state.
    pub flow: FlowBackend,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Through Display: the URLs may hold passwords.
        write!(f, "Plan({self})")
    }
}

impl Plan {
    /// Resolves the settings. Fails on a URL scheme this build cannot serve.
    pub fn resolve(
        data_dir: &Path,
        database_url: Option<&str>,
        redis_url: Option<&str>,
    ) -> StoreResult<Self> {
        let database_url = database_url.map(str::trim).filter(|u| !u.is_empty());
        let redis_url = redis_url.map(str::trim).filter(|u| !u.is_empty());
        let durable = match database_url {
            None => DurableBackend::Sqlite {
                path: data_dir.join(SQLITE_FILE),
            },
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DurableBackend::Postgres {
                    url: url.to_owned(),
                }
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                if path.is_empty() {
                    return Err(StoreError::Other(
                        "the sqlite: database URL names no file".into(),
                    ));
                }
                DurableBackend::Sqlite {
                    path: PathBuf::from(path),
                }
            }
            Some(_) => {
                return Err(StoreError::Other(
                    "unsupported database URL: use postgres://… (or sqlite:PATH)".into(),
                ));
            }
        };
        let flow = match redis_url {
            None => FlowBackend::SameAsDurable,
            Some(url) if url.starts_with("redis://") => FlowBackend::Redis {
                url: url.to_owned(),
            },
            Some(url) if url.starts_with("rediss://") => {
                return Err(StoreError::Other(
                    "rediss:// (TLS) is not built in; use redis:// on a trusted network".into(),
                ));
            }
            Some(_) => {
                return Err(StoreError::Other(
                    "unsupported Redis URL: use redis://…".into(),
                ));
            }
        };
        Ok(Self { durable, flow })
    }

    /// Name of the durable backend: `sqlite` or `postgres`.
    pub fn durable_name(&self) -> &'static str {
        match self.durable {
            DurableBackend::Sqlite { .. } => "sqlite",
            DurableBackend::Postgres { .. } => "postgres",
        }
    }

    /// Name of the flow backend: `sqlite`, `postgres` or `redis`.
    pub fn flow_name(&self) -> &'static str {
        match self.flow {
            FlowBackend::SameAsDurable => self.durable_name(),
            FlowBackend::Redis { .. } => "redis",
        }
    }
}

/// `durable=postgres flow=redis`: for logs, with no URL in it.
impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "durable={} flow={}",
            self.durable_name(),
            self.flow_name()
        )
    }
}

/// Resolves the settings, opens the backends, applies migrations and checks
/// Redis answers. [`StoreError::Unavailable`] when a service cannot be
/// reached (the caller may retry), [`StoreError::Other`] for bad settings.
pub async fn open(
    data_dir: &Path,
    database_url: Option<&str>,
    redis_url: Option<&str>,
) -> StoreResult<Stores> {
    open_plan(&Plan::resolve(data_dir, database_url, redis_url)?).await
}

/// Opens what a [`Plan`] describes (see [`open`]).
pub async fn open_plan(plan: &Plan) -> StoreResult<Stores> {
    let mut stores = match &plan.durable {
        DurableBackend::Sqlite { path } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir)?;
            }
            SqliteStore::open(path).await?.into_stores()
        }
        DurableBackend::Postgres { url } => {
            let pg = PgStore::connect(url)?;
            super::DurableStore::migrate(&pg).await?;
            let pg = Arc::new(pg);
            Stores {
                durable: pg.clone(),
                flow: pg,
            }
        }
    };
    if let FlowBackend::Redis { url } = &plan.flow {
        let redis = RedisFlowStore::connect(url)?;
        super::FlowStore::ping(&redis).await?;
        stores.flow = Arc::new(redis);
    }
    Ok(stores)
}

/// Creates the data folder (0700 on Unix) if it does not exist.
fn create_private_dir(dir: &Path) -> StoreResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| StoreError::Other(format!("cannot create the data folder: {e}")))
}

/// Whether one backing service answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ServiceHealth {
    /// It answered a ping.
    Up,
    /// It did not; `error` says why (no URL, no secret).
    Down {
        /// The store error, as text.
        error: String,
    },
}

impl ServiceHealth {
    /// Whether the service is up.
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Up)
    }
}

/// What `/healthz` reports: each backing service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// The durable store.
    pub durable: ServiceHealth,
    /// The device-flow store.
    pub flow: ServiceHealth,
}

impl Health {
    /// Whether everything is up (`/healthz` answers 200, else 503).
    pub fn is_ok(&self) -> bool {
        self.durable.is_up() && self.flow.is_up()
    }
}

/// Pings both stores at once; bounded by the backends' own short timeouts.
pub async fn health(stores: &Stores) -> Health {
    let (durable, flow) = tokio::join!(stores.durable.ping(), stores.flow.ping());
    let state = |r: StoreResult<()>| match r {
        Ok(()) => ServiceHealth::Up,
        Err(e) => ServiceHealth::Down {
            error: e.to_string(),
        },
    };
    Health {
        durable: state(durable),
        flow: state(flow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(db: Option<&str>, redis: Option<&str>) -> StoreResult<Plan> {
        Plan::resolve(Path::new("/var/lib/devauth"), db, redis)
    }

    #[test]
    fn defaults_to_sqlite_in_the_data_dir() {
        let p = plan(None, None).unwrap();
        assert_eq!(
            p.durable,
            DurableBackend::Sqlite {
                path: PathBuf::from("/var/lib/devauth/devauth.db")
            }
        );
        assert_eq!(p.flow, FlowBackend::SameAsDurable);
        assert_eq!(p.to_string(), "durable=sqlite flow=sqlite");
        assert_eq!(
            plan(Some(" "), Some("")).unwrap(),
            p,
            "empty values are unset"
        );
    }

    #[test]
    fn postgres_and_redis() {
        let pg = "postgres://devauth:pw@db.internal:5432/devauth";
        assert_eq!(
            plan(Some(pg), None).unwrap().to_string(),
            "durable=postgres flow=postgres"
        );
        let both = plan(Some(pg), Some("redis://:pw@cache:6379/0")).unwrap();
        assert_eq!(both.to_string(), "durable=postgres flow=redis");
        assert!(!format!("{both:?}").contains("pw"), "Debug hides URLs");
        assert_eq!(
            plan(Some("postgresql://x/y"), None).unwrap().durable_name(),
            "postgres"
        );
        assert_eq!(
            plan(None, Some("redis://127.0.0.1/")).unwrap().to_string(),
            "durable=sqlite flow=redis"
        );
        assert_eq!(
            plan(Some("sqlite:///tmp/x.db"), None).unwrap().durable,
            DurableBackend::Sqlite {
                path: PathBuf::from("/tmp/x.db")
            }
        );
    }

    #[test]
    fn refuses_unknown_schemes_without_echoing_the_url() {
        for (db, redis) in [
            (Some("mysql://u:secretpw@h/db"), None),
            (None, Some("memcached://u:secretpw@h")),
            (None, Some("rediss://u:secretpw@h")),
            (Some("sqlite:"), None),
        ] {
            let err = plan(db, redis).unwrap_err();
            assert!(matches!(err, StoreError::Other(_)));
            assert!(!err.to_string().contains("secretpw"));
        }
    }
}
