//! What the calendar feeds show: the site's events (or one kind's), one project with its
//! booked sessions, and one attendee's events, each with the fingerprint that tells whether
//! the feed changed; an event's own feed shows its row ([`super::events::find`]). A feed asks
//! for the fingerprint first and for the rest only when it must render, both for the `now`
//! it took once, so that the two agree.

use chrono::NaiveDateTime;

use super::Service;
use crate::db::attendees::{self, AttendeeRow};
use crate::db::board::{self, SlotRow};
use crate::db::events::{self, EventRow};
use crate::db::feeds::{self, Fingerprint};
use crate::db::projects::{self, ProjectRow};
use crate::db::registrations::RegistrationRow;
use crate::domain::EventKind;
use crate::error::AppError;

/// Whether the site's feed (or one kind's) changed: its events, upcoming and recently over.
pub async fn public_fingerprint(
    service: &Service,
    kind: Option<EventKind>,
    now: NaiveDateTime,
) -> Result<Fingerprint, AppError> {
    service
        .read(move |conn| feeds::public_fingerprint(conn, kind, now))
        .await
}

/// The events of the site's feed (or one kind's): upcoming, and those over within the
/// feed's window, cancelled ones included.
pub async fn public_events(
    service: &Service,
    kind: Option<EventKind>,
    now: NaiveDateTime,
) -> Result<Vec<EventRow>, AppError> {
    service
        .read(move |conn| feeds::public_events(conn, kind, now))
        .await
}

/// One project's feed: the project, its event, and its booked sessions.
pub struct ProjectFeed {
    pub event: EventRow,
    pub project: ProjectRow,
    pub slots: Vec<SlotRow>,
}

/// The feed of the project `project` at the event named `slug`.
pub async fn project(
    service: &Service,
    slug: String,
    project: String,
) -> Result<ProjectFeed, AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?.public()?;
            let project = projects::find_by_slug(conn, event.id, &project)?;
            let slots = board::slots_for_project(conn, project.id)?;
            Ok(ProjectFeed {
                event,
                project,
                slots,
            })
        })
        .await
}

/// The attendee whose personal feed address this is, and whether their feed changed; a
/// wrong or replaced address is "not found".
pub async fn personal_fingerprint(
    service: &Service,
    token: String,
    now: NaiveDateTime,
) -> Result<(AttendeeRow, Fingerprint), AppError> {
    service
        .read(move |conn| {
            let attendee = attendees::find_by_feed_token(conn, &token)?;
            let mut fingerprint =
                feeds::personal_fingerprint(conn, &attendee.email_normalized, now)?;
            // The person's own choices (the alarm) are part of the feed.
            fingerprint.other = fingerprint.other.max(Some(attendee.updated_at));
            fingerprint.last_modified = fingerprint.last_modified.max(Some(attendee.updated_at));
            Ok((attendee, fingerprint))
        })
        .await
}

/// What one attendee's personal feed holds.
pub struct PersonalFeed {
    /// The events they are going to or waiting for, with their registrations.
    pub events: Vec<(RegistrationRow, EventRow)>,
    /// The sessions of the projects they joined at events they are going to.
    pub sessions: Vec<(SlotRow, ProjectRow, EventRow)>,
}

/// The events one attendee (by normalized address) is going to or waiting for, and the
/// sessions of the projects they joined, within the feed's window.
pub async fn personal(
    service: &Service,
    email_normalized: String,
    now: NaiveDateTime,
) -> Result<PersonalFeed, AppError> {
    service
        .read(move |conn| {
            Ok(PersonalFeed {
                events: feeds::personal(conn, &email_normalized, now)?,
                sessions: feeds::personal_sessions(conn, &email_normalized, now)?,
            })
        })
        .await
}
