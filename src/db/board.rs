//! The sprint board: each project's "now" and "next" lines, its leads' secret links, the room
//! slots it booked, and who is checked in at its table.

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::DbConn;
use super::events::EventRow;
use super::projects::ProjectRow;
use super::schema::{checkins, lead_links, project_leads, projects, slots};
use crate::domain::{EventId, Problems, ProjectId, RegistrationId};
use crate::error::AppError;
use crate::tokens::{self, SecretKey};

/// The PostgreSQL NOTIFY channel on which a board change reaches every instance.
pub const CHANNEL: &str = "convene_board";

const LEAD_PURPOSE: &str = "lead";
/// A check-in lasts this long at most (and never past the end of the event's local day).
pub const CHECKIN_HOURS: i64 = 4;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_links)]
pub struct LeadLinkRow {
    pub id: i64,
    pub project_id: ProjectId,
    pub email: String,
    pub email_normalized: String,
    pub name: String,
    pub nonce: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
}

impl LeadLinkRow {
    pub fn token(&self, key: &SecretKey) -> String {
        key.derive_token(LEAD_PURPOSE, &self.nonce)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = slots)]
pub struct SlotRow {
    pub id: i64,
    pub event_id: EventId,
    pub project_id: ProjectId,
    pub uid: String,
    pub title: String,
    pub room: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub revision: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The leads of a project with an address: (name, address, normalized address), in order.
pub fn leads_with_address(
    conn: &mut DbConn,
    project_id: ProjectId,
) -> Result<Vec<(String, String, String)>, AppError> {
    let leads: Vec<(String, Option<String>)> = project_leads::table
        .filter(project_leads::project_id.eq(project_id))
        .order(project_leads::position.asc())
        .select((project_leads::name, project_leads::email))
        .load(conn)?;
    Ok(leads
        .into_iter()
        .filter_map(|(name, email)| {
            let email = email?;
            let normalized = crate::domain::EmailAddress::parse(&email)
                .ok()?
                .normalized();
            Some((name, email, normalized))
        })
        .collect())
}

/// The lead links of a project.
pub fn lead_links_of(
    conn: &mut DbConn,
    project_id: ProjectId,
) -> Result<Vec<LeadLinkRow>, AppError> {
    Ok(lead_links::table
        .filter(lead_links::project_id.eq(project_id))
        .select(LeadLinkRow::as_select())
        .load(conn)?)
}

/// Revokes lead links.
pub fn delete_lead_links(conn: &mut DbConn, ids: &[i64]) -> Result<(), AppError> {
    diesel::delete(lead_links::table.filter(lead_links::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

/// Makes a new secret lead link for one lead of a project; returns its id.
pub fn insert_lead_link(
    conn: &mut DbConn,
    project_id: ProjectId,
    lead: (&str, &str, &str),
    key: &SecretKey,
    now: NaiveDateTime,
) -> Result<i64, AppError> {
    let (name, email, normalized) = lead;
    let nonce = tokens::random_nonce();
    let token = key.derive_token(LEAD_PURPOSE, &nonce);
    Ok(diesel::insert_into(lead_links::table)
        .values((
            lead_links::project_id.eq(project_id),
            lead_links::email.eq(email),
            lead_links::email_normalized.eq(normalized),
            lead_links::name.eq(name),
            lead_links::nonce.eq(&nonce),
            lead_links::token_hash.eq(tokens::token_hash(&token)),
            lead_links::created_at.eq(now),
        ))
        .returning(lead_links::id)
        .get_result(conn)?)
}

pub fn find_lead_link(conn: &mut DbConn, id: i64) -> Result<LeadLinkRow, AppError> {
    Ok(lead_links::table
        .find(id)
        .select(LeadLinkRow::as_select())
        .get_result(conn)?)
}

/// The lead link behind `token` and its project; an unknown token is a 404 like any other.
pub fn lead_by_token(
    conn: &mut DbConn,
    token: &str,
) -> Result<(LeadLinkRow, ProjectRow), AppError> {
    let not_found = || AppError::not_found("no lead link like this");
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    let link: LeadLinkRow = lead_links::table
        .filter(lead_links::token_hash.eq(tokens::token_hash(token)))
        .select(LeadLinkRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(not_found)?;
    let project = super::projects::find(conn, link.project_id)?;
    Ok((link, project))
}

/// Sets what a project is doing now and next. Does not touch the project's own `updated_at`:
/// the board changes many times a day, its calendar feed should not.
pub fn set_lines(
    conn: &mut DbConn,
    project_id: ProjectId,
    now_line: &str,
    next_line: &str,
    now: NaiveDateTime,
) -> Result<ProjectRow, AppError> {
    diesel::update(projects::table.find(project_id))
        .set((
            projects::now_line.eq(now_line),
            projects::next_line.eq(next_line),
            projects::board_updated_at.eq(Some(now)),
        ))
        .execute(conn)?;
    super::projects::find(conn, project_id)
}

/// A slot as asked for: validated against the event and the other bookings of its room.
pub struct SlotDraft {
    pub title: String,
    pub room: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

/// Whether the slot fits the event and its room is free; the problems name the fields.
pub fn check_slot(
    conn: &mut DbConn,
    event: &EventRow,
    draft: &SlotDraft,
    ignore: Option<i64>,
) -> Result<(), AppError> {
    let mut problems = Problems::default();
    if draft.ends_at <= draft.starts_at {
        problems.add("ends_at", "must be after the start");
    }
    if draft.starts_at < event.starts_at || draft.ends_at > event.ends_at {
        problems.add("starts_at", "the slot must lie within the event's time");
    }
    if problems.is_empty() {
        let clash: Option<SlotRow> = slots::table
            .filter(slots::event_id.eq(event.id))
            .filter(slots::room.eq(&draft.room))
            .filter(slots::starts_at.lt(draft.ends_at))
            .filter(slots::ends_at.gt(draft.starts_at))
            .filter(slots::id.ne(ignore.unwrap_or(0)))
            .select(SlotRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(other) = clash {
            problems.add(
                "room",
                format!("{} is booked then by “{}”", draft.room, other.title),
            );
        }
    }
    problems.finish().map_err(AppError::Invalid)
}

pub fn create_slot(
    conn: &mut DbConn,
    event: &EventRow,
    project_id: ProjectId,
    draft: &SlotDraft,
    now: NaiveDateTime,
) -> Result<SlotRow, AppError> {
    check_slot(conn, event, draft, None)?;
    Ok(diesel::insert_into(slots::table)
        .values((
            slots::event_id.eq(event.id),
            slots::project_id.eq(project_id),
            slots::uid.eq(uuid::Uuid::new_v4().simple().to_string()),
            slots::title.eq(&draft.title),
            slots::room.eq(&draft.room),
            slots::starts_at.eq(draft.starts_at),
            slots::ends_at.eq(draft.ends_at),
            slots::created_at.eq(now),
            slots::updated_at.eq(now),
        ))
        .returning(slots::id)
        .get_result::<i64>(conn)
        .and_then(|id| {
            slots::table
                .find(id)
                .select(SlotRow::as_select())
                .get_result(conn)
        })?)
}

pub fn find_slot(
    conn: &mut DbConn,
    project_id: ProjectId,
    slot_id: i64,
) -> Result<SlotRow, AppError> {
    slots::table
        .filter(slots::id.eq(slot_id))
        .filter(slots::project_id.eq(project_id))
        .select(SlotRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("this project has no such slot"))
}

/// Moves or renames a slot; a move (`moved`) raises its revision.
pub fn update_slot(
    conn: &mut DbConn,
    event: &EventRow,
    current: &SlotRow,
    draft: &SlotDraft,
    moved: bool,
    now: NaiveDateTime,
) -> Result<SlotRow, AppError> {
    check_slot(conn, event, draft, Some(current.id))?;
    diesel::update(slots::table.find(current.id))
        .set((
            slots::title.eq(&draft.title),
            slots::room.eq(&draft.room),
            slots::starts_at.eq(draft.starts_at),
            slots::ends_at.eq(draft.ends_at),
            slots::revision.eq(current.revision + i32::from(moved)),
            slots::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(slots::table
        .find(current.id)
        .select(SlotRow::as_select())
        .get_result(conn)?)
}

pub fn delete_slot(conn: &mut DbConn, slot_id: i64) -> Result<(), AppError> {
    diesel::delete(slots::table.find(slot_id)).execute(conn)?;
    Ok(())
}

pub fn slots_for_event(conn: &mut DbConn, event_id: EventId) -> Result<Vec<SlotRow>, AppError> {
    Ok(slots::table
        .filter(slots::event_id.eq(event_id))
        .order((slots::starts_at.asc(), slots::id.asc()))
        .select(SlotRow::as_select())
        .load(conn)?)
}

pub fn slots_for_project(
    conn: &mut DbConn,
    project_id: ProjectId,
) -> Result<Vec<SlotRow>, AppError> {
    Ok(slots::table
        .filter(slots::project_id.eq(project_id))
        .order((slots::starts_at.asc(), slots::id.asc()))
        .select(SlotRow::as_select())
        .load(conn)?)
}

pub fn find_slot_by_id(conn: &mut DbConn, slot_id: i64) -> Result<Option<SlotRow>, AppError> {
    Ok(slots::table
        .find(slot_id)
        .select(SlotRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// When a check-in made at `now` ends by itself: after `CHECKIN_HOURS`, or at midnight in the
/// event's zone, whichever comes first.
pub fn checkin_expiry(now: NaiveDateTime, timezone: &str) -> NaiveDateTime {
    let later = now + Duration::hours(CHECKIN_HOURS);
    match crate::domain::time::next_local_midnight(now, timezone) {
        Some(midnight) => later.min(midnight),
        None => later,
    }
}

/// Checks a registration in at one project's table (and out of any other).
pub fn check_in(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    project_id: ProjectId,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    check_out(conn, registration_id, now)?;
    diesel::insert_into(checkins::table)
        .values((
            checkins::registration_id.eq(registration_id),
            checkins::project_id.eq(project_id),
            checkins::checked_in_at.eq(now),
            checkins::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends the registration's current check-in, if any; returns whether there was one.
pub fn check_out(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let n = diesel::update(
        checkins::table
            .filter(checkins::registration_id.eq(registration_id))
            .filter(checkins::checked_out_at.is_null())
            .filter(checkins::expires_at.gt(now)),
    )
    .set(checkins::checked_out_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n > 0)
}

/// The project a registration is checked in at now, if any.
pub fn current_checkin(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    now: NaiveDateTime,
) -> Result<Option<ProjectId>, AppError> {
    Ok(checkins::table
        .filter(checkins::registration_id.eq(registration_id))
        .filter(checkins::checked_out_at.is_null())
        .filter(checkins::expires_at.gt(now))
        .select(checkins::project_id)
        .first(conn)
        .optional()?)
}

/// People checked in now, per project of the event.
pub fn checked_in_counts(
    conn: &mut DbConn,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<Vec<(ProjectId, i64)>, AppError> {
    Ok(checkins::table
        .inner_join(projects::table)
        .filter(projects::event_id.eq(event_id))
        .filter(checkins::checked_out_at.is_null())
        .filter(checkins::expires_at.gt(now))
        .group_by(checkins::project_id)
        .select((checkins::project_id, count_star()))
        .load(conn)?)
}

/// Tells every instance that the event's board changed, when the transaction commits
/// (PostgreSQL `NOTIFY`; on SQLite the one instance knows already).
pub fn notify(conn: &mut DbConn, event_id: EventId) -> Result<(), AppError> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(event_id.to_string())
            .execute(pg)?;
    }
    Ok(())
}
