//! Read models for calendar feeds, and their fingerprints: one small aggregate query that
//! changes whenever the feed's content would, so an unchanged feed is answered with 304
//! without loading or rendering it.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::DbConn;
use super::board::SlotRow;
use super::events::EventRow;
use super::projects::ProjectRow;
use super::registrations::RegistrationRow;
use super::schema::{events, projects, registration_projects, registrations, slots};
use crate::domain::ids::ProjectId;
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
    /// Sessions in the feed: how many, and the latest change among them.
    pub sessions: (i64, Option<NaiveDateTime>),
}

/// Events of the site feed (or one kind's): upcoming, and those ended within the window.
pub fn public_events(
    conn: &mut DbConn,
    kind: Option<EventKind>,
    now: NaiveDateTime,
) -> Result<Vec<EventRow>, AppError> {
    let mut query = events::table
        .filter(events::ends_at.gt(window_start(now)))
        .filter(events::published_at.is_not_null())
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
        .filter(events::published_at.is_not_null())
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
        sessions: (0, None),
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
    let joined = joined_projects(conn, email_normalized)?;
    // A session shows its project's name and notes: their changes change the feed.
    let projects_changed = projects::table
        .filter(projects::id.eq_any(&joined))
        .select(max(projects::updated_at))
        .get_result::<Option<NaiveDateTime>>(conn)?;
    let sessions = slots::table
        .filter(slots::project_id.eq_any(&joined))
        .filter(slots::ends_at.gt(window_start(now)))
        .select((count_star(), max(slots::updated_at)))
        .get_result::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok(Fingerprint {
        rows,
        last_modified: events_changed
            .max(registrations_changed)
            .max(sessions.1)
            .max(projects_changed),
        other: registrations_changed.max(projects_changed),
        sessions,
    })
}

/// The projects someone going to an event joined there.
fn joined_projects(conn: &mut DbConn, email_normalized: &str) -> Result<Vec<ProjectId>, AppError> {
    Ok(registration_projects::table
        .inner_join(registrations::table)
        .filter(registrations::email_normalized.eq(email_normalized))
        .filter(registrations::status.eq(RegistrationStatus::Going))
        .select(registration_projects::project_id)
        .load(conn)?)
}

/// The sessions (booked slots) of one attendee's personal feed: those of the projects they
/// joined at events they are going to, each with its project and event.
pub fn personal_sessions(
    conn: &mut DbConn,
    email_normalized: &str,
    now: NaiveDateTime,
) -> Result<Vec<(SlotRow, ProjectRow, EventRow)>, AppError> {
    let joined = joined_projects(conn, email_normalized)?;
    let sessions: Vec<SlotRow> = slots::table
        .filter(slots::project_id.eq_any(&joined))
        .filter(slots::ends_at.gt(window_start(now)))
        .order((slots::starts_at.asc(), slots::id.asc()))
        .select(SlotRow::as_select())
        .load(conn)?;
    let places: HashMap<ProjectId, (ProjectRow, EventRow)> = projects::table
        .inner_join(events::table)
        .filter(projects::id.eq_any(&joined))
        .select((ProjectRow::as_select(), EventRow::as_select()))
        .load::<(ProjectRow, EventRow)>(conn)?
        .into_iter()
        .map(|(p, e)| (p.id, (p, e)))
        .collect();
    Ok(sessions
        .into_iter()
        .filter_map(|slot| {
            let (project, event) = places.get(&slot.project_id)?.clone();
            Some((slot, project, event))
        })
        .collect())
}
