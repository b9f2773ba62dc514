//! Writing on the sprint board: a project's now/next lines, the slots it books, and people
//! checking in at its table. Each write marks the board changed, so every open board shows it
//! at once; a slot that moves is mailed to the people going who joined the project.

use chrono::NaiveDateTime;

use super::Service;
use super::registrations::notify_all;
use crate::board::{BoardState, board_state};
use crate::db::board::{self, SlotDraft, SlotRow};
use crate::db::events::{self, EventRow};
use crate::db::projects::{self, ProjectRow};
use crate::db::registrations;
use crate::domain::notice::Change;
use crate::domain::time::{local_label, parse_in_zone};
use crate::domain::{Notice, Problems, ProjectId, RegistrationStatus, SingleLine};
use crate::error::AppError;

/// The board of the event named `slug`, as it is now.
pub async fn get(service: &Service, slug: String) -> Result<(EventRow, BoardState), AppError> {
    let now = service.clock.now();
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?.public()?;
            let board = board_state(conn, &event, now)?;
            Ok((event, board))
        })
        .await
}

/// The event and project named `slug` and `project`.
pub async fn project(
    service: &Service,
    slug: String,
    project: String,
) -> Result<(EventRow, ProjectRow), AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let project = projects::find_by_slug(conn, event.id, &project)?;
            Ok((event, project))
        })
        .await
}

/// A "now" and a "next" line: one line each, at most 200 characters, empty to clear.
pub fn lines(now: &str, next: &str) -> Result<(String, String), Problems> {
    let mut problems = Problems::new();
    let now = problems.check("now", SingleLine::parse_optional(now, 200));
    let next = problems.check("next", SingleLine::parse_optional(next, 200));
    problems.finish()?;
    let text = |line: Option<SingleLine>| line.map(|l| l.as_str().to_owned()).unwrap_or_default();
    Ok((text(now), text(next)))
}

/// Sets a project's now/next lines.
pub async fn set_lines(
    service: &Service,
    project: &ProjectRow,
    lines: (String, String),
) -> Result<(), AppError> {
    let (event_id, project_id, now) = (project.event_id, project.id, service.clock.now());
    service
        .write_grouped(move |conn, fx| {
            board::set_lines(conn, project_id, &lines.0, &lines.1, now)?;
            fx.board(conn, event_id)
        })
        .await
}

/// A slot as a lead types it: times are RFC 3339 or local to the event's zone.
pub fn slot_draft(
    event: &EventRow,
    title: &str,
    room: &str,
    starts_at: &str,
    ends_at: &str,
) -> Result<SlotDraft, Problems> {
    let mut p = Problems::new();
    let title = p.check("title", SingleLine::parse(title, 120));
    let room = p.check("room", SingleLine::parse(room, 80));
    let starts_at = p.check("starts_at", parse_in_zone(starts_at, &event.timezone));
    let ends_at = p.check("ends_at", parse_in_zone(ends_at, &event.timezone));
    p.finish()?;
    match (title, room, starts_at, ends_at) {
        (Some(title), Some(room), Some(starts_at), Some(ends_at)) => Ok(SlotDraft {
            title: title.as_str().to_owned(),
            room: room.as_str().to_owned(),
            starts_at,
            ends_at,
        }),
        _ => Err(Problems::single("title", "could not be read")),
    }
}

/// Books a new slot (`slot_id` None) or moves/renames one of the project's slots. A move in
/// time or room is mailed to the people going who joined the project.
pub async fn save_slot(
    service: &Service,
    event: EventRow,
    project: ProjectRow,
    slot_id: Option<i64>,
    draft: SlotDraft,
) -> Result<SlotRow, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, fx| {
            let row = match slot_id {
                Some(id) => {
                    let current = board::find_slot(conn, project.id, id)?;
                    let changes = slot_changes(&event, &current, &draft);
                    let row = board::update_slot(
                        conn,
                        &event,
                        &current,
                        &draft,
                        !changes.is_empty(),
                        now,
                    )?;
                    if !changes.is_empty() {
                        let people = registrations::going_in_project(conn, project.id)?;
                        let notice = Notice::SlotMoved {
                            slot_id: row.id,
                            changes,
                        };
                        notify_all(conn, fx, &people, &notice, now)?;
                    }
                    row
                }
                None => board::create_slot(conn, &event, project.id, &draft, now)?,
            };
            fx.board(conn, event.id)?;
            Ok(row)
        })
        .await
}

/// What a slot's change moves, as the slot-moved mail lists it (nothing for a new title).
fn slot_changes(event: &EventRow, current: &SlotRow, draft: &SlotDraft) -> Vec<Change> {
    let mut changes = Vec::new();
    let local = |t: NaiveDateTime| local_label(t, &event.timezone);
    if (current.starts_at, current.ends_at) != (draft.starts_at, draft.ends_at) {
        changes.push(Change {
            what: "time".into(),
            before: format!("{} – {}", local(current.starts_at), local(current.ends_at)),
            after: format!("{} – {}", local(draft.starts_at), local(draft.ends_at)),
        });
    }
    if current.room != draft.room {
        changes.push(Change {
            what: "room".into(),
            before: current.room.clone(),
            after: draft.room.clone(),
        });
    }
    changes
}

/// Removes one of the project's slots.
pub async fn remove_slot(
    service: &Service,
    project: &ProjectRow,
    slot_id: i64,
) -> Result<(), AppError> {
    let (event_id, project_id) = (project.event_id, project.id);
    service
        .write(move |conn, fx| {
            board::find_slot(conn, project_id, slot_id)?;
            board::delete_slot(conn, slot_id)?;
            fx.board(conn, event_id)
        })
        .await
}

/// Checks the registration behind a manage `token` in at `project` (None: out). Only people
/// going can; a project the event does not have is a field error.
pub async fn set_checkin(
    service: &Service,
    token: String,
    project: Option<String>,
) -> Result<(), AppError> {
    let now = service.clock.now();
    service
        .write_grouped(move |conn, fx| {
            let registration = registrations::find_by_token(conn, &token)?;
            if registration.status() != RegistrationStatus::Going {
                return Err(AppError::Conflict(
                    "only people going to the event can check in".into(),
                ));
            }
            let event = events::find(conn, registration.event_id)?;
            match &project {
                Some(slug) => {
                    if let Some(reason) = crate::domain::seats::check_in_closed_reason(
                        event.starts_at,
                        event.ends_at,
                        now,
                    ) {
                        return Err(AppError::Conflict(reason.into()));
                    }
                    let project = projects::find_by_slug(conn, event.id, slug).map_err(|_| {
                        AppError::Invalid(Problems::single(
                            "project",
                            format!("the event has no project `{}`", slug.escape_default()),
                        ))
                    })?;
                    let expires = board::checkin_expiry(now, &event.timezone);
                    board::check_in(conn, registration.id, project.id, expires, now)?;
                }
                None => {
                    board::check_out(conn, registration.id, now)?;
                }
            }
            fx.board(conn, event.id)
        })
        .await
}

/// What a lead's secret link opens: the link, its project and event, and the project's slots.
pub async fn lead(
    service: &Service,
    token: String,
) -> Result<(board::LeadLinkRow, ProjectRow, EventRow, Vec<SlotRow>), AppError> {
    service
        .read(move |conn| {
            let (link, project) = board::lead_by_token(conn, &token)?;
            let event = events::find(conn, project.event_id)?;
            let slots = board::slots_for_project(conn, project.id)?;
            Ok((link, project, event, slots))
        })
        .await
}

/// The event and project a lead's secret link is for.
pub async fn lead_target(
    service: &Service,
    token: String,
) -> Result<(EventRow, ProjectRow), AppError> {
    service
        .read(move |conn| {
            let (_, project) = board::lead_by_token(conn, &token)?;
            let event = events::find(conn, project.event_id)?;
            Ok((event, project))
        })
        .await
}

/// Whether a lead's token may write on `project_id`'s board: `Forbidden` for another
/// project's link, `Unauthorized` for no link at all.
pub async fn lead_may_write(
    service: &Service,
    token: String,
    project_id: ProjectId,
) -> Result<(), AppError> {
    service
        .read(move |conn| match board::lead_by_token(conn, &token) {
            Ok((link, _)) if link.project_id == project_id => Ok(()),
            Ok(_) => Err(AppError::Forbidden(
                "this lead link is for another project".into(),
            )),
            Err(AppError::NotFound(_)) => Err(AppError::Unauthorized),
            Err(e) => Err(e),
        })
        .await
}

/// Watches the board of the event named `slug`: its state now, and every later state (JSON)
/// as the hub sends it. Subscribed before the first read, so no change falls between the two.
pub async fn watch(
    service: &Service,
    slug: String,
) -> Result<
    (
        BoardState,
        tokio::sync::broadcast::Receiver<std::sync::Arc<str>>,
    ),
    AppError,
> {
    let hub = service
        .board
        .clone()
        .ok_or_else(|| AppError::unavailable("this process serves no live boards"))?;
    let event = service
        .read(move |conn| events::find_by_slug(conn, &slug)?.public())
        .await?;
    let updates = hub.subscribe(event.id);
    let now = service.clock.now();
    let first = service
        .read(move |conn| board_state(conn, &event, now))
        .await?;
    Ok((first, updates))
}
