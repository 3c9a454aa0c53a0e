//! Read connections, used in place by the task that asks.
//!
//! The reads the server makes are point lookups by a unique key (a device
//! code's hash, a user code, a client id) on pages that are almost always in
//! SQLite's page cache: they take a few microseconds, less than handing the
//! query to another thread and waking the task when it is done (what an async
//! SQLite driver does for every statement). So a read runs on the calling
//! task's thread, on one of a few connections, each behind its own mutex.
//! With WAL, readers never wait for the writer, and each statement sees every
//! transaction committed before it started.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use super::sql::closed;
use crate::store::StoreResult;

/// A few read connections.
#[derive(Debug)]
pub(super) struct Readers {
    conns: Vec<Mutex<Option<Connection>>>,
    next: AtomicUsize,
}

impl Readers {
    /// A pool of the given connections (at least one).
    pub(super) fn new(conns: Vec<Connection>) -> Self {
        Self {
            conns: conns.into_iter().map(|c| Mutex::new(Some(c))).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `work` on a free connection (or, when every one is busy, waits
    /// for one: each is held for one statement only).
    pub(super) fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.conns.len();
        let guard = (0..n)
            .find_map(|i| self.conns[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| lock(&self.conns[start % n]));
        match guard.as_ref() {
            Some(conn) => work(conn),
            None => Err(closed()),
        }
    }

    /// Closes every connection; later reads fail with
    /// [`crate::store::StoreError::Unavailable`].
    pub(super) fn close(&self) {
        for conn in &self.conns {
            lock(conn).take();
        }
    }
}

/// A poisoned lock only means a read panicked; the connection is still fine.
fn lock(conn: &Mutex<Option<Connection>>) -> MutexGuard<'_, Option<Connection>> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}
