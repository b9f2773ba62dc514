//! The board's read model: every project's card (now/next lines, next slot, people checked
//! in) and the booked slots of an event, as the board page, its live stream and the API show
//! them.

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConn;
use crate::db::board::{self, SlotRow};
use crate::db::events::{self, EventRow};
use crate::db::projects::{self, ProjectRow};
use crate::domain::EventId;
use crate::domain::time::{instant_text, local_label, local_naive};
use crate::error::AppError;

/// One project's card on the board.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardCard {
    pub slug: String,
    pub name: String,
    /// Room or table.
    pub location: String,
    pub leads: Vec<String>,
    pub now: String,
    pub next: String,
    /// The project's next slot that has not ended, as "14:00–15:00 Room 2: title".
    pub next_slot: Option<String>,
    pub checked_in: i64,
    pub notes_url: Option<String>,
    /// When the now/next lines last changed (RFC 3339), if ever.
    pub updated_at: Option<String>,
}

/// A booked slot, as the board, the event page and the API show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlotBody {
    pub id: i64,
    pub project: String,
    pub project_name: String,
    pub title: String,
    pub room: String,
    /// RFC 3339 in UTC.
    pub starts_at: String,
    pub ends_at: String,
    /// "Sat 5 Dec 14:00–15:00" in the event's zone.
    pub when: String,
    /// The day it falls on, in the event's zone, for schedules grouped by day.
    pub day: String,
}

/// Everything the board shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardState {
    pub event: String,
    pub title: String,
    pub timezone: String,
    pub cards: Vec<BoardCard>,
    pub slots: Vec<SlotBody>,
}

pub fn slot_body(event: &EventRow, project: &ProjectRow, slot: &SlotRow) -> SlotBody {
    let end = local_naive(slot.ends_at, &event.timezone)
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default();
    SlotBody {
        id: slot.id,
        project: project.slug.clone(),
        project_name: project.name.clone(),
        title: slot.title.clone(),
        room: slot.room.clone(),
        starts_at: instant_text(slot.starts_at),
        ends_at: instant_text(slot.ends_at),
        when: format!("{}–{end}", local_label(slot.starts_at, &event.timezone)),
        day: local_naive(slot.starts_at, &event.timezone)
            .map(|t| t.format("%A %-d %B").to_string())
            .unwrap_or_default(),
    }
}

pub fn board_state(
    conn: &mut DbConn,
    event: &EventRow,
    now: NaiveDateTime,
) -> Result<BoardState, AppError> {
    let details = projects::details_for_event(conn, event.id)?;
    let counts = board::checked_in_counts(conn, event.id, now)?;
    let slots = board::slots_for_event(conn, event.id)?;
    let cards = details
        .iter()
        .map(|d| {
            let p = &d.project;
            let next_slot = slots
                .iter()
                .find(|s| s.project_id == p.id && s.ends_at > now)
                .map(|s| {
                    let b = slot_body(event, p, s);
                    format!("{} {}: {}", b.when, s.room, s.title)
                });
            BoardCard {
                slug: p.slug.clone(),
                name: p.name.clone(),
                location: p.location.clone(),
                leads: d.leads.iter().map(|l| l.name.clone()).collect(),
                now: p.now_line.clone(),
                next: p.next_line.clone(),
                next_slot,
                checked_in: counts
                    .iter()
                    .find(|(id, _)| *id == p.id)
                    .map_or(0, |(_, n)| *n),
                notes_url: p.notes_url.clone(),
                updated_at: p.board_updated_at.map(instant_text),
            }
        })
        .collect();
    let slots = slots
        .iter()
        .filter_map(|s| {
            let project = details.iter().find(|d| d.project.id == s.project_id)?;
            Some(slot_body(event, &project.project, s))
        })
        .collect();
    Ok(BoardState {
        event: event.slug.clone(),
        title: event.title.clone(),
        timezone: event.timezone.clone(),
        cards,
        slots,
    })
}

/// The board of an event by id, for the live hub.
pub fn board_state_by_id(
    conn: &mut DbConn,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<BoardState, AppError> {
    let event = events::find(conn, event_id)?;
    board_state(conn, &event, now)
}

/// The schedule of slots, grouped by day.
pub fn by_day(slots: &[SlotBody]) -> Vec<(String, Vec<SlotBody>)> {
    let mut days: Vec<(String, Vec<SlotBody>)> = Vec::new();
    for slot in slots {
        match days.last_mut() {
            Some((day, list)) if *day == slot.day => list.push(slot.clone()),
            _ => days.push((slot.day.clone(), vec![slot.clone()])),
        }
    }
    days
}
