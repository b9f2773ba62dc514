//! The public pages: upcoming events, one event with its projects and the signup form, and
//! the "check your inbox" page. Forms carry a CSRF token and follow Post/Redirect/Get; a GET
//! never changes anything.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::db::events::{EventRow, EventSummary, Filter, Period};
use crate::db::projects::ProjectDetail;
use crate::domain::seats::project_has_room;
use crate::domain::{EventKind, EventStatus, FieldProblem, Slug};
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::admin::Admin;
use crate::http::pages::share::{AddToCalendar, Preview, json_ld, map_link};
use crate::http::pages::site::{
    HtmlForm, PageError, check_csrf, csrf_token, markdown, problem_for, reader_zone,
    redirect_or_form_again, render, see_other, with_cookie,
};
use crate::http::recent::Turned;
use crate::links::Links;
use crate::service;

/// "12 seats left", "waitlist: 3", "open".
/// The seats badge: one wording for every state, so that related states read alike.
fn seats_text(event: &EventRow, waitlist: i64, now: NaiveDateTime) -> (String, &'static str) {
    if now >= event.ends_at {
        return ("over".into(), "past");
    }
    match event.capacity {
        None => ("no seat limit".into(), "seats"),
        Some(c) if event.going_count < c && waitlist == 0 => {
            let left = c - event.going_count;
            (
                if left == 1 {
                    "1 seat left".into()
                } else {
                    format!("{left} seats left")
                },
                "seats",
            )
        }
        Some(_) => (
            if waitlist == 0 {
                "full · waitlist open".into()
            } else {
                format!("full · {waitlist} on the waitlist")
            },
            "waitlist",
        ),
    }
}

/// The start as `<time datetime>` gives it: the day of a whole-day event, else the instant.
fn machine_start(event: &EventRow) -> String {
    if event.all_day {
        event.starts_local.format("%Y-%m-%d").to_string()
    } else {
        event.starts_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// The end for the script that shows times in the reader's zone; None for whole days, whose
/// dates are the same everywhere.
fn machine_end(event: &EventRow) -> Option<String> {
    (!event.all_day).then(|| event.ends_at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Whether a new signup goes to the waitlist.
fn is_full(event: &EventRow, waitlist: i64) -> bool {
    event
        .capacity
        .is_some_and(|c| waitlist > 0 || event.going_count >= c)
}

/// The seats line of the event page, for the state the event is in.
fn seats_detail(event: &EventRow, waitlist: i64, closed: bool) -> String {
    let going = event.going_count;
    match event.capacity {
        None if closed => format!("{going} signed up; there was no seat limit."),
        None => format!("{going} going, no seat limit."),
        Some(c) if closed => format!("{going} of {c} seats taken, {waitlist} on the waitlist."),
        Some(c) if is_full(event, waitlist) => format!(
            "All {c} seats are taken; {waitlist} on the waitlist. Join it to move up in order when a seat frees."
        ),
        Some(c) => format!("{} of {c} seats left.", c - going),
    }
}

fn place_of(event: &EventRow) -> String {
    crate::domain::text::comma_joined(&[&event.venue, &event.address])
}

struct EventLine {
    slug: String,
    title: String,
    kind: String,
    summary: String,
    when: String,
    /// The start for machines (`<time datetime>`).
    starts: String,
    /// The end for the reader's-zone script (None for whole days).
    ends: Option<String>,
    zone: String,
    place: String,
    seats: String,
    seats_class: &'static str,
    cancelled: bool,
}

struct Day {
    label: String,
    events: Vec<EventLine>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    days: Vec<Day>,
    past: bool,
    kind: String,
    kinds: Vec<String>,
    base_query: String,
    site_feed: String,
    site_feed_webcal: String,
    kind_feeds_webcal: Vec<String>,
    /// Which of the list's pages this is (from 1), what it shows, and the pages beside it.
    page: u32,
    first_shown: usize,
    last_shown: usize,
    sooner: Option<String>,
    later: Option<String>,
}

/// Events on one page of the home page: the next weeks of a busy site, then "later events".
pub const EVENTS_PER_PAGE: u32 = 25;
/// The last page anyone may ask for (25 events each: a quarter of a million events).
const LAST_PAGE: u32 = 10_000;

/// What the home and event pages read from the database, kept for a moment (see `recent`).
#[derive(Clone)]
pub enum PageRead {
    /// A page as sent, for a page that carries nothing of its reader's (the home page, the
    /// board).
    Html(web::Bytes),
    /// The event, its projects, its slots, and its description rendered from Markdown and
    /// sanitized (the costliest part of the page, so it is kept too).
    Event(Arc<EventRead>),
    /// The event page as a first visit gets it, cut where each reader's CSRF token goes.
    EventHtml(Arc<Vec<web::Bytes>>),
}

pub type EventRead = (
    EventSummary,
    Vec<ProjectDetail>,
    Vec<crate::db::board::SlotRow>,
    String,
    Vec<(String, Vec<crate::domain::ProjectId>)>,
);

pub type RecentPages = crate::http::recent::Recent<PageRead>;

#[derive(Deserialize)]
pub struct HomeQuery {
    kind: Option<String>,
    period: Option<String>,
    page: Option<String>,
}

/// The `page` of a list's address: a whole number from 1 to `last`, 1 when not given.
pub fn page_number(given: Option<&str>, last: u32) -> Result<u32, AppError> {
    match given.filter(|p| !p.is_empty()) {
        None => Ok(1),
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=last).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "page must be a whole number from 1 to {last}, not `{}`",
                    p.escape_default()
                ))
            }),
    }
}

pub async fn home(state: State, query: web::Query<HomeQuery>) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let kind = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => {
            Some(EventKind::parse(k).map_err(|m| AppError::BadRequest(format!("kind {m}")))?)
        }
        None => None,
    };
    let page = page_number(query.page.as_deref(), LAST_PAGE)?;
    let past = query.period.as_deref() == Some("past");
    let key = format!(
        "home:{past}:{}:{page}",
        kind.map_or("all", EventKind::as_str)
    );
    kept_page(&state, key, home_html(&state, past, kind, page)).await
}

/// The page kept under `key` if it is still current, else the one `render` makes, kept for
/// the readers after this one: for pages that carry nothing of their reader's.
pub async fn kept_page(
    state: &State,
    key: String,
    render: impl std::future::Future<Output = Result<web::Bytes, PageError>>,
) -> Result<HttpResponse, PageError> {
    let kept = |state: &State| {
        let (now, generation) = (state.clock.now(), state.db.generation());
        match state.recent_pages.get(&key, generation, now) {
            Some(PageRead::Html(html)) => Ok(html),
            _ => Err((now, generation)),
        }
    };
    let html = match kept(state) {
        Ok(html) => html,
        Err((_, missed_at)) => {
            let turned = state.recent_pages.after_turn(&key, missed_at).await;
            if let Turned::Kept(PageRead::Html(html)) = &turned {
                // Rendered by the reader whose turn came before.
                html.clone()
            } else {
                // `turned` holds the turn (if any) until the page is kept.
                let (now, generation) = (state.clock.now(), state.db.generation());
                let html = render.await?;
                let page = PageRead::Html(html.clone());
                state.recent_pages.put(&key, generation, now, page);
                html
            }
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Renders one page of the home page.
async fn home_html(
    state: &State,
    past: bool,
    kind: Option<EventKind>,
    page: u32,
) -> Result<web::Bytes, PageError> {
    let period = if past { Period::Past } else { Period::Upcoming };
    let (summaries, more) = service::events::list_page(
        &state.service,
        period,
        Filter::public(kind),
        page,
        EVENTS_PER_PAGE,
    )
    .await?;
    let shown = summaries.len();
    let now = state.clock.now();
    let mut days: Vec<Day> = Vec::new();
    for EventSummary {
        event: e,
        waitlist_count,
    } in summaries.iter()
    {
        let waitlist_count = *waitlist_count;
        // Grouped by the day the event starts, in its own zone.
        let label = e.starts_local.format("%A %-d %B %Y").to_string();
        let (seats, seats_class) = seats_text(e, waitlist_count, now);
        let line = EventLine {
            slug: e.slug.clone(),
            title: e.title.clone(),
            kind: e.kind.to_string(),
            summary: e.summary.clone(),
            when: e.window()?.human(),
            starts: machine_start(e),
            ends: machine_end(e),
            zone: e.timezone.clone(),
            place: place_of(e),
            seats,
            seats_class,
            cancelled: e.status() == EventStatus::Cancelled,
        };
        match days.last_mut() {
            Some(day) if day.label == label => day.events.push(line),
            _ => days.push(Day {
                label,
                events: vec![line],
            }),
        }
    }
    let links = &state.links;
    let kinds: Vec<String> = EventKind::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let base_query = if past { "/?period=past" } else { "/" }.to_owned();
    let page_link = |n: u32| {
        let mut link = base_query.clone();
        let mut add = |part: String| {
            link.push(if link.contains('?') { '&' } else { '?' });
            link.push_str(&part);
        };
        if let Some(k) = kind {
            add(format!("kind={}", k.as_str()));
        }
        if n > 1 {
            add(format!("page={n}"));
        }
        link
    };
    let first_shown = (page as usize - 1) * EVENTS_PER_PAGE as usize + 1;
    let page_view = HomePage {
        days,
        past,
        kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        kind_feeds_webcal: kinds
            .iter()
            .map(|k| Links::webcal(&links.kind_feed(k)))
            .collect(),
        kinds,
        site_feed: links.site_feed(),
        site_feed_webcal: Links::webcal(&links.site_feed()),
        page,
        first_shown,
        last_shown: first_shown + shown.saturating_sub(1),
        sooner: (page > 1).then(|| page_link(page - 1)),
        later: more.then(|| page_link(page + 1)),
        base_query,
    };
    let html = page_view
        .render()
        .map_err(|e| PageError(AppError::Internal(e.into())))?;
    Ok(web::Bytes::from(html))
}

struct ProjectCard {
    slug: String,
    name: String,
    description: String,
    location: String,
    leads: String,
    repository_url: Option<String>,
    notes_url: Option<String>,
    joined: String,
    full: bool,
    checked: bool,
    feed_webcal: String,
    /// Who's going to it, of those who asked to be shown.
    people: String,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    e: EventRow,
    when: String,
    /// The start for machines (`<time datetime>`).
    starts: String,
    ends: Option<String>,
    /// The times in the zone the reader chose, when their clocks differ.
    reader_when: Option<String>,
    /// How soon an online event starts ("starts in 3 hours").
    starts_in: Option<String>,
    /// Who's going, of those who asked to be shown, and how many more have a seat.
    going_names: Vec<String>,
    going_others: i64,
    show_name: bool,
    cancelled: bool,
    /// A draft, previewed by an organizer.
    draft: bool,
    add: AddToCalendar,
    map: Option<String>,
    preview: Preview,
    json_ld: String,
    seats: String,
    seats_class: &'static str,
    seats_detail: String,
    description_html: String,
    projects: Vec<ProjectCard>,
    /// Why nobody can sign up now, as a sentence.
    closed: Option<String>,
    /// Whether a signup goes to the waitlist.
    full: bool,
    csrf: String,
    form_name: String,
    form_email: String,
    name_problem: Option<String>,
    email_problem: Option<String>,
    projects_problem: Option<String>,
    problems: Vec<FieldProblem>,
    /// The problems at the top of the form, each linked to its field: (field id, label,
    /// message).
    problem_summary: Vec<(String, &'static str, String)>,
    /// Booked sessions, by day.
    schedule: Vec<(String, Vec<crate::board::SlotBody>)>,
}

/// `reason` as a sentence: a capital first letter and a full stop.
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    format!("{}{}.", first.unwrap_or_default(), chars.as_str())
}

/// What the signup form held when it comes back with problems.
#[derive(Default)]
struct Entered {
    name: String,
    email: String,
    projects: Vec<String>,
    show_name: bool,
    problems: Vec<FieldProblem>,
}

impl Entered {
    /// Nothing entered: the page as a first visit gets it.
    fn is_blank(&self) -> bool {
        self.name.is_empty()
            && self.email.is_empty()
            && self.projects.is_empty()
            && !self.show_name
            && self.problems.is_empty()
    }
}

/// The event page kept as `parts`, with the reader's CSRF token put between each two.
fn page_with_token(parts: &[web::Bytes], csrf: &str) -> HttpResponse {
    let size = parts.iter().map(|p| p.len()).sum::<usize>() + csrf.len() * parts.len();
    let mut body = web::BytesMut::with_capacity(size);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(csrf.as_bytes());
        }
        body.extend_from_slice(part);
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body.freeze())
}

async fn event_page(
    req: &HttpRequest,
    state: &State,
    slug: String,
    entered: Entered,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let key = format!("event:{slug}");
    let html_key = format!("{key}:html");
    // A first visit gets the page rendered for the visitors before it, with its own token. A
    // reader who chose a zone gets a page of their own, not kept for others.
    let reader = reader_zone(req);
    let first_visit = status == StatusCode::OK && entered.is_blank() && reader.is_none();
    let kept_html = |state: &State| {
        let (now, generation) = (state.clock.now(), state.db.generation());
        match state.recent_pages.get(&html_key, generation, now) {
            Some(PageRead::EventHtml(parts)) => Some(parts),
            _ => None,
        }
    };
    let mut _html_turn = None;
    if first_visit {
        if let Some(parts) = kept_html(state) {
            let (csrf, cookie) = csrf_token(req, &state.links);
            return Ok(with_cookie(page_with_token(&parts, &csrf), cookie));
        }
        // One first visitor at a time renders the page; the others take what it kept.
        let missed_at = state.db.generation();
        match state.recent_pages.after_turn(&html_key, missed_at).await {
            Turned::Kept(PageRead::EventHtml(parts)) => {
                let (csrf, cookie) = csrf_token(req, &state.links);
                return Ok(with_cookie(page_with_token(&parts, &csrf), cookie));
            }
            Turned::Kept(_) => {}
            Turned::Yours(turn) => _html_turn = turn,
        }
    }
    let now = state.clock.now();
    let generation = state.db.generation();
    let read = match state.recent_pages.get(&key, generation, now) {
        Some(PageRead::Event(read)) => read,
        _ => {
            let page = service::events::for_public(&state.service, slug, markdown).await?;
            let read = Arc::new((
                page.summary,
                page.projects,
                page.slots,
                page.description_html,
                page.shown_going,
            ));
            let kept = PageRead::Event(read.clone());
            state.recent_pages.put(&key, generation, now, kept);
            read
        }
    };
    let (summary, details, slots, description_html, shown_going) = &*read;
    // A draft is seen by its organizers only, and never kept for other visitors.
    let draft = summary.event.is_draft();
    if draft && !Admin::signed_in(req, state).await {
        return Err(PageError(AppError::not_found("no such event")));
    }
    let first_visit = first_visit && !draft;
    let links = &state.links;
    let e = summary.event.clone();
    let (seats, seats_class) = seats_text(&e, summary.waitlist_count, now);
    let closed = e.signup_closed_reason(now).map(sentence);
    let seats_detail = seats_detail(&e, summary.waitlist_count, closed.is_some());
    let full = is_full(&e, summary.waitlist_count);
    let projects = details
        .iter()
        .map(|d: &ProjectDetail| {
            let p = &d.project;
            let full = !project_has_room(p.capacity().limit(), d.joined.max(0) as u32);
            ProjectCard {
                slug: p.slug.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                location: p.location.clone(),
                leads: d
                    .leads
                    .iter()
                    .map(|l| l.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                repository_url: p.repository_url.clone(),
                notes_url: p.notes_url.clone(),
                joined: match (d.joined, p.capacity) {
                    (n, Some(c)) => format!("{n} of {c} places taken"),
                    (1, None) => "1 person joined".into(),
                    (n, None) => format!("{n} people joined"),
                },
                full,
                checked: entered.projects.contains(&p.slug),
                people: shown_going
                    .iter()
                    .filter(|(_, joined)| joined.contains(&p.id))
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                feed_webcal: Links::webcal(&links.project_feed(&e.slug, &p.slug)),
            }
        })
        .collect();
    let (csrf, cookie) = csrf_token(req, links);
    // Kept pages hold a random stand-in where the token goes, cut out below.
    let token_in_page = if first_visit {
        crate::tokens::random_token()
    } else {
        csrf.clone()
    };
    let window = e.window()?;
    let when = window.human();
    let page = EventPage {
        add: AddToCalendar::of(&e, links),
        map: map_link(&e),
        preview: Preview::of(&e, &when, links),
        json_ld: json_ld(&e, links),
        when,
        starts: machine_start(&e),
        ends: machine_end(&e),
        going_names: shown_going.iter().map(|(name, _)| name.clone()).collect(),
        going_others: (i64::from(e.going_count) - shown_going.len() as i64).max(0),
        show_name: entered.show_name,
        reader_when: reader.as_ref().and_then(|z| window.human_in(z)),
        starts_in: e
            .online_url
            .is_some()
            .then(|| window.starts_in(now))
            .flatten(),
        cancelled: e.status() == EventStatus::Cancelled,
        draft,
        seats,
        seats_class,
        seats_detail,
        description_html: description_html.clone(),
        projects,
        closed,
        full,
        csrf: token_in_page.clone(),
        form_name: entered.name,
        form_email: entered.email,
        name_problem: problem_for(&entered.problems, "name").map(str::to_owned),
        email_problem: problem_for(&entered.problems, "email").map(str::to_owned),
        projects_problem: problem_for(&entered.problems, "projects").map(str::to_owned),
        problem_summary: entered
            .problems
            .iter()
            .map(|p| {
                let (target, label) = match p.field.as_str() {
                    "name" => ("name", "Your name"),
                    "email" => ("email", "Email"),
                    _ => ("projects", "Projects"),
                };
                (target.to_owned(), label, p.message.clone())
            })
            .collect(),
        problems: entered.problems,
        schedule: crate::board::by_day(
            &slots
                .iter()
                .filter_map(|s| {
                    let d = details.iter().find(|d| d.project.id == s.project_id)?;
                    Some(crate::board::slot_body(&e, &d.project, s))
                })
                .collect::<Vec<_>>(),
        ),
        e,
    };
    if first_visit {
        let html = page
            .render()
            .map_err(|e| PageError(AppError::Internal(e.into())))?;
        let parts: Vec<web::Bytes> = html
            .split(token_in_page.as_str())
            .map(|part| web::Bytes::copy_from_slice(part.as_bytes()))
            .collect();
        let parts = Arc::new(parts);
        let kept = PageRead::EventHtml(parts.clone());
        state.recent_pages.put(&html_key, generation, now, kept);
        return Ok(with_cookie(page_with_token(&parts, &csrf), cookie));
    }
    Ok(with_cookie(render(status, &page)?, cookie))
}

pub async fn event(
    req: HttpRequest,
    state: State,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    event_page(
        &req,
        &state,
        slug.into_inner(),
        Entered::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    projects: Vec<String>,
    /// The honeypot: people leave it empty, form-filling bots do not.
    #[serde(default)]
    website: String,
    /// "Show my name among who's going" (a checkbox: `on` when ticked).
    #[serde(default)]
    show_name: String,
}

pub async fn sign_up(
    req: HttpRequest,
    state: State,
    slug: web::Path<String>,
    form: HtmlForm<SignupForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let slug = slug.into_inner();
    // The redirect below carries the slug: it must be one (a line break in it would break the
    // Location header).
    if Slug::parse(&slug).is_err() {
        return Err(PageError(AppError::not_found("no such event")));
    }
    let thanks = format!("/events/{slug}/thanks");
    if !form.website.is_empty() {
        // Looks like success to the bot; nothing is stored.
        return Ok(see_other(&thanks));
    }
    let entered = |problems: Vec<FieldProblem>| Entered {
        name: form.name.clone(),
        email: form.email.clone(),
        projects: form.projects.clone(),
        show_name: form.show_name == "on",
        problems,
    };
    // The same reading of the same fields as the API's: the same problems, shown on the form.
    let input = crate::http::api::registrations::SignupInput {
        name: form.name.clone(),
        email: form.email.clone(),
        projects: form.projects.clone(),
        show_name: form.show_name == "on",
    };
    let outcome = match input.parse() {
        Ok(request) => {
            let signup = crate::http::api::registrations::perform_signup;
            signup(&state, &req, slug.clone(), request).await
        }
        Err(problems) => Err(problems.into()),
    };
    let again = |problems| {
        let invalid = StatusCode::UNPROCESSABLE_ENTITY;
        event_page(
            &req,
            &state,
            slug.clone(),
            entered(form_problems(problems)),
            invalid,
        )
    };
    let mut response = redirect_or_form_again(outcome, |_| thanks.clone(), again).await?;
    if response.status() == StatusCode::SEE_OTHER {
        // The thanks page repeats the address, so that a typo shows; only this browser, for
        // a few minutes, keeps it.
        let cookie = actix_web::cookie::Cookie::build(
            SENT_TO_COOKIE,
            percent_encoding::utf8_percent_encode(
                form.email.trim(),
                percent_encoding::NON_ALPHANUMERIC,
            )
            .to_string(),
        )
        .path(thanks.clone())
        .max_age(actix_web::cookie::time::Duration::minutes(10))
        .http_only(true)
        .secure(state.links.is_https())
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish();
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError(AppError::Internal(e.into())))?;
    }
    Ok(response)
}

/// The address a signup was sent with, for the thanks page that follows it.
const SENT_TO_COOKIE: &str = "convene_sent_to";

/// The problems of a signup as the form shows them: `projects[2]` is the `projects` field.
fn form_problems(problems: Vec<FieldProblem>) -> Vec<FieldProblem> {
    problems
        .into_iter()
        .map(|f| FieldProblem {
            field: f
                .field
                .replace(['[', ']'], "")
                .trim_end_matches(char::is_numeric)
                .to_owned(),
            message: f.message,
        })
        .collect()
}

/// A reloaded or bookmarked signup address leads to the form.
pub async fn signup_form(slug: web::Path<String>) -> Result<HttpResponse, PageError> {
    let slug = Slug::parse(&slug).map_err(|_| PageError(AppError::not_found("no such event")))?;
    Ok(see_other(&format!("/events/{slug}#signup")))
}

#[derive(Template)]
#[template(path = "signup_thanks.html")]
struct ThanksPage {
    slug: String,
    title: String,
    /// The address the signup was sent with, so that a typo shows.
    email: Option<String>,
    add: AddToCalendar,
}

pub async fn thanks(
    req: HttpRequest,
    state: State,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let event = service::events::find(&state.service, slug)
        .await?
        .public()?;
    let email = req.cookie(SENT_TO_COOKIE).and_then(|c| {
        percent_encoding::percent_decode_str(c.value())
            .decode_utf8()
            .ok()
            .map(|e| e.chars().take(320).collect::<String>())
    });
    render(
        StatusCode::OK,
        &ThanksPage {
            add: AddToCalendar::of(&event, &state.links),
            slug: event.slug,
            title: event.title,
            email,
        },
    )
}

pub async fn not_found_page() -> Result<HttpResponse, PageError> {
    Err(PageError(AppError::not_found("no such page")))
}
