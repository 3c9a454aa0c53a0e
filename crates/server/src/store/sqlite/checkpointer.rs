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
//!
//! Under writes that never pause, a checkpoint running beside the writer
//! never reaches the end of the WAL (pages keep being appended while it
//! copies), so the WAL would never start over and would grow without end.
//! When the WAL holds more than [`CATCH_UP_FRAMES`] pages at a checkpoint,
//! this thread asks the writer to finish the job: between two groups, where
//! nothing can be appended, the writer checkpoints the few pages written
//! since (a short pause), and the next group starts the WAL over. This
//! thread does not checkpoint again until the writer has done so, so the
//! two never compete for the checkpoint lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Time between two checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(50);

/// WAL pages at a checkpoint that make the writer finish it (4 MiB with
/// 4 KiB pages).
pub(super) const CATCH_UP_FRAMES: i64 = 1_000;

/// The running thread; it makes a last checkpoint and stops when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread that owns `conn`; it sets `catch_up` for the
    /// writer when the WAL has grown past [`CATCH_UP_FRAMES`].
    pub(super) fn spawn(conn: Connection, catch_up: Arc<AtomicBool>) -> StoreResult<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-ckpt".into())
            .spawn(move || {
                loop {
                    let last = !matches!(
                        stopped.recv_timeout(INTERVAL),
                        Err(RecvTimeoutError::Timeout)
                    );
                    if catch_up.load(Ordering::Acquire) && !last {
                        // The writer has not finished the last one yet.
                        continue;
                    }
                    match checkpoint(&conn) {
                        Ok(wal_frames) => {
                            if wal_frames > CATCH_UP_FRAMES {
                                catch_up.store(true, Ordering::Release);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %super::map_err(e), "WAL checkpoint failed");
                        }
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

/// One passive checkpoint; the pages in the WAL (it only counts those
/// committed when the checkpoint began, and copies them all unless a
/// reader still needs an older version).
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}
