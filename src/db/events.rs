//! Events: rows, inserts and updates, and the read models the API and pages list.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{events, registrations};
use super::{DbConn, is_unique_violation};
use crate::domain::seats::{Seat, seat_for_newcomer};
use crate::domain::{
    Capacity, EmailAddress, EventDraft, EventId, EventKind, EventStatus, EventWindow, Geo,
    LongText, RegistrationStatus, ReminderOffsets, SingleLine, Slug, WebUrl,
};
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: EventId,
    pub slug: String,
    pub kind: EventKind,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub timezone: String,
    pub all_day: bool,
    pub starts_local: NaiveDateTime,
    pub ends_local: NaiveDateTime,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub venue: String,
    pub address: String,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub going_count: i32,
    pub waitlist_seq: i64,
    pub signup_opens_at: Option<NaiveDateTime>,
    pub signup_closes_at: Option<NaiveDateTime>,
    pub status: EventStatus,
    pub revision: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Random and stable: the iCalendar UID, never derived from time or place.
    pub uid: String,
    /// The organizer's reminder offsets for this event (`24h,1h`); None: the service default.
    pub reminder_offsets: Option<String>,
    /// Who organizes it, as calendars name the ORGANIZER; empty and None: the site's sender.
    pub contact_name: String,
    pub contact_email: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// When it went public; None: a draft, seen by its organizers only.
    pub published_at: Option<NaiveDateTime>,
}

impl EventRow {
    pub fn window(&self) -> Result<EventWindow, AppError> {
        EventWindow::from_stored(
            &self.timezone,
            self.all_day,
            (self.starts_local, self.ends_local),
            (self.starts_at, self.ends_at),
        )
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "event {} has an unreadable window: {e}",
                self.slug
            ))
        })
    }

    pub fn status(&self) -> EventStatus {
        self.status
    }

    /// Not yet published: only its organizers see it, nobody can sign up, nothing is mailed.
    pub fn is_draft(&self) -> bool {
        self.published_at.is_none()
    }

    /// The event as the public may see it: a draft is not found.
    pub fn public(self) -> Result<Self, AppError> {
        if self.is_draft() {
            return Err(AppError::not_found(format!(
                "no event with the slug `{}`",
                self.slug
            )));
        }
        Ok(self)
    }

    pub fn capacity(&self) -> Capacity {
        Capacity::from_db(self.capacity)
    }

    /// Where it is on a map, when the organizer said.
    pub fn geo(&self) -> Option<Geo> {
        Geo::from_stored(self.latitude, self.longitude)
    }

    /// Who organizes it, for calendars: the contact when there is one.
    pub fn contact(&self) -> Option<(String, String)> {
        let email = self.contact_email.clone()?;
        let name = if self.contact_name.is_empty() {
            email.clone()
        } else {
            self.contact_name.clone()
        };
        Some((name, email))
    }

    /// The stored event as a draft, to apply a partial update to.
    pub fn to_draft(&self) -> Result<EventDraft, AppError> {
        let stored = |what: &str, e: String| {
            AppError::Internal(anyhow::anyhow!(
                "stored {what} of {} is invalid: {e}",
                self.slug
            ))
        };
        Ok(EventDraft {
            slug: Slug::parse(&self.slug).map_err(|e| stored("slug", e))?,
            kind: self.kind,
            title: SingleLine::parse_optional(&self.title, usize::MAX)
                .map_err(|e| stored("title", e))?,
            summary: SingleLine::parse_optional(&self.summary, usize::MAX)
                .map_err(|e| stored("summary", e))?,
            description: LongText::parse(&self.description, usize::MAX)
                .map_err(|e| stored("description", e))?,
            window: self.window()?,
            venue: SingleLine::parse_optional(&self.venue, usize::MAX)
                .map_err(|e| stored("venue", e))?,
            address: SingleLine::parse_optional(&self.address, usize::MAX)
                .map_err(|e| stored("address", e))?,
            online_url: self
                .online_url
                .as_deref()
                .map(WebUrl::parse)
                .transpose()
                .map_err(|e| stored("online_url", e))?,
            capacity: self.capacity(),
            signup_opens_at: self.signup_opens_at,
            signup_closes_at: self.signup_closes_at,
            reminder_offsets: self
                .reminder_offsets
                .as_deref()
                .and_then(|r| ReminderOffsets::parse(r).ok()),
            contact_name: SingleLine::parse_optional(&self.contact_name, usize::MAX)
                .map_err(|e| stored("contact_name", e))?,
            contact_email: self
                .contact_email
                .as_deref()
                .map(EmailAddress::parse)
                .transpose()
                .map_err(|e| stored("contact_email", e))?,
            geo: self.geo(),
        })
    }

    /// Why a signup cannot be taken now, if it cannot.
    pub fn signup_closed_reason(&self, now: NaiveDateTime) -> Option<&'static str> {
        if self.is_draft() {
            return Some("this event is not published yet");
        }
        if self.status() == EventStatus::Cancelled {
            return Some("this event has been cancelled");
        }
        if now >= self.ends_at {
            return Some("this event is over");
        }
        if self.signup_opens_at.is_some_and(|opens| now < opens) {
            return Some("signup for this event has not opened yet");
        }
        if self.signup_closes_at.is_some_and(|closes| now >= closes) {
            return Some("signup for this event has closed");
        }
        None
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = events, treat_none_as_null = true)]
struct EventColumns<'a> {
    slug: &'a str,
    kind: EventKind,
    title: &'a str,
    summary: &'a str,
    description: &'a str,
    timezone: &'a str,
    all_day: bool,
    starts_local: NaiveDateTime,
    ends_local: NaiveDateTime,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    venue: &'a str,
    address: &'a str,
    online_url: Option<&'a str>,
    capacity: Option<i32>,
    signup_opens_at: Option<NaiveDateTime>,
    signup_closes_at: Option<NaiveDateTime>,
    reminder_offsets: Option<String>,
    contact_name: &'a str,
    contact_email: Option<&'a str>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    updated_at: NaiveDateTime,
}

impl<'a> EventColumns<'a> {
    fn of(draft: &'a EventDraft, now: NaiveDateTime) -> Self {
        Self {
            slug: draft.slug.as_str(),
            kind: draft.kind,
            title: draft.title.as_str(),
            summary: draft.summary.as_str(),
            description: draft.description.as_str(),
            timezone: draft.window.timezone().as_str(),
            all_day: draft.window.all_day(),
            starts_local: draft.window.starts_local(),
            ends_local: draft.window.ends_local(),
            starts_at: draft.window.starts_at(),
            ends_at: draft.window.ends_at(),
            venue: draft.venue.as_str(),
            address: draft.address.as_str(),
            online_url: draft.online_url.as_ref().map(WebUrl::as_str),
            capacity: draft.capacity.as_db(),
            signup_opens_at: draft.signup_opens_at,
            signup_closes_at: draft.signup_closes_at,
            reminder_offsets: draft.reminder_offsets.as_ref().map(ToString::to_string),
            contact_name: draft.contact_name.as_str(),
            contact_email: draft.contact_email.as_ref().map(|e| e.as_str()),
            latitude: draft.geo.map(|g| g.latitude()),
            longitude: draft.geo.map(|g| g.longitude()),
            updated_at: now,
        }
    }
}

fn slug_taken(slug: &Slug) -> AppError {
    AppError::Invalid(crate::domain::Problems::single(
        "slug",
        format!("\"{slug}\" is taken by another event; choose another web address"),
    ))
}

/// Stores a new event, published at once or kept as a draft (`published` false).
pub fn insert(
    conn: &mut DbConn,
    draft: &EventDraft,
    published: bool,
    now: NaiveDateTime,
) -> Result<EventRow, AppError> {
    let result = diesel::insert_into(events::table)
        .values((
            EventColumns::of(draft, now),
            events::created_at.eq(now),
            events::published_at.eq(published.then_some(now)),
            events::uid.eq(uuid::Uuid::new_v4().simple().to_string()),
        ))
        .returning(events::id)
        .get_result::<EventId>(conn);
    match result {
        Err(e) if is_unique_violation(&e) => Err(slug_taken(&draft.slug)),
        other => find(conn, other?),
    }
}

/// Stores a new version of an event. A move in time or place raises the revision.
pub fn update(
    conn: &mut DbConn,
    current: &EventRow,
    next: &EventDraft,
    now: NaiveDateTime,
) -> Result<EventRow, AppError> {
    let moved = next.moves_from(&current.to_draft()?);
    let revision = current.revision + i32::from(moved);
    let result = diesel::update(events::table.find(current.id))
        .set((EventColumns::of(next, now), events::revision.eq(revision)))
        .execute(conn);
    match result {
        Err(e) if is_unique_violation(&e) => Err(slug_taken(&next.slug)),
        other => {
            other?;
            find(conn, current.id)
        }
    }
}

/// Marks an event cancelled, raising its revision.
pub fn mark_cancelled(
    conn: &mut DbConn,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(events::table.find(event_id))
        .set((
            events::status.eq(EventStatus::Cancelled),
            events::revision.eq(events::revision + 1),
            events::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Publishes a draft; an event already published keeps its time of publication.
pub fn mark_published(
    conn: &mut DbConn,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(events::table.find(event_id))
        .filter(events::published_at.is_null())
        .set((events::published_at.eq(now), events::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Whether anybody ever signed up for the event (cancelled registrations count: their
/// history would go with the event).
pub fn has_registrations(conn: &mut DbConn, event_id: EventId) -> Result<bool, AppError> {
    Ok(diesel::select(diesel::dsl::exists(
        registrations::table.filter(registrations::event_id.eq(event_id)),
    ))
    .get_result(conn)?)
}

/// Deletes an event with its projects, board and mail (callers check that nobody signed up).
pub fn delete(conn: &mut DbConn, event_id: EventId) -> Result<(), AppError> {
    diesel::delete(events::table.find(event_id)).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, event_id: EventId) -> Result<EventRow, AppError> {
    events::table
        .find(event_id)
        .select(EventRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such event"))
}

pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> Result<EventRow, AppError> {
    // Whatever a URL carries (NUL bytes included, which PostgreSQL refuses) is checked here
    // first: something that is not a slug names no event.
    if Slug::parse(slug).is_err() {
        return Err(AppError::not_found(format!(
            "no event with the slug `{}`",
            slug.escape_default()
        )));
    }
    events::table
        .filter(events::slug.eq(slug))
        .select(EventRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("no event with the slug `{slug}`")))
}

/// Which events a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Not yet over, soonest first.
    Upcoming,
    /// Over, most recent first.
    Past,
    /// Everything, soonest first.
    All,
}

pub fn list(
    conn: &mut DbConn,
    period: Period,
    filter: Filter,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<EventRow>, AppError> {
    list_from(conn, period, filter, now, (0, limit))
}

/// Which events of a period a list shows: of one kind or every kind, with drafts (for
/// organizers) or without.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub kind: Option<EventKind>,
    pub drafts: bool,
}

impl Filter {
    /// What the public sees: published events of `kind` (None: every kind).
    pub fn public(kind: Option<EventKind>) -> Self {
        Self {
            kind,
            drafts: false,
        }
    }

    /// What organizers see: every event, drafts too.
    pub fn organizers() -> Self {
        Self {
            kind: None,
            drafts: true,
        }
    }
}

/// The events of `list` from the `offset`-th on, at most `limit` of them: one page of a list.
pub fn list_from(
    conn: &mut DbConn,
    period: Period,
    filter: Filter,
    now: NaiveDateTime,
    (offset, limit): (i64, i64),
) -> Result<Vec<EventRow>, AppError> {
    let mut query = events::table.select(EventRow::as_select()).into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(events::kind.eq(kind));
    }
    if !filter.drafts {
        query = query.filter(events::published_at.is_not_null());
    }
    query = match period {
        Period::Upcoming => query
            .filter(events::ends_at.gt(now))
            .order((events::starts_at.asc(), events::id.asc())),
        Period::Past => query
            .filter(events::ends_at.le(now))
            .order((events::starts_at.desc(), events::id.desc())),
        Period::All => query.order((events::starts_at.asc(), events::id.asc())),
    };
    Ok(query.offset(offset).limit(limit).load(conn)?)
}

/// How many people wait for each of the given events.
pub fn waitlist_counts(
    conn: &mut DbConn,
    event_ids: &[EventId],
) -> Result<Vec<(EventId, i64)>, AppError> {
    Ok(registrations::table
        .filter(registrations::event_id.eq_any(event_ids))
        .filter(registrations::status.eq(RegistrationStatus::Waitlisted))
        .group_by(registrations::event_id)
        .select((registrations::event_id, diesel::dsl::count_star()))
        .load(conn)?)
}

/// An event and the size of its waitlist, as lists and pages show it.
#[derive(Debug, Clone)]
pub struct EventSummary {
    pub event: EventRow,
    pub waitlist_count: i64,
}

pub fn with_waitlists(
    conn: &mut DbConn,
    rows: Vec<EventRow>,
) -> Result<Vec<EventSummary>, AppError> {
    let ids: Vec<EventId> = rows.iter().map(|r| r.id).collect();
    let counts = waitlist_counts(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|event| {
            let waitlist_count = counts
                .iter()
                .find(|(id, _)| *id == event.id)
                .map_or(0, |(_, n)| *n);
            EventSummary {
                event,
                waitlist_count,
            }
        })
        .collect())
}

pub fn summary_by_slug(conn: &mut DbConn, slug: &str) -> Result<EventSummary, AppError> {
    let event = find_by_slug(conn, slug)?;
    Ok(with_waitlists(conn, vec![event])?.remove(0))
}

/// Scheduled events starting after `from` and no later than `to`.
pub fn starting_between(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<EventRow>, AppError> {
    Ok(events::table
        .filter(events::status.eq(EventStatus::Scheduled))
        .filter(events::published_at.is_not_null())
        .filter(events::starts_at.gt(from))
        .filter(events::starts_at.le(to))
        .select(EventRow::as_select())
        .load(conn)?)
}

/// The event named `slug`, locked for the rest of the transaction: every signup,
/// cancellation and capacity change of one event happens one after another. On PostgreSQL
/// that is a row lock taken by this very read; on SQLite the write transaction already holds
/// the database's write lock.
pub fn lock_by_slug(conn: &mut DbConn, slug: &str) -> Result<EventRow, AppError> {
    if Slug::parse(slug).is_err() {
        return Err(AppError::not_found(format!(
            "no event with the slug `{}`",
            slug.escape_default()
        )));
    }
    let query = events::table.filter(events::slug.eq(slug));
    let row = match conn {
        DbConn::Postgres(pg) => query
            .select(EventRow::as_select())
            .for_update()
            .get_result(pg)
            .optional()?,
        DbConn::Sqlite(_) => query
            .select(EventRow::as_select())
            .get_result(conn)
            .optional()?,
    };
    row.ok_or_else(|| AppError::not_found(format!("no event with the slug `{slug}`")))
}

/// Takes a seat, or a place at the end of the waitlist, for a newcomer; for someone already
/// registered (`newcomer` false) the same statement runs and changes nothing, so that both
/// take the same time.
pub fn take_place(
    conn: &mut DbConn,
    event: &EventRow,
    waiting: u32,
    newcomer: bool,
) -> Result<(Seat, Option<i64>), AppError> {
    let seat = seat_for_newcomer(
        event.capacity().limit(),
        event.going_count.max(0) as u32,
        waiting,
    );
    let (seats, places) = match (newcomer, seat) {
        (false, _) => (0, 0),
        (true, Seat::Going) => (1, 0),
        (true, Seat::Waitlisted) => (0, 1),
    };
    // The lock already serializes this; the guard in the WHERE clause makes the database
    // itself refuse an overbooking should that ever change.
    let taken: Option<i64> = diesel::update(events::table.find(event.id))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("")
                .bind::<diesel::sql_types::Integer, _>(seats)
                .sql(" = 0")
                .or(events::capacity.is_null())
                .or(events::going_count.lt(events::capacity.assume_not_null())),
        )
        .set((
            events::going_count.eq(events::going_count + seats),
            events::waitlist_seq.eq(events::waitlist_seq + i64::from(places)),
        ))
        .returning(events::waitlist_seq)
        .get_result(conn)
        .optional()?;
    let Some(seq) = taken else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "seat accounting of event {} is inconsistent",
            event.id
        )));
    };
    // A known address's insert does nothing, but its row must still pass the table's checks.
    Ok((seat, matches!(seat, Seat::Waitlisted).then_some(seq)))
}

/// Adds `n` (negative: takes) to the seats taken at an event.
pub fn add_going(conn: &mut DbConn, event_id: EventId, n: i32) -> Result<(), AppError> {
    diesel::update(events::table.find(event_id))
        .set(events::going_count.eq(events::going_count + n))
        .execute(conn)?;
    Ok(())
}
