//! Attendees, one per address across all events: the secret behind their personal feed.
//! Like manage tokens, a feed token is derived from a stored nonce with the server key, and
//! only its hash is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::attendees;
use crate::error::AppError;
use crate::tokens::{self, SecretKey};

pub const FEED_PURPOSE: &str = "feed";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attendees)]
pub struct AttendeeRow {
    pub id: i64,
    pub email_normalized: String,
    pub feed_nonce: String,
    pub feed_token_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Minutes before each start that the personal feed sets an alarm; None: no alarm.
    pub feed_alarm_minutes: Option<i32>,
}

impl AttendeeRow {
    pub fn feed_token(&self, key: &SecretKey) -> String {
        key.derive_token(FEED_PURPOSE, &self.feed_nonce)
    }
}

/// The attendee with this normalized address, created on first use. Two instances creating
/// the same attendee at once both end up with the one row. A known and a new address take
/// the same two statements (an insert that may do nothing, then a read), so the time of a
/// signup does not tell whether the address was known.
pub fn ensure(
    conn: &mut DbConn,
    email_normalized: &str,
    key: &SecretKey,
    now: NaiveDateTime,
) -> Result<AttendeeRow, AppError> {
    let nonce = tokens::random_nonce();
    let hash = tokens::token_hash(&key.derive_token(FEED_PURPOSE, &nonce));
    let row = (
        attendees::email_normalized.eq(email_normalized),
        attendees::feed_nonce.eq(&nonce),
        attendees::feed_token_hash.eq(&hash),
        attendees::created_at.eq(now),
        attendees::updated_at.eq(now),
    );
    match conn {
        DbConn::Postgres(pg) => diesel::insert_into(attendees::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConn::Sqlite(lite) => diesel::insert_into(attendees::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(lite)?,
    };
    find(conn, email_normalized)?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("attendee vanished after insert")))
}

pub fn find(conn: &mut DbConn, email_normalized: &str) -> Result<Option<AttendeeRow>, AppError> {
    Ok(attendees::table
        .filter(attendees::email_normalized.eq(email_normalized))
        .select(AttendeeRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn find_by_feed_token(conn: &mut DbConn, token: &str) -> Result<AttendeeRow, AppError> {
    let not_found = || AppError::not_found("no calendar feed at this address");
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    attendees::table
        .filter(attendees::feed_token_hash.eq(tokens::token_hash(token)))
        .select(AttendeeRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(not_found)
}

/// Replaces the feed token; the old link stops working at once.
pub fn rotate_feed_token(
    conn: &mut DbConn,
    attendee_id: i64,
    key: &SecretKey,
    now: NaiveDateTime,
) -> Result<AttendeeRow, AppError> {
    let nonce = tokens::random_nonce();
    let hash = tokens::token_hash(&key.derive_token(FEED_PURPOSE, &nonce));
    diesel::update(attendees::table.find(attendee_id))
        .set((
            attendees::feed_nonce.eq(&nonce),
            attendees::feed_token_hash.eq(&hash),
            attendees::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(attendees::table
        .find(attendee_id)
        .select(AttendeeRow::as_select())
        .get_result(conn)?)
}

/// Sets the alarm of an attendee's personal feed (minutes before each start; None: none).
pub fn set_feed_alarm(
    conn: &mut DbConn,
    attendee_id: i64,
    minutes: Option<i32>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(attendees::table.find(attendee_id))
        .set((
            attendees::feed_alarm_minutes.eq(minutes),
            attendees::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
