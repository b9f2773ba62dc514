//! The sprint board: `/events/{slug}/board` (a page, a signage view and a live SSE stream),
//! the JSON API for now/next lines, slots and check-in, and the project leads' secret page.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::State;
use super::site::{HtmlForm, PageError, check_csrf, csrf_token, render, see_other, with_cookie};
use crate::db::board::{self, SlotDraft, SlotRow};
use crate::db::events::{self, EventRow};
use crate::db::projects::{self, ProjectRow};
use crate::db::{DbConn, registrations};
use crate::domain::time::{instant_text, local_label, local_naive, parse_in_zone};
use crate::domain::{Problems, RegistrationStatus, SingleLine};
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

fn board_state(
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
    event_id: i64,
    now: NaiveDateTime,
) -> Result<BoardState, AppError> {
    let event = events::find(conn, event_id)?;
    board_state(conn, &event, now)
}

async fn load_board(state: &State, slug: String) -> Result<(EventRow, BoardState), AppError> {
    let now = state.clock.now();
    state
        .db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let board = board_state(conn, &event, now)?;
            Ok((event, board))
        })
        .await
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    board: BoardState,
    signage: bool,
    days: Vec<(String, Vec<SlotBody>)>,
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

#[derive(Deserialize)]
pub struct BoardQuery {
    view: Option<String>,
}

/// `/events/{slug}/board`: every project's card; `?view=signage` for a screen by the door.
pub async fn page(
    state: State,
    slug: web::Path<String>,
    query: web::Query<BoardQuery>,
) -> Result<HttpResponse, PageError> {
    let (_, board) = load_board(&state, slug.into_inner()).await?;
    let days = by_day(&board.slots);
    render(
        StatusCode::OK,
        &BoardPage {
            board,
            signage: query.view.as_deref() == Some("signage"),
            days,
        },
    )
}

/// `/events/{slug}/board/stream`: Server-Sent Events, one `board` event with the whole state
/// now and after every change, and a comment every 20 s to keep proxies from closing it.
pub async fn stream(state: State, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let event = {
        let slug = slug.clone();
        state
            .db
            .read(move |conn| events::find_by_slug(conn, &slug))
            .await?
    };
    // Subscribed before the first read, so no change falls between the two.
    let updates = state.board.subscribe(event.id);
    let now = state.clock.now();
    let first = state
        .db
        .read(move |conn| board_state(conn, &event, now))
        .await?;
    let first: Arc<str> =
        Arc::from(serde_json::to_string(&first).map_err(|e| AppError::Internal(e.into()))?);
    let stopping = state.stopping.subscribe();
    if *stopping.borrow() {
        return Err(AppError::unavailable("the server is stopping"));
    }
    let body = futures::stream::unfold(
        (Some(first), updates, stopping),
        |(pending, mut updates, mut stopping)| async move {
            if let Some(json) = pending {
                return Some((
                    Ok::<_, actix_web::Error>(sse(&json)),
                    (None, updates, stopping),
                ));
            }
            loop {
                let step = tokio::select! {
                    // The server is stopping: end the stream (clients reconnect elsewhere).
                    _ = stopping.wait_for(|s| *s) => None,
                    next = tokio::time::timeout(Duration::from_secs(20), updates.recv()) => match next {
                        Ok(Ok(json)) => Some(Some(sse(&json))),
                        // Fell behind: the next message is the latest state anyway.
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => Some(None),
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => None,
                        Err(_) => Some(Some(Bytes::from_static(b": keepalive\n\n"))),
                    },
                };
                match step {
                    None => return None,
                    Some(None) => continue,
                    Some(Some(bytes)) => return Some((Ok(bytes), (None, updates, stopping))),
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

fn sse(json: &str) -> Bytes {
    Bytes::from(format!("event: board\ndata: {json}\n\n"))
}

#[utoipa::path(get, path = "/api/v1/events/{slug}/board", tag = "board", params(("slug" = String, Path)),
    responses((status = 200, body = BoardState), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_board(state: State, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, board) = load_board(&state, slug.into_inner()).await?;
    Ok(HttpResponse::Ok().json(board))
}

/// Who may write on a project's board: an organizer's API token, or the project's own lead
/// link token, as `Authorization: Bearer`.
async fn authorize_writer(
    req: &HttpRequest,
    state: &State,
    project_id: i64,
) -> Result<(), AppError> {
    let token = super::auth::bearer_token(req).ok_or(AppError::Unauthorized)?;
    if super::auth::organizer_by_token(state, token.clone())
        .await?
        .is_some()
    {
        return Ok(());
    }
    state
        .db
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

async fn find_project(
    state: &State,
    slug: String,
    project: String,
) -> Result<(EventRow, ProjectRow), AppError> {
    state
        .db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let project = projects::find_by_slug(conn, event.id, &project)?;
            Ok((event, project))
        })
        .await
}

/// The event and project named in the path, once the caller is shown to be allowed to write
/// on the project's board.
async fn writable_project(
    req: &HttpRequest,
    state: &State,
    slug: String,
    project: String,
) -> Result<(EventRow, ProjectRow), AppError> {
    let (event, project) = find_project(state, slug, project).await?;
    authorize_writer(req, state, project.id).await?;
    Ok((event, project))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinesInput {
    /// What the project is doing now (empty clears it).
    #[serde(default)]
    pub now: String,
    /// What comes next (empty clears it).
    #[serde(default)]
    pub next: String,
}

/// A "now" and a "next" line: one line each, at most 200 characters, empty to clear.
fn clean_lines(now: &str, next: &str) -> Result<(String, String), AppError> {
    let mut problems = Problems::new();
    let now = problems.check("now", SingleLine::parse_optional(now, 200));
    let next = problems.check("next", SingleLine::parse_optional(next, 200));
    problems.finish().map_err(AppError::Invalid)?;
    let text = |line: Option<SingleLine>| line.map(|l| l.as_str().to_owned()).unwrap_or_default();
    Ok((text(now), text(next)))
}

async fn write_lines(
    state: &State,
    event_id: i64,
    project_id: i64,
    now_line: String,
    next_line: String,
) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .write(move |conn| {
            board::set_lines(conn, project_id, &now_line, &next_line, now)?;
            board::notify(conn, event_id)
        })
        .await?;
    state.board.changed(event_id);
    Ok(())
}

#[utoipa::path(put, path = "/api/v1/events/{slug}/projects/{project}/board", tag = "board", params(("slug" = String, Path), ("project" = String, Path)), request_body = LinesInput,
    security(("bearer" = [])),
    responses((status = 200, body = BoardCard), (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 403, description = "A lead link of another project", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_lines(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
    input: web::Json<LinesInput>,
) -> Result<HttpResponse, AppError> {
    let (slug, project) = path.into_inner();
    let (event, project) = writable_project(&req, &state, slug.clone(), project).await?;
    let (now_line, next_line) = clean_lines(&input.now, &input.next)?;
    write_lines(&state, event.id, project.id, now_line, next_line).await?;
    let (_, board) = load_board(&state, slug).await?;
    let card = board
        .cards
        .into_iter()
        .find(|c| c.slug == project.slug)
        .ok_or_else(|| AppError::not_found("the project is gone"))?;
    Ok(HttpResponse::Ok().json(card))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotInput {
    pub title: String,
    pub room: String,
    /// RFC 3339, or a local date-time in the event's zone (`2027-03-06T14:00`).
    pub starts_at: String,
    pub ends_at: String,
}

fn slot_draft(event: &EventRow, input: &SlotInput) -> Result<SlotDraft, AppError> {
    let mut p = Problems::new();
    let title = p.check("title", SingleLine::parse(&input.title, 120));
    let room = p.check("room", SingleLine::parse(&input.room, 80));
    let starts_at = p.check(
        "starts_at",
        parse_in_zone(&input.starts_at, &event.timezone),
    );
    let ends_at = p.check("ends_at", parse_in_zone(&input.ends_at, &event.timezone));
    p.finish().map_err(AppError::Invalid)?;
    match (title, room, starts_at, ends_at) {
        (Some(title), Some(room), Some(starts_at), Some(ends_at)) => Ok(SlotDraft {
            title: title.as_str().to_owned(),
            room: room.as_str().to_owned(),
            starts_at,
            ends_at,
        }),
        _ => Err(AppError::Invalid(Problems::single(
            "title",
            "could not be read",
        ))),
    }
}

#[utoipa::path(get, path = "/api/v1/events/{slug}/slots", tag = "board", params(("slug" = String, Path)),
    responses((status = 200, body = [SlotBody]), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_slots(state: State, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, board) = load_board(&state, slug.into_inner()).await?;
    Ok(HttpResponse::Ok().json(board.slots))
}

async fn save_slot(
    state: &State,
    event: EventRow,
    project: ProjectRow,
    slot_id: Option<i64>,
    draft: SlotDraft,
) -> Result<SlotBody, AppError> {
    let now = state.clock.now();
    let (event_id, event_for_body, project_for_body) = (event.id, event.clone(), project.clone());
    let row = state
        .db
        .write(move |conn| {
            let row = match slot_id {
                Some(id) => {
                    let current = board::find_slot(conn, project.id, id)?;
                    board::update_slot(conn, &event, &current, &draft, now)?
                }
                None => board::create_slot(conn, &event, project.id, &draft, now)?,
            };
            board::notify(conn, event.id)?;
            Ok(row)
        })
        .await?;
    state.board.changed(event_id);
    state.outbox_wake.notify_one();
    Ok(slot_body(&event_for_body, &project_for_body, &row))
}

#[utoipa::path(post, path = "/api/v1/events/{slug}/projects/{project}/slots", tag = "board", params(("slug" = String, Path), ("project" = String, Path)), request_body = SlotInput,
    security(("bearer" = [])),
    responses((status = 201, body = SlotBody), (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 403, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, description = "Invalid fields, outside the event, or the room is taken", body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn create_slot(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
    input: web::Json<SlotInput>,
) -> Result<HttpResponse, AppError> {
    let (slug, project) = path.into_inner();
    let (event, project) = writable_project(&req, &state, slug, project).await?;
    let draft = slot_draft(&event, &input)?;
    let body = save_slot(&state, event, project, None, draft).await?;
    Ok(HttpResponse::Created().json(body))
}

#[utoipa::path(patch, path = "/api/v1/events/{slug}/projects/{project}/slots/{id}", tag = "board", params(("slug" = String, Path), ("project" = String, Path), ("id" = i64, Path)), request_body = SlotInput,
    security(("bearer" = [])),
    responses((status = 200, description = "Moved or renamed; a move mails the people going who joined the project", body = SlotBody),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn update_slot(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String, i64)>,
    input: web::Json<SlotInput>,
) -> Result<HttpResponse, AppError> {
    let (slug, project, id) = path.into_inner();
    let (event, project) = writable_project(&req, &state, slug, project).await?;
    let draft = slot_draft(&event, &input)?;
    let body = save_slot(&state, event, project, Some(id), draft).await?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(delete, path = "/api/v1/events/{slug}/projects/{project}/slots/{id}", tag = "board", params(("slug" = String, Path), ("project" = String, Path), ("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn delete_slot(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (slug, project, id) = path.into_inner();
    let (event, project) = writable_project(&req, &state, slug, project).await?;
    remove_slot(&state, event.id, project.id, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove_slot(
    state: &State,
    event_id: i64,
    project_id: i64,
    slot_id: i64,
) -> Result<(), AppError> {
    state
        .db
        .write(move |conn| {
            board::find_slot(conn, project_id, slot_id)?;
            board::delete_slot(conn, slot_id)?;
            board::notify(conn, event_id)
        })
        .await?;
    state.board.changed(event_id);
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinInput {
    /// The slug of the project whose table you are at.
    pub project: String,
}

/// Checks the registration behind `token` in at `project` (None: out). Only people going.
async fn set_checkin(
    state: &State,
    token: String,
    project: Option<String>,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let event_id = state
        .db
        .write(move |conn| {
            let registration = registrations::find_by_token(conn, &token)?;
            if registration.status() != RegistrationStatus::Going {
                return Err(AppError::Conflict(
                    "only people going to the event can check in".into(),
                ));
            }
            let event = events::find(conn, registration.event_id)?;
            match project {
                Some(slug) => {
                    let project = projects::find_by_slug(conn, event.id, &slug).map_err(|_| {
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
            board::notify(conn, event.id)?;
            Ok(event.id)
        })
        .await?;
    state.board.changed(event_id);
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/registrations/{token}/checkin", tag = "board", params(("token" = String, Path)), request_body = CheckinInput,
    responses((status = 204, description = "Checked in (and out of any other table); it ends by itself after 4 hours or at midnight"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 409, description = "Not going", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn api_checkin(
    state: State,
    token: web::Path<String>,
    input: web::Json<CheckinInput>,
) -> Result<HttpResponse, AppError> {
    set_checkin(&state, token.into_inner(), Some(input.into_inner().project)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/registrations/{token}/checkout", tag = "board", params(("token" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn api_checkout(
    state: State,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    set_checkin(&state, token.into_inner(), None).await?;
    Ok(HttpResponse::NoContent().finish())
}

// --- pages: check-in from the manage page, and the lead's page ---

#[derive(Deserialize)]
pub struct CheckinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    project: String,
}

async fn manage_checkin_form(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<CheckinForm>,
    checking_in: bool,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    let project = checking_in.then_some(form.0.project);
    set_checkin(&state, token.clone(), project).await?;
    let done = if checking_in { "checkin" } else { "checkout" };
    Ok(see_other(&format!("/manage/{token}?done={done}")))
}

pub async fn manage_checkin(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<CheckinForm>,
) -> Result<HttpResponse, PageError> {
    manage_checkin_form(req, state, token, form, true).await
}

pub async fn manage_checkout(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<CheckinForm>,
) -> Result<HttpResponse, PageError> {
    manage_checkin_form(req, state, token, form, false).await
}

#[derive(Template)]
#[template(path = "lead.html")]
struct LeadPage {
    token: String,
    csrf: String,
    lead: String,
    event_slug: String,
    event_title: String,
    timezone: String,
    project: String,
    now_line: String,
    next_line: String,
    slots: Vec<SlotBody>,
    form: SlotFormValues,
    problems: Vec<crate::domain::FieldProblem>,
    flash: Option<&'static str>,
}

#[derive(Default, Deserialize)]
pub struct SlotFormValues {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
}

#[derive(Deserialize)]
pub struct LeadQuery {
    done: Option<String>,
}

async fn lead_page(
    req: &HttpRequest,
    state: &State,
    token: String,
    form: SlotFormValues,
    problems: Vec<crate::domain::FieldProblem>,
    flash: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let lookup = token.clone();
    let (link, project, event, slots) = state
        .db
        .read(move |conn| {
            let (link, project) = board::lead_by_token(conn, &lookup)?;
            let event = events::find(conn, project.event_id)?;
            let slots = board::slots_for_project(conn, project.id)?;
            Ok((link, project, event, slots))
        })
        .await?;
    let (csrf, cookie) = csrf_token(req, &state.links);
    let page = LeadPage {
        token,
        csrf,
        lead: link.name.clone(),
        event_slug: event.slug.clone(),
        event_title: event.title.clone(),
        timezone: event.timezone.clone(),
        project: project.name.clone(),
        now_line: project.now_line.clone(),
        next_line: project.next_line.clone(),
        slots: slots
            .iter()
            .map(|s| slot_body(&event, &project, s))
            .collect(),
        form,
        problems,
        flash,
    };
    let mut response = with_cookie(render(status, &page)?, cookie);
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn lead(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    query: web::Query<LeadQuery>,
) -> Result<HttpResponse, PageError> {
    let flash = match query.done.as_deref() {
        Some("board") => Some("The board is updated."),
        Some("slot") => Some("The slot is booked."),
        Some("deleted") => Some("The slot is removed."),
        _ => None,
    };
    lead_page(
        &req,
        &state,
        token.into_inner(),
        SlotFormValues::default(),
        Vec::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct LinesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    now: String,
    #[serde(default)]
    next: String,
}

async fn lead_target(state: &State, token: String) -> Result<(EventRow, ProjectRow), AppError> {
    state
        .db
        .read(move |conn| {
            let (_, project) = board::lead_by_token(conn, &token)?;
            let event = events::find(conn, project.event_id)?;
            Ok((event, project))
        })
        .await
}

pub async fn lead_lines(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<LinesForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    let (event, project) = lead_target(&state, token.clone()).await?;
    match clean_lines(&form.0.now, &form.0.next) {
        Ok((now_line, next_line)) => {
            write_lines(&state, event.id, project.id, now_line, next_line).await?;
            Ok(see_other(&format!("/lead/{token}?done=board")))
        }
        Err(AppError::Invalid(problems)) => {
            lead_page(
                &req,
                &state,
                token,
                SlotFormValues::default(),
                problems.into_list(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn lead_slot(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<SlotFormValues>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let token = token.into_inner();
    let (event, project) = lead_target(&state, token.clone()).await?;
    let input = SlotInput {
        title: form.title.clone(),
        room: form.room.clone(),
        starts_at: form.starts_at.clone(),
        ends_at: form.ends_at.clone(),
    };
    let saved = match slot_draft(&event, &input) {
        Ok(draft) => save_slot(&state, event, project, None, draft)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Ok(see_other(&format!("/lead/{token}?done=slot"))),
        Err(AppError::Invalid(problems)) => {
            lead_page(
                &req,
                &state,
                token,
                form,
                problems.into_list(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn lead_slot_delete(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, i64)>,
    form: HtmlForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let (token, id) = path.into_inner();
    let (event, project) = lead_target(&state, token.clone()).await?;
    remove_slot(&state, event.id, project.id, id).await?;
    Ok(see_other(&format!("/lead/{token}?done=deleted")))
}
