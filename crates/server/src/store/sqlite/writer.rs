//! The one writer connection, on a thread of its own, committing the writes
//! queued while it was busy as one transaction (group commit).
//!
//! SQLite admits one writer at a time, and a commit costs more than the
//! statements it holds (a WAL frame for every page touched, the wal-index
//! update). So requests do not each take the write lock: each hands the
//! thread a [`Job`] and awaits its answer.
//! The thread takes the first job, every other job already queued (up to
//! [`MAX_GROUP`]), and runs them inside one `BEGIN IMMEDIATE … COMMIT`; a job
//! of several statements ([`Writer::transaction`]) runs in its own savepoint
//! and one of a single statement ([`Writer::execute`],
//! [`Writer::execute_returning`]) relies on SQLite undoing a failed
//! statement, so that a job that fails is rolled back alone. A single-
//! statement job is a [`Statement`] value, not code: it cannot run two. No job is answered before the transaction
//! holding it has committed, so an `Ok` always means stored; if the commit
//! fails, or SQLite rolls the whole transaction back after an error (a full
//! disk, an I/O error), every job of the group gets that error and none of
//! them is stored.
//!
//! Under light load a group is one job and this is an ordinary transaction;
//! under heavy load the commit cost is shared by everyone who was waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, mpsc};

use rusqlite::types::Value;
use rusqlite::{Connection, Row};
use tokio::sync::oneshot;

use super::checkpointer;
use super::sql::{closed, exec, map_err, one};
use crate::store::{StoreError, StoreResult};

/// Most jobs committed by one transaction (bounds how long the first job of
/// a group waits for the others).
pub(super) const MAX_GROUP: usize = 256;

/// Work for the writer thread: runs against the connection inside the
/// group's transaction, then is answered once the group has committed.
pub(super) trait Job: Send {
    /// Whether the job runs several statements and so needs a savepoint of
    /// its own to be undone alone (a single statement that fails undoes
    /// itself and leaves the transaction going).
    fn needs_savepoint(&self) -> bool;
    /// Does the work; `Err` makes the writer roll the job's savepoint back.
    fn run(&mut self, conn: &Connection) -> Result<(), ()>;
    /// Hands the result to the caller; `commit` is the error of a failed
    /// commit, which replaces any result.
    fn answer(self: Box<Self>, commit: Option<&StoreError>);
}

/// One SQL statement and its parameters, owned (they travel to the writer
/// thread): the whole of a write that needs no savepoint.
#[derive(Debug, Clone)]
pub(super) struct Statement {
    sql: &'static str,
    params: Vec<Value>,
}

impl Statement {
    /// `sql` with `params` bound in order.
    pub(super) fn new(sql: &'static str, params: Vec<Value>) -> Self {
        Self { sql, params }
    }
}

/// An owned copy of one statement parameter (for [`Statement`]).
pub(super) fn owned(param: &dyn rusqlite::ToSql) -> crate::store::StoreResult<Value> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    match param.to_sql().map_err(map_err)? {
        ToSqlOutput::Borrowed(v) => Ok(match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }),
        ToSqlOutput::Owned(v) => Ok(v),
        _ => Err(StoreError::Other("unsupported statement parameter".into())),
    }
}

/// A closure and the channel its result goes back on.
struct Typed<T, F> {
    savepoint: bool,
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn needs_savepoint(&self) -> bool {
        self.savepoint
    }

    fn run(&mut self, conn: &Connection) -> Result<(), ()> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        // A panic must not take the writer thread (and with it every later
        // write) down: it fails this job only.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Other("a database write panicked".into())));
        let failed = result.is_err();
        self.result = Some(result);
        if failed { Err(()) } else { Ok(()) }
    }

    fn answer(self: Box<Self>, commit: Option<&StoreError>) {
        let result = match (commit, self.result) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Other("a write was never run".into())),
        };
        // The caller may have gone away (request cancelled): nothing to do.
        let _ = self.reply.send(result);
    }
}

/// The queue to the writer thread; the thread stops once the queue is
/// closed or dropped, after finishing what is queued.
#[derive(Debug)]
pub(super) struct Writer {
    queue: RwLock<Option<mpsc::Sender<Box<dyn Job>>>>,
}

impl Writer {
    /// Starts the thread that owns `conn`. When `catch_up` is set (by the
    /// [`super::checkpointer`]), the thread checkpoints once between two
    /// groups and clears it.
    pub(super) fn spawn(conn: Connection, catch_up: Arc<AtomicBool>) -> StoreResult<Self> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&conn, &jobs, &catch_up))
            .map_err(|e| StoreError::Other(format!("cannot start the database writer: {e}")))?;
        Ok(Self {
            queue: RwLock::new(Some(queue)),
        })
    }

    /// Runs one statement in the next group commit; the rows it changed,
    /// once committed.
    pub(super) async fn execute(&self, statement: Statement) -> StoreResult<usize> {
        self.write(false, move |c| {
            exec(
                c,
                statement.sql,
                rusqlite::params_from_iter(statement.params),
            )
        })
        .await
    }

    /// Runs one statement that returns rows (`… RETURNING`) in the next
    /// group commit; its first row, turned into a value, once committed.
    pub(super) async fn execute_returning<T>(
        &self,
        statement: Statement,
        from: fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>>
    where
        T: Send + 'static,
    {
        self.write(false, move |c| {
            one(
                c,
                statement.sql,
                rusqlite::params_from_iter(statement.params),
                from,
            )
        })
        .await
    }

    /// Runs `work`, several statements that stand or fall together, in its
    /// own savepoint of the next group commit; its result once committed.
    pub(super) async fn transaction<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write(true, work).await
    }

    /// Runs `work` on the writer connection inside a transaction and returns
    /// its result once that transaction has committed. A `work` that fails
    /// is undone whole: with `savepoint` false it must run one statement
    /// only (SQLite undoes a failed statement by itself) — which is why only
    /// [`Self::execute`] and [`Self::execute_returning`], whose work is one
    /// [`Statement`], call it that way.
    async fn write<T, F>(&self, savepoint: bool, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            savepoint,
            work: Some(work),
            result: None,
            reply,
        });
        {
            let queue = self.queue.read().unwrap_or_else(PoisonError::into_inner);
            queue
                .as_ref()
                .ok_or_else(closed)?
                .send(job)
                .map_err(|_| closed())?;
        }
        answer.await.map_err(|_| closed())?
    }

    /// Waits for every write queued so far, then stops the thread; later
    /// writes fail with [`StoreError::Unavailable`].
    pub(super) async fn close(&self) {
        let _ = self.write(false, |_| Ok(())).await;
        self.queue
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// The thread's loop: one group per turn until every sender is gone.
fn run(conn: &Connection, jobs: &mpsc::Receiver<Box<dyn Job>>, catch_up: &AtomicBool) {
    while let Ok(first) = jobs.recv() {
        let mut group = Vec::with_capacity(16);
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit_group(conn, &mut group);
        for job in group {
            job.answer(outcome.as_ref().err());
        }
        if catch_up.load(Ordering::Acquire) {
            // No write can land while this runs, so it copies the rest of
            // the WAL (unless a reader still needs part of it) and the next
            // group starts the file over.
            if let Err(e) = checkpointer::checkpoint(conn) {
                tracing::warn!(error = %map_err(e), "WAL checkpoint failed");
            }
            catch_up.store(false, Ordering::Release);
        }
    }
}

/// Runs every job of `group` in one transaction, a job of several
/// statements in a savepoint of its own.
fn commit_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> StoreResult<()> {
    let sql = |text: &str| exec(conn, text, []).map(drop);
    sql("BEGIN IMMEDIATE")?;
    let result = (|| {
        for job in group.iter_mut() {
            if job.needs_savepoint() {
                sql("SAVEPOINT job")?;
                if job.run(conn).is_err() {
                    sql("ROLLBACK TO job")?;
                }
                sql("RELEASE job")?;
            } else {
                let _ = job.run(conn);
            }
            if conn.is_autocommit() {
                // SQLite gave up the whole transaction (SQLITE_FULL, an I/O
                // error, ...): what ran so far is gone, and what follows
                // would commit one by one.
                return Err(StoreError::Unavailable(
                    "the database rolled back a transaction after an error".into(),
                ));
            }
        }
        sql("COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        // Leave the connection usable for the next group.
        let _ = sql("ROLLBACK");
    }
    result
}
