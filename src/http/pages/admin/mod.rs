//! The organizers' pages: the session, the list of events, and the field helpers every admin
//! form shares. One file per thing an organizer works on beside this one.

pub mod attendees;
pub mod events;
pub mod login;
pub mod projects;
pub mod tokens;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;

use crate::db::events::{Filter, Period};
use crate::db::organizers::OrganizerRow;
use crate::domain::{FieldProblem, Problems};
use crate::error::AppError;
use crate::http::pages::site::{PageError, csrf_token, problem_for, render, with_cookie};
use crate::http::{AppState, State};
use crate::service;

pub const SESSION_COOKIE: &str = "convene_session";

/// A logged-in organizer; without a session the page redirects to /login.
pub struct Admin(pub OrganizerRow);

impl FromRequest for Admin {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(PageError(AppError::Unauthorized));
            };
            let organizer = service::organizers::by_session(&state.service, token).await?;
            organizer
                .map(Admin)
                .ok_or(PageError(AppError::Unauthorized))
        })
    }
}

impl Admin {
    /// Whether the request comes from a signed-in organizer (who may see drafts).
    pub async fn signed_in(req: &HttpRequest, state: &State) -> bool {
        match req.cookie(SESSION_COOKIE) {
            Some(cookie) => {
                service::organizers::by_session(&state.service, cookie.value().to_owned())
                    .await
                    .is_ok_and(|o| o.is_some())
            }
            None => false,
        }
    }
}

struct EventRowView {
    slug: String,
    title: String,
    kind: String,
    when: String,
    going: i32,
    capacity: Option<i32>,
    waitlist: i64,
    status: String,
}

#[derive(Template)]
#[template(path = "admin/events.html")]
struct EventsPage {
    csrf: String,
    organizer: String,
    events: Vec<EventRowView>,
    flash: Option<&'static str>,
}

#[derive(serde::Deserialize)]
pub struct DashboardQuery {
    done: Option<String>,
}

pub async fn dashboard(
    req: HttpRequest,
    state: State,
    admin: Admin,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let flash = match query.done.as_deref() {
        Some("deleted") => Some("The event is deleted."),
        _ => None,
    };
    let summaries =
        service::events::list(&state.service, Period::All, Filter::organizers(), 2000).await?;
    let mut views = Vec::new();
    for s in summaries.into_iter().rev() {
        let e = s.event;
        let status = if e.is_draft() {
            "draft".to_owned()
        } else {
            e.status.to_string()
        };
        views.push(EventRowView {
            when: e.window()?.human(),
            slug: e.slug,
            title: e.title,
            kind: e.kind.to_string(),
            going: e.going_count,
            capacity: e.capacity,
            waitlist: s.waitlist_count,
            status,
        });
    }
    let (csrf, cookie) = csrf_token(&req, &state.links);
    Ok(with_cookie(
        render(
            StatusCode::OK,
            &EventsPage {
                csrf,
                organizer: admin.0.name,
                events: views,
                flash,
            },
        )?,
        cookie,
    ))
}

/// One field of a form as the templates draw it.
pub struct FormField {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: &'static str,
    value: String,
    options: Vec<String>,
    problem: Option<String>,
    /// Further attributes of the input (such as `min="0"`), written by the code, never from
    /// input.
    extra: &'static str,
}

fn field(
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: &'static str,
    value: &str,
    problems: &[FieldProblem],
) -> FormField {
    FormField {
        name,
        label,
        hint,
        kind,
        value: value.to_owned(),
        options: Vec::new(),
        problem: problem_for(problems, name).map(str::to_owned),
        extra: "",
    }
}

/// A capacity field of a form: empty means no limit.
fn form_capacity(raw: &str) -> Result<Option<i64>, Problems> {
    match raw.trim() {
        "" => Ok(None),
        n => n.parse::<i64>().map(Some).map_err(|_| {
            Problems::single(
                "capacity",
                "must be a whole number (leave it empty for no limit)",
            )
        }),
    }
}
