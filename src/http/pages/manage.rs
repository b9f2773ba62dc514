//! An attendee's own pages, behind the secret links from their email: their registration
//! (projects, cancellation, personal feed, check-in) and the one-click opt-out of bulk mail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::{FieldProblem, Problems, RegistrationStatus};
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::share::AddToCalendar;
use crate::http::pages::site::{
    ConfirmPage, HtmlForm, PageError, check_csrf, confirm, csrf_token, redirect_or_form_again,
    render, see_other, with_cookie,
};
use crate::links::Links;
use crate::service;

struct ManageProject {
    slug: String,
    name: String,
    location: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "manage.html")]
struct ManagePage {
    token: String,
    csrf: String,
    slug: String,
    title: String,
    when: String,
    /// The times in the zone the reader chose, when their clocks differ.
    reader_when: Option<String>,
    name: String,
    status: String,
    active: bool,
    projects: Vec<ManageProject>,
    projects_problem: Option<String>,
    feed_url: Option<String>,
    feed_webcal: String,
    /// The alarm choices of the personal feed: (value, label, chosen).
    alarms: Vec<(String, String, bool)>,
    flash: Option<&'static str>,
    add: AddToCalendar,
    show_name: bool,
    going: bool,
    /// The project whose table the attendee is checked in at now.
    checked_in: Option<String>,
    /// Its slug: the table picker starts at it.
    checked_in_slug: Option<String>,
    /// Why nobody can check in now (before the doors open, after the end).
    checkin_closed: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct ManageQuery {
    done: Option<String>,
}

async fn manage_page(
    req: &HttpRequest,
    state: &State,
    token: String,
    flash: Option<&'static str>,
    projects_problem: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let service::registrations::OwnPage {
        own:
            service::registrations::OwnRegistration {
                view,
                event,
                feed_url,
                feed_alarm_minutes,
            },
        projects: all_projects,
        checked_in,
    } = service::registrations::own_page(&state.service, token.clone()).await?;
    let status_text = match view.registration.status() {
        RegistrationStatus::Going => "You are going.".to_owned(),
        RegistrationStatus::Waitlisted => format!(
            "You are on the waitlist, at position {}.",
            view.waitlist_position.unwrap_or(0)
        ),
        RegistrationStatus::Cancelled => "Cancelled.".to_owned(),
    };
    let here = checked_in.and_then(|id| all_projects.iter().find(|p| p.id == id));
    let (csrf, cookie) = csrf_token(req, &state.links);
    let page = ManagePage {
        csrf,
        slug: event.slug.clone(),
        title: event.title.clone(),
        when: event.window()?.human(),
        reader_when: crate::http::pages::site::reader_zone(req)
            .and_then(|zone| event.window().ok()?.human_in(&zone)),
        name: view.registration.name.clone(),
        status: status_text,
        active: view.registration.status() != RegistrationStatus::Cancelled,
        projects: all_projects
            .iter()
            .map(|p| ManageProject {
                slug: p.slug.clone(),
                name: p.name.clone(),
                location: p.location.clone(),
                checked: view.projects.iter().any(|j| j.id == p.id),
            })
            .collect(),
        projects_problem,
        feed_webcal: feed_url.as_deref().map(Links::webcal).unwrap_or_default(),
        feed_url,
        alarms: alarm_choices(feed_alarm_minutes),
        flash,
        add: AddToCalendar::of(&event, &state.links),
        show_name: view.registration.show_name,
        going: view.registration.status() == RegistrationStatus::Going,
        checked_in: here.map(|p| p.name.clone()),
        checked_in_slug: here.map(|p| p.slug.clone()),
        checkin_closed: crate::domain::seats::check_in_closed_reason(
            event.starts_at,
            event.ends_at,
            state.clock.now(),
        ),
        token,
    };
    let mut response = with_cookie(render(status, &page)?, cookie);
    private_page(&mut response);
    Ok(response)
}

pub async fn manage(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    query: web::Query<ManageQuery>,
) -> Result<HttpResponse, PageError> {
    let flash = match query.done.as_deref() {
        Some("projects") => Some("Your projects are saved."),
        Some("cancelled") => {
            Some("Your registration is cancelled. We have sent you a confirmation.")
        }
        Some("feed") => Some("Your feed has a new link; the old one no longer works."),
        Some("alarm") => {
            Some("Your feed's alarm is saved; calendars show it at their next refresh.")
        }
        Some("checkin") => Some("You are checked in. It ends by itself after a few hours."),
        Some("checkout") => Some("You are checked out."),
        Some("show-name") => {
            Some("Saved: the event page shows your name among who's going, or not, as you chose.")
        }
        _ => None,
    };
    manage_page(
        &req,
        &state,
        token.into_inner(),
        flash,
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    projects: Vec<String>,
}

/// "Cancel my registration": asks first.
pub async fn manage_cancel_confirm(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let token = token.into_inner();
    let own = service::registrations::own_page(&state.service, token.clone()).await?;
    let registration = &own.own.view.registration;
    if registration.status() == RegistrationStatus::Cancelled {
        return Ok(see_other(&format!("/manage/{token}")));
    }
    let consequence = if registration.status() == RegistrationStatus::Going {
        format!(
            "Your seat at {} goes to the next person on the waitlist. You can sign up again later, if there is room.",
            own.own.event.title
        )
    } else {
        format!(
            "You leave the waitlist of {}. Signing up again puts you at its end.",
            own.own.event.title
        )
    };
    let action = format!("/manage/{token}/cancel");
    let back = format!("/manage/{token}");
    let mut response = confirm(
        &req,
        &state.links,
        ConfirmPage {
            question: "Cancel your registration?",
            consequence: &consequence,
            action: &action,
            csrf: String::new(),
            yes: "Yes, cancel my registration",
            no: "No, keep it",
            back: &back,
        },
    )?;
    private_page(&mut response);
    Ok(response)
}

/// The token is in the address: never send it on to another site, never cache the page.
fn private_page(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
}

pub async fn manage_cancel(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<TokenForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    service::registrations::cancel(&state.service, token.clone()).await?;
    Ok(see_other(&format!("/manage/{token}?done=cancelled")))
}

pub async fn manage_projects(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let token = token.into_inner();
    let mut problems = Problems::new();
    let slugs = crate::http::api::registrations::project_slugs(&mut problems, &form.projects);
    let outcome = match problems.finish() {
        Ok(()) => {
            service::registrations::change_projects(&state.service, token.clone(), slugs).await
        }
        Err(problems) => Err(problems.into()),
    };
    let done = |_| format!("/manage/{token}?done=projects");
    let again = |list: Vec<FieldProblem>| {
        let mut problems = Problems::new();
        for f in list {
            problems.add(f.field, f.message);
        }
        let invalid = StatusCode::UNPROCESSABLE_ENTITY;
        manage_page(
            &req,
            &state,
            token.clone(),
            None,
            Some(problems.to_string()),
            invalid,
        )
    };
    redirect_or_form_again(outcome, done, again).await
}

/// The alarms the manage page offers for the personal feed: (minutes, label).
const FEED_ALARMS: [(&str, &str); 5] = [
    ("", "No alarm"),
    ("15", "15 minutes before"),
    ("60", "1 hour before"),
    ("180", "3 hours before"),
    ("1440", "1 day before"),
];

/// The choices of the alarm form, with one set through the API among them when it is
/// none of the usual ones, so that saving the form unchanged keeps it.
fn alarm_choices(current: Option<i32>) -> Vec<(String, String, bool)> {
    let chosen = current.map(|m| m.to_string()).unwrap_or_default();
    let mut choices: Vec<(String, String, bool)> = FEED_ALARMS
        .iter()
        .map(|(value, label)| (value.to_string(), label.to_string(), chosen == *value))
        .collect();
    if !choices.iter().any(|c| c.2) {
        choices.push((chosen.clone(), format!("{chosen} minutes before"), true));
    }
    choices
}

#[derive(Deserialize)]
pub struct FeedAlarmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    minutes: String,
}

pub async fn manage_feed_alarm(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<FeedAlarmForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    let minutes = match form.0.minutes.trim() {
        "" => None,
        // Anything else that is no number is refused by the use case, as on the API.
        n => Some(n.parse::<i64>().unwrap_or(-1)),
    };
    service::registrations::set_feed_alarm(&state.service, token.clone(), minutes).await?;
    Ok(see_other(&format!("/manage/{token}?done=alarm")))
}

#[derive(Deserialize)]
pub struct ShowNameForm {
    #[serde(default)]
    csrf: String,
    /// The checkbox: `on` when ticked, absent when not.
    #[serde(default)]
    show: String,
}

pub async fn manage_show_name(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<ShowNameForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    let show = form.0.show == "on";
    service::registrations::set_show_name(&state.service, token.clone(), show).await?;
    Ok(see_other(&format!("/manage/{token}?done=show-name")))
}

pub async fn manage_feed(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    form: HtmlForm<TokenForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let token = token.into_inner();
    service::registrations::rotate_feed(&state.service, token.clone()).await?;
    Ok(see_other(&format!("/manage/{token}?done=feed")))
}

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
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    event_title: String,
    done: bool,
}

/// The opt-out link from a reminder: a page with a button. A GET changes nothing, since mail
/// scanners follow links.
pub async fn unsubscribe_page(
    state: State,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (event_title, muted) =
        service::registrations::unsubscribe_target(&state.service, token.into_inner()).await?;
    page(UnsubscribePage {
        event_title,
        done: muted,
    })
}

/// The button, and RFC 8058 one-click unsubscribe from mail clients (`List-Unsubscribe-Post`).
pub async fn unsubscribe(state: State, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let event_title =
        service::registrations::unsubscribe(&state.service, token.into_inner()).await?;
    page(UnsubscribePage {
        event_title,
        done: true,
    })
}

fn page(template: UnsubscribePage) -> Result<HttpResponse, AppError> {
    let html = template
        .render()
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}
