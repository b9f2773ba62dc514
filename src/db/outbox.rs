//! The outbox: every email is a row here first, written in the transaction that caused it, and
//! delivered later by the worker. Rows are claimed with a short lease that a live worker keeps
//! renewing, so a crashed worker's rows are picked up again a lease after its last renewal.

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{case_when, count_star, min};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::DbConn;
use super::schema::outbox;
use crate::domain::{EventId, Notice, RegistrationId};
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub event_id: Option<EventId>,
    pub registration_id: Option<RegistrationId>,
    pub recipient: String,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub available_at: NaiveDateTime,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub failed_at: Option<NaiveDateTime>,
    pub skipped_at: Option<NaiveDateTime>,
}

impl OutboxRow {
    /// `pending`, `sent`, `failed` or `skipped`.
    pub fn state(&self) -> &'static str {
        match (self.sent_at, self.failed_at, self.skipped_at) {
            (Some(_), _, _) => "sent",
            (_, Some(_), _) => "failed",
            (_, _, Some(_)) => "skipped",
            _ => "pending",
        }
    }
}

/// A message to be sent about one registration.
pub struct NewMessage<'a> {
    pub notice: Notice,
    pub event_id: EventId,
    pub registration_id: RegistrationId,
    pub recipient: &'a str,
}

pub fn enqueue(
    conn: &mut DbConn,
    message: NewMessage<'_>,
    now: NaiveDateTime,
) -> Result<i64, AppError> {
    Ok(diesel::insert_into(outbox::table)
        .values((
            outbox::message_id.eq(uuid::Uuid::new_v4().to_string()),
            outbox::kind.eq(message.notice.kind().as_str()),
            outbox::event_id.eq(Some(message.event_id)),
            outbox::registration_id.eq(Some(message.registration_id)),
            outbox::recipient.eq(message.recipient),
            outbox::payload.eq(message.notice.payload()),
            outbox::created_at.eq(now),
            outbox::available_at.eq(now),
        ))
        .returning(outbox::id)
        .get_result(conn)?)
}

/// Queues one message for each of `messages` in a few statements (rows of a few hundred at a
/// time): ten thousand people moved up by one capacity raise are queued in well under a second.
pub fn enqueue_many(
    conn: &mut DbConn,
    messages: &[NewMessage<'_>],
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    // Eight values a row: well under either database's limit on the values of one statement.
    const ROWS_A_STATEMENT: usize = 500;
    let mut added = 0;
    for chunk in messages.chunks(ROWS_A_STATEMENT) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|m| {
                (
                    outbox::message_id.eq(uuid::Uuid::new_v4().to_string()),
                    outbox::kind.eq(m.notice.kind().as_str()),
                    outbox::event_id.eq(Some(m.event_id)),
                    outbox::registration_id.eq(Some(m.registration_id)),
                    outbox::recipient.eq(m.recipient),
                    outbox::payload.eq(m.notice.payload()),
                    outbox::created_at.eq(now),
                    outbox::available_at.eq(now),
                )
            })
            .collect();
        added += match conn {
            DbConn::Postgres(pg) => diesel::insert_into(outbox::table)
                .values(rows)
                .execute(pg)?,
            DbConn::Sqlite(lite) => diesel::insert_into(outbox::table)
                .values(rows)
                .execute(lite)?,
        };
    }
    Ok(added)
}

/// A message to someone who is not (necessarily) registered, such as a project lead; what it
/// is about is in the notice.
pub fn enqueue_without_registration(
    conn: &mut DbConn,
    notice: Notice,
    event_id: EventId,
    recipient: &str,
    now: NaiveDateTime,
) -> Result<i64, AppError> {
    Ok(diesel::insert_into(outbox::table)
        .values((
            outbox::message_id.eq(uuid::Uuid::new_v4().to_string()),
            outbox::kind.eq(notice.kind().as_str()),
            outbox::event_id.eq(Some(event_id)),
            outbox::registration_id.eq(None::<i64>),
            outbox::recipient.eq(recipient),
            outbox::payload.eq(notice.payload()),
            outbox::created_at.eq(now),
            outbox::available_at.eq(now),
        ))
        .returning(outbox::id)
        .get_result(conn)?)
}

/// Inserts a message that must exist once only, under `dedupe_key`; a second insert with the
/// same key, from this instance or another, is ignored. Returns whether a row was added.
pub fn enqueue_once(
    conn: &mut DbConn,
    message: NewMessage<'_>,
    dedupe_key: &str,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let row = (
        outbox::message_id.eq(uuid::Uuid::new_v4().to_string()),
        outbox::kind.eq(message.notice.kind().as_str()),
        outbox::event_id.eq(Some(message.event_id)),
        outbox::registration_id.eq(Some(message.registration_id)),
        outbox::recipient.eq(message.recipient),
        outbox::payload.eq(message.notice.payload()),
        outbox::dedupe_key.eq(Some(dedupe_key)),
        outbox::created_at.eq(now),
        outbox::available_at.eq(now),
    );
    let added = match conn {
        DbConn::Postgres(pg) => diesel::insert_into(outbox::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConn::Sqlite(lite) => diesel::insert_into(outbox::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(lite)?,
    };
    Ok(added == 1)
}

/// One event's messages, newest first, for its organizers.
pub fn for_event(
    conn: &mut DbConn,
    event_id: EventId,
    limit: i64,
) -> Result<Vec<OutboxRow>, AppError> {
    Ok(outbox::table
        .filter(outbox::event_id.eq(event_id))
        .order(outbox::id.desc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// What a message's `last_error` says once it was taken over from a worker whose claim ran
/// out with no outcome recorded.
pub const TAKEN_OVER: &str = "taken over from a worker that stopped before recording an outcome: it may have been delivered then";

/// Takes up to `limit` due messages for `worker`, leasing them until `now + lease`, in one
/// statement. On PostgreSQL rows another worker is claiming are skipped rather than waited for.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
) -> Result<Vec<OutboxRow>, AppError> {
    // The subquery reads the same table under another name, as SQL needs.
    let waiting = diesel::alias!(outbox as due);
    let due_id = waiting.field(outbox::id);
    let due = waiting
        .filter(waiting.field(outbox::sent_at).is_null())
        .filter(waiting.field(outbox::failed_at).is_null())
        .filter(waiting.field(outbox::skipped_at).is_null())
        .filter(waiting.field(outbox::available_at).le(now))
        .filter(
            waiting
                .field(outbox::claimed_until)
                .is_null()
                .or(waiting.field(outbox::claimed_until).lt(now)),
        )
        .order(due_id.asc())
        .select(due_id)
        .limit(limit);
    // A claim still on the row ran out without an outcome: its worker stopped answering
    // (crashed, or lost the database) and may have delivered the message before it did.
    let taken_over = case_when(
        outbox::claimed_until.is_not_null(),
        TAKEN_OVER.into_sql::<Nullable<Text>>(),
    )
    .otherwise(outbox::last_error);
    let lease = (
        outbox::claimed_by.eq(worker),
        outbox::claimed_until.eq(now + lease),
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::last_error.eq(taken_over),
    );
    let mut rows: Vec<OutboxRow> = match conn {
        DbConn::Postgres(pg) => {
            diesel::update(outbox::table.filter(outbox::id.eq_any(due.for_update().skip_locked())))
                .set(lease)
                .returning(OutboxRow::as_returning())
                .get_results(pg)?
        }
        DbConn::Sqlite(lite) => diesel::update(outbox::table.filter(outbox::id.eq_any(due)))
            .set(lease)
            .returning(OutboxRow::as_returning())
            .get_results(lite)?,
    };
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}

/// Records messages as delivered, all in one statement: the worker gathers the messages that
/// the SMTP server accepted while the previous record was being written, so under load one
/// commit records several deliveries. Returns how many rows changed.
pub fn mark_sent(conn: &mut DbConn, ids: &[i64], now: NaiveDateTime) -> Result<usize, AppError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::sent_at.is_null()),
    )
    .set((
        outbox::sent_at.eq(Some(now)),
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?)
}

/// Extends the lease of the messages `ids` that `worker` holds to `until`, in one statement: a
/// live worker keeps what it claimed, while a dead one's claims run out a lease after its last
/// renewal. Returns the ids renewed: one missing is no longer this worker's to send (another
/// took it over, or it was finished). A claim that ran out but was not taken by another worker
/// is renewed too (a claim by another would have changed `claimed_by`).
pub fn renew(
    conn: &mut DbConn,
    worker: &str,
    ids: &[i64],
    until: NaiveDateTime,
) -> Result<Vec<i64>, AppError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::claimed_by.eq(worker))
            .filter(outbox::claimed_until.is_not_null())
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null())
            .filter(outbox::skipped_at.is_null()),
    )
    .set(outbox::claimed_until.eq(Some(until)))
    .returning(outbox::id)
    .get_results(conn)?)
}

/// Records a temporary failure: the message is tried again at `retry_at`.
pub fn mark_retry(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    retry_at: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(outbox::table.find(id).filter(outbox::sent_at.is_null()))
        .set((
            outbox::available_at.eq(retry_at),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(truncate(error))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a permanent failure (or a message that no longer applies, with its reason).
pub fn mark_failed(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(outbox::table.find(id).filter(outbox::sent_at.is_null()))
        .set((
            outbox::failed_at.eq(Some(now)),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(truncate(error))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a message that no longer applied when its turn came.
/// The first of `keys` that a message already holds.
pub fn first_taken_key(conn: &mut DbConn, keys: &[String]) -> Result<Option<String>, AppError> {
    Ok(outbox::table
        .filter(outbox::dedupe_key.eq_any(keys))
        .select(outbox::dedupe_key.assume_not_null())
        .load::<String>(conn)?
        .into_iter()
        .next())
}

/// The message holding `key`.
pub fn id_by_key(conn: &mut DbConn, key: &str) -> Result<i64, AppError> {
    Ok(outbox::table
        .filter(outbox::dedupe_key.eq(key))
        .select(outbox::id)
        .get_result(conn)?)
}

pub fn mark_skipped(
    conn: &mut DbConn,
    id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::skipped_at.eq(Some(now)),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(truncate(reason))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives back the messages a stopping worker had claimed but not sent (nor recorded as failed
/// or retried: those no longer carry its lease).
pub fn release(conn: &mut DbConn, worker: &str) -> Result<usize, AppError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::claimed_by.eq(worker))
            .filter(outbox::claimed_until.is_not_null())
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null())
            .filter(outbox::skipped_at.is_null()),
    )
    // The claim counted an attempt that did not happen.
    .set((
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::attempts.eq(outbox::attempts - 1),
    ))
    .execute(conn)?)
}

/// Gives back one message `worker` claimed and did not start (its lease could not be
/// renewed), with the attempt the claim counted; nothing if the claim is no longer this
/// worker's.
pub fn give_back(conn: &mut DbConn, id: i64, worker: &str) -> Result<usize, AppError> {
    Ok(diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::claimed_by.eq(worker))
            .filter(outbox::claimed_until.is_not_null())
            .filter(outbox::sent_at.is_null()),
    )
    .set((
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::attempts.eq(outbox::attempts - 1),
    ))
    .execute(conn)?)
}

/// Messages not yet delivered nor given up on.
pub fn pending_count(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(stats(conn)?.pending)
}

/// What operators watch: the backlog, its oldest message, and the permanent failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: i64,
    pub oldest_pending: Option<NaiveDateTime>,
    pub failed: i64,
}

pub fn stats(conn: &mut DbConn) -> Result<OutboxStats, AppError> {
    let (pending, oldest_pending) = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .filter(outbox::skipped_at.is_null())
        .select((count_star(), min(outbox::created_at)))
        .get_result::<(i64, Option<NaiveDateTime>)>(conn)?;
    let failed = outbox::table
        .filter(outbox::failed_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(OutboxStats {
        pending,
        oldest_pending,
        failed,
    })
}

pub fn for_registration(
    conn: &mut DbConn,
    registration_id: RegistrationId,
) -> Result<Vec<OutboxRow>, AppError> {
    Ok(outbox::table
        .filter(outbox::registration_id.eq(registration_id))
        .order(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)?)
}

fn truncate(error: &str) -> String {
    error.chars().take(1000).collect()
}
