//! Use cases: one function for each thing a person does with Convene (sign up, cancel, create
//! or change an event, post a board line, book a slot, message attendees, ...). The JSON API,
//! the HTML pages, the command line and the mail worker call these and nothing below them, so
//! the same input gets the same answer everywhere.
//!
//! A use case takes the [`Service`] and validated domain input, and returns a domain result.
//! A write runs in one database transaction through [`Service::write`]; what it set in
//! motion (mail queued, a board changed) is noted in its [`Effects`], and the service wakes the
//! mail worker and the live boards once, after the commit.

pub mod board;
pub mod events;
pub mod feeds;
pub mod messages;
pub mod organizers;
pub mod projects;
pub mod registrations;
pub mod reminders;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::board::BoardHub;
use crate::clock::Clock;
use crate::db::{Db, DbConn};
use crate::domain::EventId;
use crate::error::AppError;
use crate::links::Links;
use crate::metrics::Metrics;
use crate::tokens::SecretKey;

/// What every use case may use.
#[derive(Clone)]
pub struct Service {
    pub db: Db,
    pub clock: Clock,
    pub key: SecretKey,
    pub links: Links,
    pub metrics: Arc<Metrics>,
    /// Wakes the mail worker of this process after a write queued mail.
    pub outbox_wake: Arc<Notify>,
    /// The live boards of this process; `None` where nobody watches boards (the worker).
    pub board: Option<BoardHub>,
}

/// What a write set in motion, acted on once its transaction has committed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// Messages written to the outbox.
    pub mail_queued: usize,
    /// Events whose board changed.
    pub boards_changed: Vec<EventId>,
}

impl Effects {
    /// `n` messages were written to the outbox.
    pub fn mail(&mut self, n: usize) {
        self.mail_queued += n;
    }

    /// The event's board changed: every instance hears of it when the transaction commits.
    pub fn board(&mut self, conn: &mut DbConn, event_id: EventId) -> Result<(), AppError> {
        if !self.boards_changed.contains(&event_id) {
            crate::db::board::notify(conn, event_id)?;
            self.boards_changed.push(event_id);
        }
        Ok(())
    }
}

impl Service {
    /// Runs `f` in one write transaction; after it has committed, wakes the mail worker if
    /// mail was queued and the live boards whose board changed. Returns `f`'s result.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn, &mut Effects) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (result, effects) = self.db.write(move |conn| with_effects(conn, f)).await?;
        self.after_commit(&effects);
        Ok(result)
    }

    /// The same as [`Service::write`] for the short writes of the request path (a signup, a
    /// cancellation, a board line): written together with the others arriving at the same
    /// moment, one transaction and one flush to the disk for many (see `Db::write_grouped`).
    /// `f` may run twice (the second time alone, if its group could not commit), so it only
    /// acts through the connection and `Effects`, which start afresh each time.
    pub async fn write_grouped<T, F>(&self, mut f: F) -> Result<T, AppError>
    where
        F: FnMut(&mut DbConn, &mut Effects) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (result, effects) = self
            .db
            .write_grouped(move |conn| with_effects(conn, &mut f))
            .await?;
        self.after_commit(&effects);
        Ok(result)
    }

    /// The same as [`Service::write`] on a thread that may block (the command line, `--demo`).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn, &mut Effects) -> Result<T, AppError>,
    {
        let (result, effects) = self.db.write_blocking(move |conn| with_effects(conn, f))?;
        self.after_commit(&effects);
        Ok(result)
    }

    /// Runs the read `f` on a pooled connection (repeated once on a cut connection).
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnMut(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.db.read(f).await
    }

    fn after_commit(&self, effects: &Effects) {
        if effects.mail_queued > 0 {
            self.outbox_wake.notify_one();
        }
        if let Some(hub) = &self.board {
            for &event_id in &effects.boards_changed {
                hub.changed(event_id);
            }
        }
    }
}

/// Runs the write `f` with fresh `Effects`, returning both.
fn with_effects<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn, &mut Effects) -> Result<T, AppError>,
) -> Result<(T, Effects), AppError> {
    let mut effects = Effects::default();
    let result = f(conn, &mut effects)?;
    Ok((result, effects))
}
