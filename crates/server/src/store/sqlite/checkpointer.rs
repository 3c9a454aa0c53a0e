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
//! this thread chases the end of the WAL with quick checkpoints (each copies
//! what was appended during the last), then asks the writer to finish the
//! job: between two groups, where nothing can be appended, the writer
//! checkpoints the few pages written since (a pause of about a millisecond),
//! and the next group starts the WAL over. This thread does not checkpoint
//! again until the writer has done so, so the two never compete for the
//! checkpoint lock.
//!
//! A checkpoint that does not reach the end of the WAL (every one made
//! beside the writer) copies pages into the database file without syncing
//! it: SQLite syncs the database file only at the checkpoint that copies
//! the last frame, which under steady writes is the writer's. Left alone,
//! that one sync would flush every page copied since the last catch-up
//! (megabytes) while no write can commit. So before asking for the catch-up
//! this thread flushes the database file and the WAL itself
//! ([`flush_files`]); the writer's own syncs, which still make the restart
//! safe, then have only the last few pages left to write.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Time between two checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(20);

/// WAL pages at a checkpoint that start the chase (16 MiB with 4 KiB
/// pages).
pub(super) const CATCH_UP_FRAMES: i64 = 4_096;

/// Pages appended during a checkpoint below which the writer is asked to
/// copy the rest.
const SMALL_TAIL: i64 = 128;

/// Most extra checkpoints made to shrink the writer's share.
const MAX_CHASES: usize = 8;

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
        let files = DbFiles::open(&conn);
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
                    if let Err(e) = checkpoint_and_chase(&conn, &files, &catch_up) {
                        tracing::warn!(error = %super::sql::map_err(e), "WAL checkpoint failed");
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

/// A checkpoint; when the WAL has grown past [`CATCH_UP_FRAMES`], more
/// checkpoints, each copying only what was appended during the one before,
/// until one copies fewer than [`SMALL_TAIL`] pages (or a few rounds have
/// passed), then the request for the writer to copy the rest, which is now
/// little and, once [`flush_files`] has run, quick to sync: the writer's
/// pause stays short.
fn checkpoint_and_chase(
    conn: &Connection,
    files: &DbFiles,
    catch_up: &AtomicBool,
) -> rusqlite::Result<()> {
    let mut frames = checkpoint(conn)?;
    if frames <= CATCH_UP_FRAMES {
        return Ok(());
    }
    for _ in 0..MAX_CHASES {
        let before = frames;
        frames = checkpoint(conn)?;
        if frames - before < SMALL_TAIL {
            break;
        }
    }
    flush_files(files);
    catch_up.store(true, Ordering::Release);
    Ok(())
}

/// The database file and its WAL, opened read-only by this thread only to
/// flush them ([`flush_files`]); `None` for an in-memory database or a file
/// that cannot be opened (the flush is an optimisation only).
#[derive(Debug)]
struct DbFiles {
    db: Option<File>,
    wal: Option<File>,
}

impl DbFiles {
    fn open(conn: &Connection) -> Self {
        let Some(path) = conn.path().filter(|p| !p.is_empty()) else {
            return Self {
                db: None,
                wal: None,
            };
        };
        let open = |p: &Path| File::open(p).ok();
        Self {
            db: open(Path::new(path)),
            wal: open(Path::new(&format!("{path}-wal"))),
        }
    }
}

/// Writes out what earlier checkpoints copied into the database file (and
/// what the writer appended to the WAL) so that the syncs of the writer's
/// catch-up find little left to write. Durability never depends on it:
/// SQLite's own syncs still run. Failures are ignored for that reason.
fn flush_files(files: &DbFiles) {
    for file in [&files.wal, &files.db].into_iter().flatten() {
        let _ = file.sync_data();
    }
}

/// One passive checkpoint (this thread's, and the writer's catch-up); the
/// pages in the WAL (it only counts those committed when the checkpoint
/// began, and copies them all unless a reader still needs an older version).
pub(super) fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_files_to_flush_are_the_database_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devauth.db");
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let files = DbFiles::open(&conn);
        let same = |file: &Option<File>, p: &Path| {
            use std::os::unix::fs::MetadataExt as _;
            let a = file.as_ref().expect("opened").metadata().unwrap();
            let b = std::fs::metadata(p).unwrap();
            (a.dev(), a.ino()) == (b.dev(), b.ino())
        };
        assert!(same(&files.db, &path), "the database file");
        assert!(
            same(&files.wal, &dir.path().join("devauth.db-wal")),
            "its WAL"
        );
        flush_files(&files);

        let memory = Connection::open_in_memory().unwrap();
        let none = DbFiles::open(&memory);
        assert!(none.db.is_none() && none.wal.is_none());
        flush_files(&none);
    }
}
