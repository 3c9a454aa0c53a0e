//! The storage combinations the HTTP and page tests run on ([`Backend`]: a
//! temporary SQLite file; a private PostgreSQL schema; that schema plus
//! Redis under a random key prefix), opened with [`open`], and
//! [`on_each_backend!`], which turns one test function into a `#[test]` per
//! combination (modules `sqlite`, `postgres`, `postgres_redis`; the last two
//! skip, printing why, when their services are absent, and fail instead
//! under `DEVAUTH_REQUIRE_SERVICES=1`).

#![allow(unused_macros, reason = "not every test crate runs on each backend")]

use std::path::Path;
use std::sync::Arc;

use devauth_server::store::Stores;
use devauth_server::store::postgres::PgStore;
use devauth_server::store::redis::RedisFlowStore;
use devauth_server::store::sqlite::SqliteStore;
use devauth_testkit::store_suite::PgTestSchema;

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const PG_ADDR: &str = "127.0.0.1:5432";
const REDIS_URL: &str = "redis://127.0.0.1:6379/";
const REDIS_ADDR: &str = "127.0.0.1:6379";

/// Where the server under test keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Everything in a temporary SQLite file.
    #[default]
    Sqlite,
    /// Everything in a private PostgreSQL schema.
    Postgres,
    /// Durable state in a private PostgreSQL schema, device flows in Redis
    /// under a random key prefix.
    PostgresRedis,
}

impl Backend {
    /// Whether the services this backend needs answer; prints why not (the
    /// test then skips), or panics under `DEVAUTH_REQUIRE_SERVICES=1`.
    pub fn available(self) -> bool {
        let needs: &[(&str, &str)] = match self {
            Self::Sqlite => &[],
            Self::Postgres => &[("PostgreSQL", PG_ADDR)],
            Self::PostgresRedis => &[("PostgreSQL", PG_ADDR), ("Redis", REDIS_ADDR)],
        };
        for (name, addr) in needs {
            let up = std::net::TcpStream::connect_timeout(
                &addr.parse().unwrap(),
                std::time::Duration::from_secs(2),
            )
            .is_ok();
            if !up {
                assert!(
                    std::env::var("DEVAUTH_REQUIRE_SERVICES").as_deref() != Ok("1"),
                    "{name} is not reachable at {addr} and DEVAUTH_REQUIRE_SERVICES=1"
                );
                eprintln!("SKIPPED: {name} is not reachable at {addr}");
                return false;
            }
        }
        true
    }
}

/// Stores opened for one test, and what must be cleaned up after it.
pub struct Opened {
    /// What the server uses.
    pub stores: Stores,
    /// The SQLite store with [`Backend::Sqlite`] (to close it and simulate
    /// an outage).
    pub sqlite: Option<SqliteStore>,
    /// Dropped after the server's runtime: drops the schema.
    _schema: Option<PgTestSchema>,
    /// Its keys are deleted by [`Opened::clean_up`].
    redis: Option<RedisFlowStore>,
}

impl Opened {
    /// Deletes what the test left in Redis (the schema goes on drop).
    pub async fn clean_up(&mut self) {
        if let Some(redis) = self.redis.take() {
            let _ = redis.delete_all().await;
        }
    }
}

/// Opens `backend`'s stores (SQLite under `dir`); the caller checked the
/// services with [`Backend::available`].
pub async fn open(backend: Backend, dir: &Path) -> Opened {
    match backend {
        Backend::Sqlite => {
            let sqlite = SqliteStore::open(&dir.join("devauth.db")).await.unwrap();
            Opened {
                stores: sqlite.clone().into_stores(),
                sqlite: Some(sqlite),
                _schema: None,
                redis: None,
            }
        }
        Backend::Postgres | Backend::PostgresRedis => {
            let schema = PgTestSchema::create(PG_URL).await.expect("test schema");
            let pg: Arc<PgStore> = Arc::new(schema.store());
            let redis = (backend == Backend::PostgresRedis).then(|| {
                let prefix = format!("devauth-http-test:{}:", devauth_server::random::id());
                RedisFlowStore::connect_with_prefix(REDIS_URL, &prefix).expect("redis")
            });
            Opened {
                stores: Stores {
                    durable: pg.clone(),
                    flow: match &redis {
                        Some(r) => Arc::new(r.clone()),
                        None => pg,
                    },
                },
                sqlite: None,
                _schema: Some(schema),
                redis,
            }
        }
    }
}

/// Expands each named test function (taking a [`Backend`]) into one
/// `#[test]` per storage combination (`Backend` must be in scope where it
/// is used; declare this module, and the one that includes it, with
/// `#[macro_use]`).
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if super::Backend::Postgres.available() {
                    super::$name(super::Backend::Postgres)
                }
            })*
        }
        mod postgres_redis {
            $(#[test] fn $name() {
                if super::Backend::PostgresRedis.available() {
                    super::$name(super::Backend::PostgresRedis)
                }
            })*
        }
    };
}
