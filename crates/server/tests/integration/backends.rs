//! [`on_each_backend!`], which turns one test function taking a
//! [`TestBackend`](devauth_testkit::store_suite::TestBackend) into a `#[test]`
//! per storage combination (modules `sqlite`, `postgres`, `postgres_redis`;
//! the last two skip, printing why, when their services are absent, and fail
//! instead under `DEVAUTH_REQUIRE_SERVICES=1`).

/// Expands each named test function (taking a `TestBackend`) into one
/// `#[test]` per storage combination (`TestBackend` must be in scope where
/// it is used; `main.rs` declares this module first, with `#[macro_use]`).
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::TestBackend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if super::TestBackend::Postgres.available() {
                    super::$name(super::TestBackend::Postgres)
                }
            })*
        }
        mod postgres_redis {
            $(#[test] fn $name() {
                if super::TestBackend::PostgresRedis.available() {
                    super::$name(super::TestBackend::PostgresRedis)
                }
            })*
        }
    };
}
