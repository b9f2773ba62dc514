//! Read models for calendar feeds, and their fingerprints: one small aggregate query that
//! changes whenever the feed's content would, so an unchanged feed is answered with 304
//! without loading or rendering it.

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::DbConn;
use super::events::EventRow;
use super::registrations::RegistrationRow;
use super::schema::{events, registrations};
use crate::domain::{EventKind, RegistrationStatus};
use crate::error::AppError;

/// Past events, cancelled ones included, stay in feeds this long after they end, so that a
/// calendar shows what happened and what was called off.
pub const PAST_DAYS: i64 = 90;

fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::days(PAST_DAYS)
}

/// What a feed's validators are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: i64,
    pub last_modified: Option<NaiveDateTime>,
    pub other: Option<NaiveDateTime>,
}

/// Events of the site feed (or one kind's): upcoming, and those ended within the window.
pub fn public_events(
    conn: &mut DbConn,
    kind: Option<EventKind>,
    now: NaiveDateTime,
) -> Result<Vec<EventRow>, AppError> {
    let mut query = events::table
        .filter(events::ends_at.gt(window_start(now)))
        .order((events::starts_at.asc(), events::id.asc()))
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(events::kind.eq(kind));
    }
    Ok(query.load(conn)?)
}

pub fn public_fingerprint(
    conn: &mut DbConn,
    kind: Option<EventKind>,
    now: NaiveDateTime,
) -> Result<Fingerprint, AppError> {
    let mut query = events::table
        .filter(events::ends_at.gt(window_start(now)))
        .select((count_star(), max(events::updated_at)))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(events::kind.eq(kind));
    }
    let (rows, last_modified) = query.get_result::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok(Fingerprint {
        rows,
        last_modified,
        other: None,
    })
}

/// One attendee's active registrations with their events, within the window.
pub fn personal(
    conn: &mut DbConn,
    email_normalized: &str,
    now: NaiveDateTime,
) -> Result<Vec<(RegistrationRow, EventRow)>, AppError> {
    Ok(registrations::table
        .inner_join(events::table)
        .filter(registrations::email_normalized.eq(email_normalized))
        .filter(registrations::status.ne(RegistrationStatus::Cancelled))
        .filter(events::ends_at.gt(window_start(now)))
        .order((events::starts_at.asc(), events::id.asc()))
        .select((RegistrationRow::as_select(), EventRow::as_select()))
        .load(conn)?)
}

pub fn personal_fingerprint(
    conn: &mut DbConn,
    email_normalized: &str,
    now: NaiveDateTime,
) -> Result<Fingerprint, AppError> {
    let (rows, events_changed, registrations_changed) = registrations::table
        .inner_join(events::table)
        .filter(registrations::email_normalized.eq(email_normalized))
        .filter(registrations::status.ne(RegistrationStatus::Cancelled))
        .filter(events::ends_at.gt(window_start(now)))
        .select((
            count_star(),
            max(events::updated_at),
            max(registrations::updated_at),
        ))
        .get_result::<(i64, Option<NaiveDateTime>, Option<NaiveDateTime>)>(conn)?;
    Ok(Fingerprint {
        rows,
        last_modified: events_changed.max(registrations_changed),
        other: registrations_changed,
    })
}
