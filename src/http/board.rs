//! The sprint board: `/events/{slug}/board` (a page, a signage view and a live SSE stream),
//! the JSON API for now/next lines, slots and check-in, and the project leads' secret page.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use utoipa::ToSchema;

use super::State;
use super::site::{HtmlForm, PageError, check_csrf, csrf_token, render, see_other, with_cookie};
use crate::board::{BoardCard, BoardState, SlotBody, by_day, slot_body};
use crate::db::board::SlotDraft;
use crate::db::events::EventRow;
use crate::db::projects::ProjectRow;
use crate::domain::Problems;
use crate::error::AppError;
use crate::service;

async fn load_board(state: &State, slug: String) -> Result<(EventRow, BoardState), AppError> {
    service::board::get(&state.service, slug).await
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    board: BoardState,
    signage: bool,
    days: Vec<(String, Vec<SlotBody>)>,
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
    let (first, updates) = service::board::watch(&state.service, slug).await?;
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
    project_id: crate::domain::ProjectId,
) -> Result<(), AppError> {
    let token = super::auth::bearer_token(req).ok_or(AppError::Unauthorized)?;
    if super::auth::organizer_by_token(state, token.clone())
        .await?
        .is_some()
    {
        return Ok(());
    }
    service::board::lead_may_write(&state.service, token, project_id).await
}

async fn find_project(
    state: &State,
    slug: String,
    project: String,
) -> Result<(EventRow, ProjectRow), AppError> {
    service::board::project(&state.service, slug, project).await
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
    let (_, project) = writable_project(&req, &state, slug.clone(), project).await?;
    let lines = service::board::lines(&input.now, &input.next)?;
    service::board::set_lines(&state.service, &project, lines).await?;
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

fn slot_draft(event: &EventRow, input: &SlotInput) -> Result<SlotDraft, Problems> {
    service::board::slot_draft(
        event,
        &input.title,
        &input.room,
        &input.starts_at,
        &input.ends_at,
    )
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
    let (event_for_body, project_for_body) = (event.clone(), project.clone());
    let row = service::board::save_slot(&state.service, event, project, slot_id, draft).await?;
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
    let (_, project) = writable_project(&req, &state, slug, project).await?;
    service::board::remove_slot(&state.service, &project, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinInput {
    /// The slug of the project whose table you are at.
    pub project: String,
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
    service::board::set_checkin(
        &state.service,
        token.into_inner(),
        Some(input.into_inner().project),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/registrations/{token}/checkout", tag = "board", params(("token" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn api_checkout(
    state: State,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::board::set_checkin(&state.service, token.into_inner(), None).await?;
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
    service::board::set_checkin(&state.service, token.clone(), project).await?;
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
    let (link, project, event, slots) = service::board::lead(&state.service, token.clone()).await?;
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
    service::board::lead_target(&state.service, token).await
}

pub async fn lead_lines(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<LinesForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    let (_, project) = lead_target(&state, token.clone()).await?;
    let saved = match service::board::lines(&form.0.now, &form.0.next) {
        Ok(lines) => service::board::set_lines(&state.service, &project, lines).await,
        Err(problems) => Err(AppError::Invalid(problems)),
    };
    match saved {
        Ok(()) => Ok(see_other(&format!("/lead/{token}?done=board"))),
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
        Err(problems) => Err(AppError::Invalid(problems)),
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
    let (_, project) = lead_target(&state, token.clone()).await?;
    service::board::remove_slot(&state.service, &project, id).await?;
    Ok(see_other(&format!("/lead/{token}?done=deleted")))
}
