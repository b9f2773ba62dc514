//! The connection pool: connections of the backend chosen up front, each SQLite one prepared
//! (foreign keys, WAL, busy timeout, durable commits), and checked before reuse only when it
//! may have been cut.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
use diesel::sqlite::SqliteConnection;

use super::{Backend, DatabaseTarget, DbConn};
use crate::error::AppError;

/// Opens connections of the backend chosen up front and prepares each SQLite connection:
/// foreign keys, WAL, a busy timeout and durable commits are per-connection settings.
#[derive(Debug)]
pub struct ConnectionManager {
    pub(super) target: DatabaseTarget,
    /// How many times a connection of this pool was found cut by the server.
    pub(super) losses: Arc<AtomicU64>,
    /// On SQLite: whether each commit waits for the disk (`synchronous = FULL`). The mail
    /// worker's bookkeeping does not: its commits survive a crash of the process, and the next
    /// durable commit of anyone flushes them to the disk with everything before; a power cut
    /// in between can at worst make a message go out twice.
    pub(super) durable: bool,
}

/// A connection that answered within this long is handed out again without a check.
pub(super) const TRUSTED_FOR: Duration = Duration::from_secs(5);

/// A pooled connection, with what the pool knows of its health. A connection that recently
/// answered is handed out without a check query (on PostgreSQL that would be a round trip
/// before every use); one that sat idle, whose last use ended in an error, or that was not
/// checked since another connection of the pool was found cut (a server restart cuts them
/// all), is checked with `SELECT 1` first and replaced if that fails.
pub struct PoolConn {
    pub(super) conn: DbConn,
    answered: Instant,
    suspect: bool,
    losses_seen: u64,
    losses: Arc<AtomicU64>,
}

impl PoolConn {
    /// Runs `f` and remembers whether the connection showed itself alive.
    pub(super) fn run<T>(
        &mut self,
        f: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let result = f(&mut self.conn);
        match &result {
            // Errors that may come from a broken connection (a missing row or a refused input
            // says the connection works).
            Err(AppError::Unavailable(_)) => {
                self.suspect = true;
                self.losses.fetch_add(1, Ordering::AcqRel);
            }
            Err(AppError::Internal(_)) => self.suspect = true,
            _ => self.answered = Instant::now(),
        }
        result
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = PoolConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConn, r2d2::Error> {
        let losses_seen = self.losses.load(Ordering::Acquire);
        self.open().map(|conn| PoolConn {
            conn,
            answered: Instant::now(),
            suspect: false,
            losses_seen,
            losses: self.losses.clone(),
        })
    }

    fn is_valid(&self, pooled: &mut PoolConn) -> Result<(), r2d2::Error> {
        let losses = self.losses.load(Ordering::Acquire);
        if !pooled.suspect
            && pooled.losses_seen == losses
            && pooled.answered.elapsed() < TRUSTED_FOR
        {
            return Ok(());
        }
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)?;
        pooled.suspect = false;
        pooled.losses_seen = losses;
        pooled.answered = Instant::now();
        Ok(())
    }

    fn has_broken(&self, _pooled: &mut PoolConn) -> bool {
        false
    }
}

impl ConnectionManager {
    pub(super) fn open(&self) -> Result<DbConn, r2d2::Error> {
        match self.target.backend {
            Backend::Postgres => PgConnection::establish(&self.target.address)
                .map(DbConn::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target.address)
                    .map_err(r2d2::Error::ConnectionError)?;
                // The busy timeout comes first: switching to WAL takes a lock, and connections
                // opened side by side must wait for it rather than fail. The journals of
                // savepoints (one per grouped write) stay in memory: they only undo a write
                // inside its transaction, and writing them to a file took a sixth of the
                // committer's time.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA temp_store = MEMORY;",
                )
                .map_err(r2d2::Error::QueryError)?;
                conn.batch_execute(if self.durable {
                    "PRAGMA synchronous = FULL"
                } else {
                    "PRAGMA synchronous = NORMAL"
                })
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

pub type Conn = PooledConnection<ConnectionManager>;
