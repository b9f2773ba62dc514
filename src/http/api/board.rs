//! The sprint board's JSON API: the board and its slots, now/next lines, slots booked by
//! leads and organizers, and check-in from an attendee's token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::board::{BoardCard, BoardState, SlotBody, slot_body};
use crate::db::board::SlotDraft;
use crate::db::events::EventRow;
use crate::db::projects::ProjectRow;
use crate::domain::{Problems, ProjectId};
use crate::error::AppError;
use crate::http::State;
use crate::service;

#[utoipa::path(get, path = "/api/v1/events/{slug}/board", tag = "board", params(("slug" = String, Path)),
    responses((status = 200, body = BoardState), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_board(state: State, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, board) = service::board::get(&state.service, slug.into_inner()).await?;
    Ok(HttpResponse::Ok().json(board))
}

/// Who may write on a project's board: an organizer's API token, or the project's own lead
/// link token, as `Authorization: Bearer`.
async fn authorize_writer(
    req: &HttpRequest,
    state: &State,
    project_id: ProjectId,
) -> Result<(), AppError> {
    let token = crate::http::auth::bearer_token(req).ok_or(AppError::Unauthorized)?;
    if service::organizers::by_api_token(&state.service, token.clone())
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
    let (_, board) = service::board::get(&state.service, slug).await?;
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
    let (_, board) = service::board::get(&state.service, slug.into_inner()).await?;
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
