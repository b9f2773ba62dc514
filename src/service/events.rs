//! Creating, changing and cancelling events, and reading them as lists and pages show them.
//! A change in time or place is mailed to everyone signed up; more seats move the waitlist up.

use chrono::NaiveDateTime;

use super::registrations::{fill_free_seats, notify_all};
use super::{Effects, Service};
use crate::db::board::{self, SlotRow};
use crate::db::events::{self, EventRow, EventSummary, Filter, Period};
use crate::db::projects::{self, ProjectDetail};
use crate::db::{DbConn, lock_event, registrations};
use crate::domain::notice::Change;
use crate::domain::{EventDraft, EventId, EventStatus, Notice, Problems};
use crate::error::AppError;

/// Whether a new event goes public at once or waits, as a draft, until it is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    Now,
    Later,
}

/// Creates an event; a taken slug is a field error.
pub async fn create(
    service: &Service,
    draft: EventDraft,
    publish: Publish,
) -> Result<EventSummary, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, _fx| {
            let row = events::insert(conn, &draft, publish == Publish::Now, now)?;
            events::summary_by_slug(conn, &row.slug)
        })
        .await
}

/// Publishes a draft: from now on it is on the public pages and in the feeds, people can sign
/// up, and its leads get the links to their boards that waited for it. Publishing twice
/// changes nothing.
pub async fn publish(service: &Service, slug: String) -> Result<EventSummary, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, fx| {
            let id = events::find_by_slug(conn, &slug)?.id;
            lock_event(conn, id)?;
            if events::find(conn, id)?.is_draft() {
                events::mark_published(conn, id, now)?;
                super::projects::send_waiting_lead_links(conn, fx, id, now)?;
                fx.board(conn, id)?;
            }
            events::summary_by_slug(conn, &slug)
        })
        .await
}

/// Deletes an event nobody ever signed up for, with its projects and board; one with
/// registrations can only be cancelled (its attendees are told, its history stays).
pub async fn delete(service: &Service, slug: String) -> Result<(), AppError> {
    service
        .write(move |conn, _fx| {
            let id = events::find_by_slug(conn, &slug)?.id;
            lock_event(conn, id)?;
            if events::has_registrations(conn, id)? {
                return Err(AppError::Conflict(
                    "people have signed up for this event, so it cannot be deleted; cancel it instead (they are told by email)".into(),
                ));
            }
            events::delete(conn, id)
        })
        .await
}

/// Applies an organizer's change to the event named `slug` under the event's lock: `apply`
/// turns the stored event into the wanted one (or names what is wrong with the change).
pub async fn change<F>(service: &Service, slug: String, apply: F) -> Result<EventSummary, AppError>
where
    F: FnOnce(EventDraft) -> Result<EventDraft, Problems> + Send + 'static,
{
    let now = service.clock.now();
    service
        .write(move |conn, fx| {
            let row = change_in(conn, fx, &slug, now, apply)?;
            events::summary_by_slug(conn, &row.slug)
        })
        .await
}

/// Changes an event inside a transaction: everyone signed up is told what moved, and people
/// from the waitlist take the seats the change freed.
pub fn change_in(
    conn: &mut DbConn,
    fx: &mut Effects,
    slug: &str,
    now: NaiveDateTime,
    apply: impl FnOnce(EventDraft) -> Result<EventDraft, Problems>,
) -> Result<EventRow, AppError> {
    let id = events::find_by_slug(conn, slug)?.id;
    lock_event(conn, id)?;
    let current = events::find(conn, id)?;
    let previous = current.to_draft()?;
    let next = apply(previous.clone())?;
    let updated = events::update(conn, &current, &next, now)?;
    let changes = next.changes_from(&previous);
    if !changes.is_empty() && updated.status() == EventStatus::Scheduled {
        let changes: Vec<Change> = changes.iter().map(Change::from).collect();
        let recipients = registrations::active(conn, id, None, false)?;
        notify_all(
            conn,
            fx,
            &recipients,
            &Notice::EventChanged { changes },
            now,
        )?;
    }
    fill_free_seats(conn, fx, updated.id, now)?;
    fx.board(conn, id)?;
    events::find(conn, id)
}

/// Cancels the event named `slug` and tells everyone signed up; cancelling twice changes
/// nothing and sends nothing.
pub async fn cancel(service: &Service, slug: String) -> Result<EventSummary, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, fx| {
            let id = events::find_by_slug(conn, &slug)?.id;
            cancel_in(conn, fx, id, now)?;
            events::summary_by_slug(conn, &slug)
        })
        .await
}

/// Cancels an event inside a transaction.
pub fn cancel_in(
    conn: &mut DbConn,
    fx: &mut Effects,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<EventRow, AppError> {
    lock_event(conn, event_id)?;
    let row = events::find(conn, event_id)?;
    if row.status() == EventStatus::Cancelled {
        return Ok(row);
    }
    let recipients = registrations::active(conn, event_id, None, false)?;
    notify_all(conn, fx, &recipients, &Notice::EventCancelled, now)?;
    events::mark_cancelled(conn, event_id, now)?;
    fx.board(conn, event_id)?;
    events::find(conn, event_id)
}

/// The event named `slug` with the size of its waitlist.
pub async fn get(service: &Service, slug: String) -> Result<EventSummary, AppError> {
    service
        .read(move |conn| events::summary_by_slug(conn, &slug))
        .await
}

/// The event named `slug`, without its waitlist (its feed, the thanks page after a signup).
pub async fn find(service: &Service, slug: String) -> Result<EventRow, AppError> {
    service
        .read(move |conn| events::find_by_slug(conn, &slug))
        .await
}

/// An event as its public page shows it: with its projects, its booked sessions, and its
/// description made HTML.
pub struct ForPublic {
    pub summary: EventSummary,
    pub projects: Vec<ProjectDetail>,
    pub slots: Vec<SlotRow>,
    pub description_html: String,
    /// Who's going: the people with a seat who asked to be shown, with their projects.
    pub shown_going: Vec<(String, Vec<crate::domain::ProjectId>)>,
}

/// The most names the event page lists among who's going; the rest are counted.
pub const SHOWN_GOING_MAX: i64 = 200;

/// The event named `slug` as everyone sees it on its page. `describe` makes the description
/// (Markdown) HTML; it runs with the read, off the request's thread, being the costliest
/// part of the page.
pub async fn for_public(
    service: &Service,
    slug: String,
    describe: fn(&str) -> String,
) -> Result<ForPublic, AppError> {
    service
        .read(move |conn| {
            let summary = events::summary_by_slug(conn, &slug)?;
            let projects = projects::details_for_event(conn, summary.event.id)?;
            let slots = board::slots_for_event(conn, summary.event.id)?;
            let description_html = describe(&summary.event.description);
            let shown_going = registrations::shown_going(conn, summary.event.id, SHOWN_GOING_MAX)?;
            Ok(ForPublic {
                shown_going,
                summary,
                projects,
                slots,
                description_html,
            })
        })
        .await
}

/// Events of a period (of a kind, with drafts or not), with their waitlists, at most `limit`.
pub async fn list(
    service: &Service,
    period: Period,
    filter: Filter,
    limit: i64,
) -> Result<Vec<EventSummary>, AppError> {
    let now = service.clock.now();
    service
        .read(move |conn| {
            let rows = events::list(conn, period, filter, now, limit)?;
            events::with_waitlists(conn, rows)
        })
        .await
}

/// One page of `list`: at most `per_page` events from the `page`-th page on (counted from 1),
/// and whether more follow.
pub async fn list_page(
    service: &Service,
    period: Period,
    filter: Filter,
    page: u32,
    per_page: u32,
) -> Result<(Vec<EventSummary>, bool), AppError> {
    let now = service.clock.now();
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    service
        .read(move |conn| {
            // One more than shown tells whether a next page exists.
            let window = (offset, i64::from(per_page) + 1);
            let mut rows = events::list_from(conn, period, filter, now, window)?;
            let more = rows.len() > per_page as usize;
            rows.truncate(per_page as usize);
            Ok((events::with_waitlists(conn, rows)?, more))
        })
        .await
}

/// An event as its organizers work on it: with its projects and the latest of its mail.
pub struct ForOrganizers {
    pub event: EventRow,
    pub projects: Vec<crate::db::projects::ProjectDetail>,
    /// The latest 5,000 messages the event caused, newest first.
    pub messages: Vec<crate::db::outbox::OutboxRow>,
    /// Whether anybody ever signed up (then it can be cancelled, no longer deleted).
    pub has_registrations: bool,
}

/// The event named `slug` as its organizers see it.
pub async fn for_organizers(service: &Service, slug: String) -> Result<ForOrganizers, AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            Ok(ForOrganizers {
                projects: crate::db::projects::details_for_event(conn, event.id)?,
                messages: crate::db::outbox::for_event(conn, event.id, 5000)?,
                has_registrations: events::has_registrations(conn, event.id)?,
                event,
            })
        })
        .await
}
