//! Storage: one diesel code base over SQLite and PostgreSQL, chosen from the database URL.
//!
//! This module is the only place that knows which backend runs: it builds the pool, applies the
//! embedded migrations, and opens write transactions (`BEGIN IMMEDIATE` on SQLite, a row lock on
//! the event in PostgreSQL). The query modules beside it hold the row structs and the SQL.

pub mod attendees;
pub mod board;
mod columns;
pub mod events;
pub mod export;
pub mod feeds;
mod gate;
mod group;
pub mod mail_budgets;
pub mod organizers;
pub mod outbox;
mod pool;
pub mod projects;
pub mod registrations;
pub mod schema;
pub mod storage;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::domain::EventId;
use crate::error::AppError;
use gate::{Connections, Turn, WriteGate};
use group::GroupCommit;
use group::GroupStats;
use pool::ConnectionManager;
pub use pool::{Conn, PoolConn};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either database. Queries written against it compile for both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Where a database lives: the backend, picked from the URL scheme (never by trial), and the
/// string its driver wants.
#[derive(Debug, Clone)]
pub struct DatabaseTarget {
    pub backend: Backend,
    pub address: String,
}

impl DatabaseTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                address: url.to_owned(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err("the SQLite database path is empty".into());
        }
        if url.contains("://") && !url.starts_with("sqlite://") {
            return Err(format!(
                "unsupported database URL scheme in `{url}` (use sqlite:// or postgres://)"
            ));
        }
        Ok(Self {
            backend: Backend::Sqlite,
            address: path.to_owned(),
        })
    }
}

/// The database handle shared by requests and workers.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    /// Two connections of the mail worker's own for its bookkeeping statements (claims,
    /// renewals, records of deliveries), so that they never wait for one that requests hold.
    bookkeeping: Pool<ConnectionManager>,
    backend: Backend,
    /// SQLite has one writer at a time; queueing writers here keeps them off SQLite's busy
    /// handler, whose sleeps would cost far more than the wait.
    write_gate: Arc<WriteGate>,
    /// Counts this process's write transactions; caches of read results compare it to know
    /// that nothing was written here since they read (see `http::recent`).
    generation: Arc<AtomicU64>,
    /// Writes that failed for lack of space, for `/readyz`.
    storage: Arc<storage::StorageWatch>,
    /// The committer of the request path's short writes (see [`Db::write_grouped`]).
    group: Arc<GroupCommit>,
    group_stats: Arc<GroupStats>,
}

impl Db {
    /// Connects (creating the SQLite file and its folder if needed) and checks the connection.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, AppError> {
        let target = DatabaseTarget::parse(url).map_err(AppError::config)?;
        if target.backend == Backend::Sqlite
            && let Some(parent) = Path::new(&target.address).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                AppError::config(format!(
                    "cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
        let backend = target.backend;
        let losses = Arc::new(AtomicU64::new(0));
        let cannot_open =
            |e| AppError::config(format!("cannot open the {} database: {e}", backend.name()));
        let sqlite_folder = (backend == Backend::Sqlite).then(|| {
            Path::new(&target.address)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf()
        });
        let manager = ConnectionManager {
            target: target.clone(),
            losses: losses.clone(),
            durable: true,
        };
        if backend == Backend::Sqlite {
            // One connection first: it turns a new file to WAL, which is kept in the file.
            // Connections that the pool then opens side by side find WAL set and take no lock
            // for it (switching takes one that SQLite does not wait for: "database is locked").
            drop(manager.open().map_err(|e| {
                AppError::config(format!("cannot open the {} database: {e}", backend.name()))
            })?);
        }
        let pool = Pool::builder()
            .max_size(pool_size.max(2))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(cannot_open)?;
        // Opened when the worker first needs them: commands without a worker open none.
        let bookkeeping = Pool::builder()
            .max_size(2)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            .build(ConnectionManager {
                target: target.clone(),
                losses,
                durable: false,
            })
            .map_err(cannot_open)?;
        let write_gate = Arc::new(WriteGate::default());
        let generation = Arc::new(AtomicU64::new(0));
        let storage = Arc::new(storage::StorageWatch::new(sqlite_folder));
        let group_stats = Arc::new(GroupStats::default());
        let group = Arc::new(GroupCommit::new(group::Parts {
            manager: Arc::new(ConnectionManager {
                target,
                losses: Arc::new(AtomicU64::new(0)),
                durable: true,
            }),
            backend,
            gate: write_gate.clone(),
            generation: generation.clone(),
            storage: storage.clone(),
            stats: group_stats.clone(),
        }));
        Ok(Self {
            pool,
            bookkeeping,
            backend,
            write_gate,
            generation,
            storage,
            group,
            group_stats,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the embedded migrations of this backend. On PostgreSQL an advisory lock keeps
    /// several instances starting at once from racing each other.
    pub fn migrate(&self) -> Result<usize, AppError> {
        let mut pooled = self.pool.get().map_err(AppError::unavailable)?;
        let applied = match &mut pooled.conn {
            DbConn::Sqlite(c) => {
                let result = c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len());
                // Fresh statistics let SQLite's planner pick the partial indexes.
                c.batch_execute("PRAGMA optimize")?;
                result
            }
            DbConn::Postgres(c) => {
                c.batch_execute("SELECT pg_advisory_lock(7261736)")?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len());
                c.batch_execute("SELECT pg_advisory_unlock(7261736)")?;
                result
            }
        };
        applied.map_err(|e| AppError::Internal(anyhow::anyhow!("migration failed: {e}")))
    }

    /// Runs `job` on the blocking thread pool, where database calls belong.
    async fn on_blocking_thread<T, J>(&self, job: J) -> Result<T, AppError>
    where
        J: FnOnce(&Db) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || job(&db))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
    }

    /// Runs `f` on a pooled connection on the blocking thread pool (see [`Db::read_blocking`]).
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnMut(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_blocking_thread(move |db| db.read_blocking(f)).await
    }

    /// Runs `f` inside a write transaction, committed if it returns Ok and rolled back if not.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_blocking_thread(move |db| db.write_blocking(f))
            .await
    }

    /// Runs `f` inside a write transaction shared with the other short writes waiting at the
    /// same moment (group commit, see `group.rs`): one flush to the disk for many writes.
    /// `f` runs under a savepoint of its own, after every grouped write that came before it,
    /// and its result is given only once the group has committed. If it fails, it alone is
    /// rolled back. `f` may run a second time, alone, if its group could not commit: it must
    /// not act outside the database.
    pub async fn write_grouped<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnMut(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.group.write(f).await
    }

    /// The committer's figures: groups committed, the writes they carried, writes waiting.
    pub fn group_figures(&self) -> GroupFigures {
        let stats = &self.group_stats;
        GroupFigures {
            groups: stats.groups.load(Ordering::Relaxed),
            writes: stats.writes.load(Ordering::Relaxed),
            waiting: stats.waiting.load(Ordering::Relaxed),
        }
    }

    /// The same as [`Db::write`], for callers that are already on a blocking thread.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError>,
    {
        let result = self.write_unseen(f);
        // After the commit (or rollback): a reader that saw the old count re-reads.
        self.generation.fetch_add(1, Ordering::Release);
        result
    }

    /// A write transaction that pages and feeds never show (the mail worker's bookkeeping in
    /// the outbox): it leaves their kept reads valid.
    pub async fn write_outbox<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_blocking_thread(move |db| db.write_unseen(f)).await
    }

    /// One statement of the mail worker's bookkeeping, committed on its own without
    /// `BEGIN`/`COMMIT` around it (two round trips fewer on PostgreSQL), over the worker's own
    /// connections. `f` must run a single writing statement: that is what makes it atomic.
    /// Like [`Db::write_outbox`] it leaves kept reads valid.
    pub async fn outbox_statement<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_blocking_thread(move |db| db.as_writer(Turn::InLine, Connections::Bookkeeping, f))
            .await
    }

    /// The same as [`Db::outbox_statement`] for the statements that keep a message from going
    /// out twice (the record of a delivery, the renewal of claims): on SQLite they take the
    /// writer's turn ahead of everyone waiting, so they never queue behind a burst of signups.
    pub async fn outbox_urgent<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_blocking_thread(move |db| db.as_writer(Turn::First, Connections::Bookkeeping, f))
            .await
    }

    fn write_unseen<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError>,
    {
        self.as_writer(Turn::InLine, Connections::Shared, |conn| {
            write_transaction(conn, f)
        })
    }

    /// Runs `f` on a pooled connection as this process's one writer on SQLite (see
    /// `write_gate`); on PostgreSQL writers run side by side.
    fn as_writer<T, F>(&self, turn: Turn, connections: Connections, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError>,
    {
        let gate = || (self.backend == Backend::Sqlite).then(|| self.write_gate.enter(turn));
        let (_turn, mut pooled) = match connections {
            // A request's writer takes its connection first, as readers do: the turn is held
            // only once there is a connection to use it on.
            Connections::Shared => {
                let pooled = self.pool.get().map_err(AppError::unavailable)?;
                (gate(), pooled)
            }
            // On SQLite the worker's connections are used only by the writer holding the turn,
            // so the one holding it always finds one free.
            Connections::Bookkeeping => {
                let turn = gate();
                (turn, self.bookkeeping.get().map_err(AppError::unavailable)?)
            }
        };
        let result = pooled.run(f);
        self.storage.saw(&result);
        result
    }

    /// Whether writes failed for lack of space and there is no room yet.
    pub fn storage(&self) -> &storage::StorageWatch {
        &self.storage
    }

    /// How many write transactions this process has finished; read it before a query whose
    /// result is kept, and keep the result only while it is unchanged.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Runs the read `f` on a pooled connection. If the connection turns out to have been cut
    /// (a database restart or failover cuts every connection of the pool), `f` runs once more
    /// on a connection that answers: a read can be repeated, and the user gets an answer
    /// rather than a 503.
    pub fn read_blocking<T, F>(&self, mut f: F) -> Result<T, AppError>
    where
        F: FnMut(&mut DbConn) -> Result<T, AppError>,
    {
        // The first connection goes back to the pool (to be checked there) before another
        // is asked for: a read must not hold a dead connection while it waits for a live one.
        let first = self.read_blocking_once(&mut f);
        match first {
            Err(AppError::Unavailable(why)) => {
                tracing::warn!(error = %why, "a database connection was cut; reading again on another");
                self.read_blocking_once(f)
            }
            other => other,
        }
    }

    /// Runs `f` once on a pooled connection, never again: for a read whose effects reach
    /// outside the database as it goes (an export streamed to a file), which a second run
    /// would repeat.
    pub fn read_blocking_once<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError>,
    {
        self.pool.get().map_err(AppError::unavailable)?.run(f)
    }

    /// Pool figures for operators: (connections open, of them idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// The most connections the pool opens.
    pub fn pool_max(&self) -> u32 {
        self.pool.max_size()
    }
}

/// What [`Db::group_figures`] tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupFigures {
    /// Groups committed (or given up) since the start.
    pub groups: u64,
    /// Writes that those groups carried.
    pub writes: u64,
    /// Writes handed to the committer and not yet taken into a group.
    pub waiting: u64,
}

/// `BEGIN IMMEDIATE` on SQLite takes the write lock up front, so a transaction that reads and
/// then writes waits for its turn instead of failing with SQLITE_BUSY half-way.
pub(crate) fn write_transaction<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    let outcome = f(conn);
    let finish = match (&outcome, &mut *conn) {
        (Ok(_), DbConn::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (Ok(_), DbConn::Postgres(c)) => AnsiTransactionManager::commit_transaction(c),
        (Err(_), DbConn::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (Err(_), DbConn::Postgres(c)) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (outcome, finish) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), _) => Err(e),
    }
}

/// Runs `f` with every statement planned for the values it is given. On PostgreSQL a prepared
/// statement may otherwise keep a plan made while its tables were small (the first signups of
/// a new event): a lookup of a list of ids then keeps scanning whole tables after they have
/// grown, until the next ANALYZE. For the mail worker's batch reads, measured: 1,282–1,622
/// reminders/s for a 30,000-person event with the kept plans, 2,819–2,879/s without them
/// (docs/benchmarks.md, session 4). Costs a transaction around `f` on PostgreSQL.
pub fn planned_for_values<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    match conn {
        DbConn::Sqlite(_) => f(conn),
        DbConn::Postgres(_) => conn.transaction(|conn| {
            conn.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")?;
            f(conn)
        }),
    }
}

/// Runs the reads of `f` in one transaction that sees the database as it was at its first
/// read (SQLite's read transactions do; PostgreSQL needs REPEATABLE READ for it), so a long
/// read in parts neither misses nor repeats rows that others change meanwhile.
pub fn consistent_read<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    conn.transaction(|conn| {
        if let DbConn::Postgres(_) = conn {
            conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        f(conn)
    })
}

/// Locks one event row for the rest of the transaction, so that every signup, cancellation
/// and capacity change of that event happens one after another. On SQLite the transaction
/// already holds the database's write lock.
pub fn lock_event(conn: &mut DbConn, event_id: EventId) -> Result<(), AppError> {
    use schema::events;
    if let DbConn::Postgres(pg) = conn {
        events::table
            .find(event_id)
            .select(events::id)
            .for_update()
            .get_result::<i64>(pg)?;
    }
    Ok(())
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_comes_from_the_scheme() {
        let pg = DatabaseTarget::parse("postgres://postgres@127.0.0.1/test").unwrap();
        assert_eq!(pg.backend, Backend::Postgres);
        let lite = DatabaseTarget::parse("sqlite://data/convene.db").unwrap();
        assert_eq!(
            (lite.backend, lite.address.as_str()),
            (Backend::Sqlite, "data/convene.db")
        );
        let abs = DatabaseTarget::parse("sqlite:///var/lib/convene/convene.db").unwrap();
        assert_eq!(abs.address, "/var/lib/convene/convene.db");
        assert!(DatabaseTarget::parse("mysql://x").is_err());
        assert!(DatabaseTarget::parse("sqlite://").is_err());
    }

    #[test]
    fn migration_trees_have_the_same_names() {
        let names = |dir: &str| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let sqlite = names("migrations/sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("migrations/postgres"));
        for name in &sqlite {
            for backend in ["sqlite", "postgres"] {
                for file in ["up.sql", "down.sql"] {
                    let path = format!("migrations/{backend}/{name}/{file}");
                    assert!(Path::new(&path).exists(), "{path} is missing");
                }
            }
        }
    }
}
