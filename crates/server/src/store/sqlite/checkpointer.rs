//! Copies the write-ahead log back into the database file from a thread of
//! its own.
//!
//! By default SQLite checkpoints inside the commit that makes the WAL pass
//! 1,000 pages, so one unlucky write pays for copying (and syncing) every
//! page written since the last checkpoint. The writer has automatic
//! checkpoints turned off; this thread runs a `PASSIVE` checkpoint every
//! [`INTERVAL`] on its own connection instead, which never blocks the writer
//! or the readers (it copies what no reader still needs and leaves the rest
//! for the next turn). After a checkpoint that copied everything, the next
//! write starts the WAL over from its beginning, so the file stays small;
//! `journal_size_limit` trims it back after a burst.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Time between two checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);

/// The running thread; it makes a last checkpoint and stops when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread that owns `conn`.
    pub(super) fn spawn(conn: Connection) -> StoreResult<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("devauth-sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    let last = !matches!(
                        stopped.recv_timeout(INTERVAL),
                        Err(RecvTimeoutError::Timeout)
                    );
                    if let Err(e) = checkpoint(&conn) {
                        tracing::warn!(error = %super::map_err(e), "WAL checkpoint failed");
                    }
                    if last {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Other(format!("cannot start the WAL checkpointer: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Makes a last checkpoint and waits for the thread to end.
    pub(super) fn stop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
