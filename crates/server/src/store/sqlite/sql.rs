//! Running SQL on one connection: cached statements that return nothing, one
//! row or every row, and the mapping of driver errors to the store's kinds.
//! Used by the writer thread, the readers and the row readers alike.

use rusqlite::{Connection, Params, Row};

use crate::store::{StoreError, StoreResult};

/// What every call gets once [`super::SqliteStore::close`] has run.
pub(super) fn closed() -> StoreError {
    StoreError::Unavailable("the database is closed".into())
}

/// Maps a driver error to the store's error kinds. Messages carry SQLite's
/// text (table and column names), never bound values.
pub(super) fn map_err(e: rusqlite::Error) -> StoreError {
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
pub(super) fn exec(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
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
pub(super) fn one<T>(
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
pub(super) fn all<T>(
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
