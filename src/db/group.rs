//! Group commit: the short writes of the request path (signups, cancellations, board lines)
//! are written together, several per transaction and per flush to the disk.
//!
//! A writer hands its write to this process's committer and waits. The committer takes every
//! write waiting (up to [`MOST_IN_A_GROUP`]) in arrival order, runs each inside one
//! transaction under a savepoint of its own, and commits once. Nobody waits on purpose: the
//! writes that arrive while one group is being flushed form the next group, so a single write
//! on a quiet server is committed at once, and under load one flush carries many.
//!
//! What each write can rely on:
//! - it runs after every write that arrived before it, so seats go in arrival order under the
//!   capacity rule, as with one transaction each;
//! - its answer is given only after its group's commit has returned: nothing acknowledged is
//!   lost in a crash;
//! - a write that fails is rolled back to its savepoint and answers its own error; the others
//!   of its group commit as if it had never run. If the group as a whole cannot commit (the
//!   disk is full, one write left the transaction unusable), each write runs again alone and
//!   answers what it alone gets. A write that met a deadlock with another instance's group
//!   runs again alone after its group.
//!
//! The one exception to "again alone": a commit whose connection was cut. Nobody can tell
//! whether such a commit happened, so every write of the group answers that the database
//! was unreachable, as a single write would.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::gate::{Turn, WriteGate};
use super::pool::ConnectionManager;
use super::storage::StorageWatch;
use super::{Backend, DbConn, write_transaction};
use crate::error::AppError;

/// The most writes one transaction carries: enough to cover every connection a busy server
/// serves at once, few enough that a group's commit never waits on a long queue.
pub(super) const MOST_IN_A_GROUP: usize = 64;

/// A write waiting for its group's commit.
pub(super) trait Pending: Send {
    /// Runs the write once on `conn` (inside the group's transaction, or alone); whether it
    /// succeeded. The result is kept until [`Pending::answer`].
    fn attempt(&mut self, conn: &mut DbConn) -> bool;
    /// Whether the last attempt failed in a way that running alone may cure.
    fn wants_to_run_alone(&self) -> bool;
    /// Gives the kept result to the waiting writer.
    fn answer(self: Box<Self>, storage: &StorageWatch);
    /// Gives `error` to the waiting writer instead of the kept result.
    fn fail(self: Box<Self>, error: AppError, storage: &StorageWatch);
}

/// A write and the channel its writer waits on.
struct Write<T, F> {
    write: F,
    result: Option<Result<T, AppError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, AppError>>,
}

impl<T, F> Pending for Write<T, F>
where
    T: Send,
    F: FnMut(&mut DbConn) -> Result<T, AppError> + Send,
{
    fn attempt(&mut self, conn: &mut DbConn) -> bool {
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.write)(conn))).unwrap_or_else(|_| {
            Err(AppError::Internal(anyhow::anyhow!(
                "a grouped write panicked"
            )))
        });
        let ok = outcome.is_ok();
        self.result = Some(outcome);
        ok
    }

    fn wants_to_run_alone(&self) -> bool {
        matches!(&self.result, Some(Err(e)) if is_deadlock(e))
    }

    fn answer(self: Box<Self>, storage: &StorageWatch) {
        let result = self.result.unwrap_or_else(|| {
            Err(AppError::Internal(anyhow::anyhow!(
                "a grouped write was never run"
            )))
        });
        storage.saw(&result);
        // The writer may have gone (its client hung up): the write stands all the same.
        let _ = self.reply.send(result);
    }

    fn fail(self: Box<Self>, error: AppError, storage: &StorageWatch) {
        let result = Err(error);
        storage.saw(&result);
        let _ = self.reply.send(result);
    }
}

/// A deadlock or serialization failure between this group and another instance's: the
/// database gave up one side, which may well pass alone.
fn is_deadlock(error: &AppError) -> bool {
    let AppError::Internal(cause) = error else {
        return false;
    };
    match cause.downcast_ref::<diesel::result::Error>() {
        Some(diesel::result::Error::DatabaseError(kind, info)) => {
            matches!(
                kind,
                diesel::result::DatabaseErrorKind::SerializationFailure
            ) || info.message().contains("deadlock detected")
        }
        _ => false,
    }
}

/// A copy of a group's error for each of its writes (errors are not `Clone`: their causes
/// are kept as text).
fn each_gets(error: &AppError) -> AppError {
    match error {
        AppError::Unavailable(why) => AppError::Unavailable(why.clone()),
        AppError::StorageFull(why) => AppError::StorageFull(why.clone()),
        other => AppError::Internal(anyhow::anyhow!("the group's commit failed: {other}")),
    }
}

/// The committer of one process: started with its first write, stopped when the last
/// handle to the database is dropped.
pub(super) struct GroupCommit {
    queue: OnceLock<Mutex<mpsc::Sender<Box<dyn Pending>>>>,
    parts: Parts,
}

/// What the committer's thread needs of the database handle.
#[derive(Clone)]
pub(super) struct Parts {
    pub manager: Arc<ConnectionManager>,
    pub backend: Backend,
    pub gate: Arc<WriteGate>,
    pub generation: Arc<AtomicU64>,
    pub storage: Arc<StorageWatch>,
    pub stats: Arc<GroupStats>,
}

/// How many groups and writes were committed, and how many writes wait, for `/metrics`.
#[derive(Default)]
pub struct GroupStats {
    pub groups: AtomicU64,
    pub writes: AtomicU64,
    pub waiting: AtomicU64,
}

impl GroupCommit {
    pub(super) fn new(parts: Parts) -> Self {
        Self {
            queue: OnceLock::new(),
            parts,
        }
    }

    /// Queues `write` for the next group and waits until its group has committed.
    pub(super) async fn write<T, F>(&self, write: F) -> Result<T, AppError>
    where
        F: FnMut(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending: Box<dyn Pending> = Box::new(Write {
            write,
            result: None,
            reply,
        });
        let queue = self.queue.get_or_init(|| Mutex::new(self.start()));
        self.parts.stats.waiting.fetch_add(1, Ordering::Relaxed);
        queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(pending)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("the committer has stopped")))?;
        answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("the committer dropped a write")))?
    }

    fn start(&self) -> mpsc::Sender<Box<dyn Pending>> {
        let (sender, receiver) = mpsc::channel::<Box<dyn Pending>>();
        let parts = self.parts.clone();
        std::thread::Builder::new()
            .name("convene-commit".into())
            .spawn(move || Committer { parts, conn: None }.run(receiver))
            .expect("a thread for the committer");
        sender
    }
}

struct Committer {
    parts: Parts,
    /// The committer's own connection, opened when first needed and again after it was cut.
    conn: Option<DbConn>,
}

impl Committer {
    fn run(mut self, queue: mpsc::Receiver<Box<dyn Pending>>) {
        // Ends when every sender is gone: the database handle was dropped.
        while let Ok(first) = queue.recv() {
            let mut group = vec![first];
            while group.len() < MOST_IN_A_GROUP {
                match queue.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            let stats = &self.parts.stats;
            stats
                .waiting
                .fetch_sub(group.len() as u64, Ordering::Relaxed);
            self.commit(group);
        }
    }

    fn commit(&mut self, group: Vec<Box<dyn Pending>>) {
        let storage = self.parts.storage.clone();
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => match self.parts.manager.open() {
                Ok(conn) => conn,
                Err(e) => {
                    let why = format!("cannot connect to the database ({e}); try again");
                    for write in group {
                        write.fail(AppError::Unavailable(why.clone()), &storage);
                    }
                    return;
                }
            },
        };
        let mut conn = conn;
        let turn =
            (self.parts.backend == Backend::Sqlite).then(|| self.parts.gate.enter(Turn::InLine));
        let size = group.len() as u64;
        let (answers, connection_ok) = commit_group(&mut conn, group);
        drop(turn);
        if connection_ok {
            self.conn = Some(conn);
        }
        // After the commit, before anyone hears of it: a reader that saw the old state re-reads.
        self.parts.generation.fetch_add(1, Ordering::Release);
        self.parts.stats.groups.fetch_add(1, Ordering::Relaxed);
        self.parts.stats.writes.fetch_add(size, Ordering::Relaxed);
        for answer in answers {
            match answer {
                Answer::Kept(write) => write.answer(&storage),
                Answer::Failed(write, error) => write.fail(error, &storage),
            }
        }
    }
}

enum Answer {
    Kept(Box<dyn Pending>),
    Failed(Box<dyn Pending>, AppError),
}

/// Runs `group` in one transaction (see the module's documentation); returns each write's
/// answer, in arrival order, and whether the connection is still fit for use.
fn commit_group(conn: &mut DbConn, mut group: Vec<Box<dyn Pending>>) -> (Vec<Answer>, bool) {
    match together(conn, &mut group) {
        Ok(()) => {
            let mut answers = Vec::with_capacity(group.len());
            for write in group {
                if write.wants_to_run_alone() {
                    answers.push(alone(conn, write));
                } else {
                    answers.push(Answer::Kept(write));
                }
            }
            (answers, true)
        }
        Err(error @ AppError::Unavailable(_)) => {
            let answers = group
                .into_iter()
                .map(|w| Answer::Failed(w, each_gets(&error)))
                .collect();
            (answers, false)
        }
        Err(error) => {
            if !abandon(conn) {
                // The transaction cannot even be rolled back: the connection is gone, and
                // whether the commit happened is unknown, as with a cut connection.
                let error = match error {
                    AppError::StorageFull(_) => error,
                    other => AppError::Unavailable(format!(
                        "the connection to the database broke during the commit ({other}); try again"
                    )),
                };
                let answers = group
                    .into_iter()
                    .map(|w| Answer::Failed(w, each_gets(&error)))
                    .collect();
                return (answers, false);
            }
            // Nothing of the group was committed: each write gets its own chance.
            let answers = group.into_iter().map(|w| alone(conn, w)).collect();
            (answers, true)
        }
    }
}

/// The group in one transaction, each write under its own savepoint. Err: nothing was
/// committed, for the reason given.
fn together(conn: &mut DbConn, group: &mut [Box<dyn Pending>]) -> Result<(), AppError> {
    begin(conn)?;
    for write in group.iter_mut() {
        let step = savepoint(conn).and_then(|()| {
            if write.attempt(conn) {
                release(conn)
            } else {
                roll_back(conn)
            }
        });
        // Err: the transaction is unusable (the disk is full, or a failure the savepoint
        // could not undo): give it up.
        step?;
    }
    release(conn)
}

/// One write in a transaction of its own.
fn alone(conn: &mut DbConn, mut write: Box<dyn Pending>) -> Answer {
    let mut ran = None;
    let committed = write_transaction(conn, |c| {
        let succeeded = write.attempt(c);
        ran = Some(succeeded);
        if succeeded {
            Ok(())
        } else {
            // Only to roll back: the write keeps its own error as its answer.
            Err(AppError::Conflict(String::new()))
        }
    });
    match (committed, ran) {
        (Ok(()), _) | (Err(_), Some(false)) => Answer::Kept(write),
        (Err(e), _) => Answer::Failed(write, e),
    }
}

/// Rolls back every level of the transaction; whether the connection can be used again.
fn abandon(conn: &mut DbConn) -> bool {
    loop {
        let depth = match conn {
            DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map(|d| d.map_or(0, |d| d.get())),
            DbConn::Postgres(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map(|d| d.map_or(0, |d| d.get())),
        };
        match depth {
            Ok(0) => return true,
            Ok(_) if roll_back(conn).is_ok() => {}
            _ => return false,
        }
    }
}

fn begin(conn: &mut DbConn) -> Result<(), AppError> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    Ok(())
}

/// Inside a transaction, diesel's nested transaction is a savepoint.
fn savepoint(conn: &mut DbConn) -> Result<(), AppError> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction(c)?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    Ok(())
}

/// Releases the innermost savepoint, or commits the transaction.
fn release(conn: &mut DbConn) -> Result<(), AppError> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::commit_transaction(c)?,
        DbConn::Postgres(c) => AnsiTransactionManager::commit_transaction(c)?,
    }
    Ok(())
}

/// Rolls back to the innermost savepoint, or the whole transaction.
fn roll_back(conn: &mut DbConn) -> Result<(), AppError> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c)?,
        DbConn::Postgres(c) => AnsiTransactionManager::rollback_transaction(c)?,
    }
    Ok(())
}
