//! The schema: the files of `migrations/sqlite/`, embedded, applied in
//! order, each in its own transaction, with the number of the last one
//! applied kept in `PRAGMA user_version`.
//!
//! Databases made before this scheme (by sqlx's migrator) have a
//! `_sqlx_migrations` table and `user_version` 0; their applied versions are
//! taken over from that table once.

use rusqlite::Connection;

use super::sql::map_err;
use crate::store::{StoreError, StoreResult};

/// Every migration, by version.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_device_grants_by_hash.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_refresh_token_parent.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_client_rights.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_family_code.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_resources.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_client_registration.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_audit_at.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/sqlite/0009_device_grant_resource.sql"),
    ),
];

/// Brings the database up to the newest schema this build knows.
pub(super) fn migrate(conn: &Connection) -> StoreResult<()> {
    let mut current = user_version(conn)?;
    if current == 0 {
        current = adopt_sqlx_history(conn)?;
    }
    let newest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > newest {
        return Err(StoreError::Other(format!(
            "the database schema (version {current}) is newer than this devauth \
             (version {newest}); upgrade devauth"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let apply = format!("BEGIN IMMEDIATE;\n{sql}\n;PRAGMA user_version = {version};\nCOMMIT;");
        if let Err(e) = conn.execute_batch(&apply) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(StoreError::Other(format!(
                "migration {version} failed: {}",
                map_err(e)
            )));
        }
    }
    Ok(())
}

fn user_version(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_err)
}

/// The newest version sqlx's migrator recorded (0 when it never ran), now
/// kept in `user_version`.
fn adopt_sqlx_history(conn: &Connection) -> StoreResult<i64> {
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations')",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    if !has_table {
        return Ok(0);
    }
    let version: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
        .map_err(map_err)?;
    Ok(version)
}
