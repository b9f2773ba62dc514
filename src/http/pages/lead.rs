//! A project lead's secret page: the board lines and the slots of their project, by forms.

use actix_web::http::header::HeaderValue;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::board::{SlotBody, slot_body};
use crate::db::events::EventRow;
use crate::db::projects::ProjectRow;
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::site::{
    HtmlForm, PageError, check_csrf, csrf_token, redirect_or_form_again, render, see_other,
    with_cookie,
};
use crate::service;

/// A form sent back with its problems.
const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

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
    let outcome = match service::board::lines(&form.0.now, &form.0.next) {
        Ok(lines) => service::board::set_lines(&state.service, &project, lines).await,
        Err(problems) => Err(problems.into()),
    };
    let done = |()| format!("/lead/{token}?done=board");
    let again = |problems| {
        let form = SlotFormValues::default();
        lead_page(&req, &state, token.clone(), form, problems, None, INVALID)
    };
    redirect_or_form_again(outcome, done, again).await
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
    let draft = service::board::slot_draft(
        &event,
        &form.title,
        &form.room,
        &form.starts_at,
        &form.ends_at,
    );
    let outcome = match draft {
        Ok(draft) => service::board::save_slot(&state.service, event, project, None, draft).await,
        Err(problems) => Err(problems.into()),
    };
    let done = |_| format!("/lead/{token}?done=slot");
    let again = |problems| lead_page(&req, &state, token.clone(), form, problems, None, INVALID);
    redirect_or_form_again(outcome, done, again).await
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
