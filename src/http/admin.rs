//! The organizer pages: login and logout, the event list, creating and editing events and
//! their projects, cancelling, and the attendee list with its CSV export. Every form carries a
//! CSRF token and answers with a redirect (Post/Redirect/Get).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::events::EventInput;
use super::projects::{LeadInput, ProjectInput};
use super::site::{
    HtmlForm, PageError, check_csrf, csrf_token, problem_for, render, see_other, with_cookie,
};
use super::{AppState, State};
use crate::db::organizers::{self, OrganizerRow};
use crate::db::{events, projects, registrations};
use crate::domain::{EventKind, EventStatus, FieldProblem, Problems};
use crate::error::AppError;
use crate::service::{self, messages::Message};

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
            let now = state.clock.now();
            let organizer = state
                .db
                .read(move |conn| organizers::by_session(conn, &token, now))
                .await?;
            organizer
                .map(Admin)
                .ok_or(PageError(AppError::Unauthorized))
        })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    failed: bool,
    limited: bool,
}

pub async fn login_page(req: HttpRequest, state: State) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = csrf_token(&req, &state.links);
    Ok(with_cookie(
        render(
            StatusCode::OK,
            &LoginPage {
                csrf,
                email: String::new(),
                failed: false,
                limited: false,
            },
        )?,
        cookie,
    ))
}

/// Marks a browser that logged into an account before: its login attempts for that account
/// are not held up by guessers at the same address (see `limits::LoginLimit`). A MAC of the
/// account under the server key, so it cannot be made without the key, and it opens nothing:
/// the password is still checked.
const DEVICE_COOKIE: &str = "convene_known_login";

fn device_token(key: &crate::tokens::SecretKey, email: &str) -> String {
    key.derive_token("login-device", &email.trim().to_lowercase())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    req: HttpRequest,
    state: State,
    form: HtmlForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let client = state.client(&req).ip;
    let device = device_token(&state.key, &form.email);
    let known_device = req
        .cookie(DEVICE_COOKIE)
        .is_some_and(|c| crate::tokens::same(c.value(), &device));
    // Failed logins slow further attempts for that account from that address, and for the
    // address (a browser that logged into the account before is counted on its own); a wait
    // within bounds is served here, beyond it the answer is 429.
    let admitted = state.login_limit.admit(client, &form.email, known_device);
    if let Ok(wait) = admitted {
        tokio::time::sleep(wait).await;
    }
    if let Err(retry_after) = admitted {
        let (csrf, cookie) = csrf_token(&req, &state.links);
        let mut response = render(
            StatusCode::TOO_MANY_REQUESTS,
            &LoginPage {
                csrf,
                email: form.email,
                failed: false,
                limited: true,
            },
        )?;
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(retry_after),
        );
        return Ok(with_cookie(response, cookie));
    }
    let (email, password, now) = (form.email.clone(), form.password.clone(), state.clock.now());
    // The slow password check runs outside any write transaction; a new session id on
    // every login.
    let organizer = state
        .db
        .read(move |conn| organizers::authenticate(conn, &email, &password))
        .await?;
    state
        .login_limit
        .record(client, &form.email, organizer.is_some(), known_device);
    let session = match organizer {
        Some(o) => Some(
            state
                .db
                .write(move |conn| organizers::start_session(conn, o.id, now))
                .await?,
        ),
        None => None,
    };
    match session {
        Some(token) => {
            let cookie = Cookie::build(SESSION_COOKIE, token)
                .path("/")
                .http_only(true)
                .secure(state.links.is_https())
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(
                    organizers::SESSION_DAYS,
                ))
                .finish();
            let mut response = with_cookie(see_other("/admin"), Some(cookie));
            let known = Cookie::build(DEVICE_COOKIE, device)
                .path("/login")
                .http_only(true)
                .secure(state.links.is_https())
                .same_site(SameSite::Strict)
                .max_age(actix_web::cookie::time::Duration::days(180))
                .finish();
            response
                .add_cookie(&known)
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok(response)
        }
        None => {
            let (csrf, cookie) = csrf_token(&req, &state.links);
            Ok(with_cookie(
                render(
                    StatusCode::UNAUTHORIZED,
                    &LoginPage {
                        csrf,
                        email: form.email,
                        failed: true,
                        limited: false,
                    },
                )?,
                cookie,
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    req: HttpRequest,
    state: State,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        state
            .db
            .write(move |conn| organizers::end_session(conn, &token))
            .await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    Ok(with_cookie(see_other("/"), Some(gone)))
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
}

pub async fn dashboard(
    req: HttpRequest,
    state: State,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let summaries = state
        .db
        .read(move |conn| {
            let rows = events::list(conn, events::Period::All, None, now, 2000)?;
            events::with_waitlists(conn, rows)
        })
        .await?;
    let mut views = Vec::new();
    for s in summaries.into_iter().rev() {
        let e = s.event;
        views.push(EventRowView {
            when: e.window()?.human(),
            slug: e.slug,
            title: e.title,
            kind: e.kind.to_string(),
            going: e.going_count,
            capacity: e.capacity,
            waitlist: s.waitlist_count,
            status: e.status.to_string(),
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

#[derive(Deserialize, Default, Clone)]
pub struct EventForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    all_day: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    venue: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    online_url: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    reminder_offsets: String,
}

impl EventForm {
    fn input(&self, creating: bool) -> Result<EventInput, Problems> {
        let capacity = form_capacity(&self.capacity)?;
        let text = |s: &str| Some(s.to_owned());
        Ok(EventInput {
            slug: (!self.slug.trim().is_empty() || !creating)
                .then(|| self.slug.clone())
                .filter(|s| !s.trim().is_empty()),
            kind: text(&self.kind),
            title: text(&self.title),
            summary: text(&self.summary),
            description: text(&self.description),
            timezone: text(&self.timezone),
            starts_at: text(&self.starts_at),
            ends_at: text(&self.ends_at),
            all_day: Some(self.all_day == "on"),
            venue: text(&self.venue),
            address: text(&self.address),
            online_url: Some(Some(self.online_url.clone())),
            capacity: Some(capacity),
            signup_opens_at: None,
            signup_closes_at: None,
            reminder_offsets: Some(match self.reminder_offsets.trim() {
                "" => None,
                "none" => Some(String::new()),
                own => Some(own.to_owned()),
            }),
        })
    }

    fn of(e: &events::EventRow) -> Self {
        // Seconds only when there are some, so saving the form unchanged changes nothing.
        let format = match (
            e.all_day,
            chrono::Timelike::second(&e.starts_local) + chrono::Timelike::second(&e.ends_local),
        ) {
            (true, _) => "%Y-%m-%d",
            (false, 0) => "%Y-%m-%dT%H:%M",
            (false, _) => "%Y-%m-%dT%H:%M:%S",
        };
        Self {
            csrf: String::new(),
            title: e.title.clone(),
            slug: e.slug.clone(),
            kind: e.kind.to_string(),
            summary: e.summary.clone(),
            description: e.description.clone(),
            timezone: e.timezone.clone(),
            all_day: if e.all_day {
                "on".into()
            } else {
                String::new()
            },
            starts_at: e.starts_local.format(format).to_string(),
            ends_at: e.ends_local.format(format).to_string(),
            venue: e.venue.clone(),
            address: e.address.clone(),
            online_url: e.online_url.clone().unwrap_or_default(),
            capacity: e.capacity.map(|c| c.to_string()).unwrap_or_default(),
            reminder_offsets: match e.reminder_offsets.as_deref() {
                Some("") => "none".into(),
                other => other.unwrap_or_default().to_owned(),
            },
        }
    }

    fn fields(&self, problems: &[FieldProblem]) -> Vec<FormField> {
        let mut kind = field("kind", "Kind", "", "select", &self.kind, problems);
        kind.options = EventKind::ALL
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        vec![
            field("title", "Title", "", "text", &self.title, problems),
            field(
                "slug",
                "Address",
                "(letters, digits and hyphens; made from the title if empty)",
                "text",
                &self.slug,
                problems,
            ),
            kind,
            field(
                "summary",
                "Summary",
                "(one line)",
                "text",
                &self.summary,
                problems,
            ),
            field(
                "description",
                "Description",
                "(Markdown)",
                "textarea",
                &self.description,
                problems,
            ),
            field(
                "timezone",
                "Time zone",
                "(such as Europe/Berlin)",
                "text",
                &self.timezone,
                problems,
            ),
            field(
                "all_day",
                "All day",
                "(whole days: give dates below)",
                "checkbox",
                &self.all_day,
                problems,
            ),
            field(
                "starts_at",
                "Starts",
                "(2027-03-06T09:30, or a date for all-day events)",
                "text",
                &self.starts_at,
                problems,
            ),
            field(
                "ends_at",
                "Ends",
                "(for all-day events: the last day)",
                "text",
                &self.ends_at,
                problems,
            ),
            field("venue", "Venue", "", "text", &self.venue, problems),
            field("address", "Address", "", "text", &self.address, problems),
            field(
                "online_url",
                "Online link",
                "(https://...)",
                "text",
                &self.online_url,
                problems,
            ),
            field(
                "capacity",
                "Seats",
                "(empty: no limit)",
                "text",
                &self.capacity,
                problems,
            ),
            field(
                "reminder_offsets",
                "Reminders",
                "(such as 24h,1h; empty: the default; none: no reminders)",
                "text",
                &self.reminder_offsets,
                problems,
            ),
        ]
    }
}

struct ProjectLine {
    slug: String,
    name: String,
    location: String,
    joined: i64,
}

#[derive(Template)]
#[template(path = "admin/event_form.html")]
struct EventFormPage {
    csrf: String,
    editing: bool,
    slug: String,
    cancelled: bool,
    f: EventForm,
    fields: Vec<FormField>,
    problems: Vec<FieldProblem>,
    projects: Vec<ProjectLine>,
    flash: Option<&'static str>,
    mail: MailSummary,
    message: MessageValues,
}

/// The message form as sent, and what was wrong with it.
#[derive(Default)]
struct MessageValues {
    subject: String,
    body: String,
    project: String,
    problems: Vec<FieldProblem>,
}

impl MessageValues {
    fn problem(&self, field: &str) -> Option<&str> {
        problem_for(&self.problems, field)
    }
}

/// How an event's mail is doing, for its organizers.
#[derive(Default)]
struct MailSummary {
    sent: usize,
    pending: usize,
    skipped: usize,
    failed: Vec<(String, String, String)>,
}

pub async fn new_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
) -> Result<HttpResponse, PageError> {
    let f = EventForm {
        kind: "sprint".into(),
        timezone: "UTC".into(),
        ..EventForm::default()
    };
    event_form(&req, &state, None, f, Vec::new(), None, StatusCode::OK).await
}

async fn event_form(
    req: &HttpRequest,
    state: &State,
    slug: Option<String>,
    f: EventForm,
    problems: Vec<FieldProblem>,
    flash: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let message = MessageValues::default();
    event_page(req, state, (slug, f, problems), flash, status, message).await
}

/// The event's form page: the event form (with its problems) and the message form.
async fn event_page(
    req: &HttpRequest,
    state: &State,
    form: (Option<String>, EventForm, Vec<FieldProblem>),
    flash: Option<&'static str>,
    status: StatusCode,
    message: MessageValues,
) -> Result<HttpResponse, PageError> {
    let (slug, f, problems) = form;
    let (projects, cancelled, mail) = match slug.clone() {
        Some(slug) => {
            state
                .db
                .read(move |conn| {
                    let event = events::find_by_slug(conn, &slug)?;
                    let details = projects::details_for_event(conn, event.id)?;
                    let messages = crate::db::outbox::for_event(conn, event.id, 5000)?;
                    let mut mail = MailSummary::default();
                    for m in &messages {
                        match m.state() {
                            "sent" => mail.sent += 1,
                            "pending" => mail.pending += 1,
                            "skipped" => mail.skipped += 1,
                            _ => mail.failed.push((
                                m.recipient.clone(),
                                m.kind.replace('_', " "),
                                m.last_error.clone().unwrap_or_default(),
                            )),
                        }
                    }
                    Ok((
                        details
                            .into_iter()
                            .map(|d| ProjectLine {
                                slug: d.project.slug,
                                name: d.project.name,
                                location: d.project.location,
                                joined: d.joined,
                            })
                            .collect(),
                        event.status() == EventStatus::Cancelled,
                        mail,
                    ))
                })
                .await?
        }
        None => (Vec::new(), false, MailSummary::default()),
    };
    let (csrf, cookie) = csrf_token(req, &state.links);
    let page = EventFormPage {
        csrf,
        editing: slug.is_some(),
        slug: slug.unwrap_or_default(),
        cancelled,
        fields: f.fields(&problems),
        f,
        problems,
        projects,
        flash,
        mail,
        message,
    };
    Ok(with_cookie(render(status, &page)?, cookie))
}

pub async fn create_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    form: HtmlForm<EventForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let draft = form.input(true).and_then(|input| input.into_draft(None));
    let draft = match draft {
        Ok(d) => d,
        Err(p) => {
            return event_form(
                &req,
                &state,
                None,
                form,
                p.into_list(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match service::events::create(&state.service, draft).await {
        Ok(summary) => Ok(see_other(&format!(
            "/admin/events/{}?done=created",
            summary.event.slug
        ))),
        Err(AppError::Invalid(p)) => {
            event_form(
                &req,
                &state,
                None,
                form,
                p.into_list(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn edit_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let lookup = slug.clone();
    let event = state
        .db
        .read(move |conn| events::find_by_slug(conn, &lookup))
        .await?;
    let flash = match query.done.as_deref() {
        Some("created") => Some("The event is created. Add its projects below."),
        Some("saved") => {
            Some("Saved. If the time or place changed, everyone signed up is told by email.")
        }
        Some("cancelled") => Some("The event is cancelled and everyone signed up is told."),
        Some("project") => Some("The projects are updated."),
        Some("message") => Some("Your message is on its way to the attendees."),
        _ => None,
    };
    event_form(
        &req,
        &state,
        Some(slug),
        EventForm::of(&event),
        Vec::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

pub async fn update_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<EventForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let slug = slug.into_inner();
    let input = match form.input(false) {
        Ok(i) => i,
        Err(p) => {
            return event_form(
                &req,
                &state,
                Some(slug),
                form,
                p.into_list(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let change = service::events::change(&state.service, slug.clone(), move |current| {
        input.into_draft(Some(current))
    });
    match change.await {
        Ok(summary) => Ok(see_other(&format!(
            "/admin/events/{}?done=saved",
            summary.event.slug
        ))),
        Err(AppError::Invalid(p)) => {
            event_form(
                &req,
                &state,
                Some(slug),
                form,
                p.into_list(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn cancel_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let slug = slug.into_inner();
    service::events::cancel(&state.service, slug.clone()).await?;
    Ok(see_other(&format!("/admin/events/{slug}?done=cancelled")))
}

#[derive(Deserialize, Default, Clone)]
pub struct ProjectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    repository_url: String,
    #[serde(default)]
    notes_url: String,
    #[serde(default)]
    capacity: String,
    /// One lead per line: `Name` or `Name <email>`.
    #[serde(default)]
    leads: String,
}

impl ProjectForm {
    fn input(&self, creating: bool) -> Result<ProjectInput, Problems> {
        let capacity = form_capacity(&self.capacity)?;
        let leads = self
            .leads
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| match line.split_once('<') {
                Some((name, rest)) => LeadInput {
                    name: name.trim().to_owned(),
                    email: Some(rest.trim_end_matches('>').trim().to_owned()),
                },
                None => LeadInput {
                    name: line.to_owned(),
                    email: None,
                },
            })
            .collect();
        Ok(ProjectInput {
            slug: (!self.slug.trim().is_empty() || !creating)
                .then(|| self.slug.clone())
                .filter(|s| !s.trim().is_empty()),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            repository_url: Some(Some(self.repository_url.clone())),
            notes_url: Some(Some(self.notes_url.clone())),
            location: Some(self.location.clone()),
            capacity: Some(capacity),
            leads: Some(leads),
        })
    }

    fn fields(&self, problems: &[FieldProblem]) -> Vec<FormField> {
        vec![
            field("name", "Name", "", "text", &self.name, problems),
            field(
                "slug",
                "Address",
                "(made from the name if empty)",
                "text",
                &self.slug,
                problems,
            ),
            field(
                "location",
                "Room or table",
                "",
                "text",
                &self.location,
                problems,
            ),
            field(
                "description",
                "What it is",
                "",
                "textarea",
                &self.description,
                problems,
            ),
            field(
                "repository_url",
                "Repository",
                "(https://...)",
                "text",
                &self.repository_url,
                problems,
            ),
            field(
                "notes_url",
                "Notes pad",
                "(https://...)",
                "text",
                &self.notes_url,
                problems,
            ),
            field(
                "capacity",
                "Places",
                "(empty: no limit)",
                "text",
                &self.capacity,
                problems,
            ),
            field(
                "leads",
                "Leads",
                "(one per line: Name <email>; addresses are never shown)",
                "textarea",
                &self.leads,
                problems,
            ),
        ]
    }
}

#[derive(Template)]
#[template(path = "admin/project_form.html")]
struct ProjectFormPage {
    csrf: String,
    editing: bool,
    slug: String,
    project_slug: String,
    event_title: String,
    name: String,
    fields: Vec<FormField>,
    problems: Vec<FieldProblem>,
}

async fn project_form(
    req: &HttpRequest,
    state: &State,
    slug: String,
    project: Option<String>,
    f: ProjectForm,
    problems: Vec<FieldProblem>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let lookup = slug.clone();
    let event = state
        .db
        .read(move |conn| events::find_by_slug(conn, &lookup))
        .await?;
    let (csrf, cookie) = csrf_token(req, &state.links);
    let page = ProjectFormPage {
        csrf,
        editing: project.is_some(),
        project_slug: project.unwrap_or_default(),
        slug,
        event_title: event.title,
        name: f.name.clone(),
        fields: f.fields(&problems),
        problems,
    };
    Ok(with_cookie(render(status, &page)?, cookie))
}

pub async fn new_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    project_form(
        &req,
        &state,
        slug.into_inner(),
        None,
        ProjectForm::default(),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn create_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<ProjectForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let slug = slug.into_inner();
    let draft = match form.input(true).and_then(|i| i.into_draft(None)) {
        Ok(d) => d,
        Err(p) => {
            return project_form(
                &req,
                &state,
                slug,
                None,
                form,
                p.into_list(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let saved = service::projects::create(&state.service, slug.clone(), draft).await;
    match saved {
        Ok(_) => Ok(see_other(&format!("/admin/events/{slug}?done=project"))),
        Err(AppError::Invalid(p)) => {
            project_form(
                &req,
                &state,
                slug,
                None,
                form,
                p.into_list(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn edit_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, project) = path.into_inner();
    let (s, p) = (slug.clone(), project.clone());
    let detail = state
        .db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &s)?;
            let row = projects::find_by_slug(conn, event.id, &p)?;
            Ok(projects::details(conn, vec![row])?.remove(0))
        })
        .await?;
    let p = &detail.project;
    let form = ProjectForm {
        csrf: String::new(),
        name: p.name.clone(),
        slug: p.slug.clone(),
        description: p.description.clone(),
        location: p.location.clone(),
        repository_url: p.repository_url.clone().unwrap_or_default(),
        notes_url: p.notes_url.clone().unwrap_or_default(),
        capacity: p.capacity.map(|c| c.to_string()).unwrap_or_default(),
        leads: detail
            .leads
            .iter()
            .map(|l| match &l.email {
                Some(e) => format!("{} <{e}>", l.name),
                None => l.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    project_form(
        &req,
        &state,
        slug,
        Some(project),
        form,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn update_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
    form: HtmlForm<ProjectForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let (slug, project) = path.into_inner();
    let input = match form.input(false) {
        Ok(i) => i,
        Err(p) => {
            return project_form(
                &req,
                &state,
                slug,
                Some(project),
                form,
                p.into_list(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let saved = service::projects::change(
        &state.service,
        slug.clone(),
        project.clone(),
        move |current| input.into_draft(Some(current)),
    )
    .await;
    match saved {
        Ok(_) => Ok(see_other(&format!("/admin/events/{slug}?done=project"))),
        Err(AppError::Invalid(p)) => {
            project_form(
                &req,
                &state,
                slug,
                Some(project),
                form,
                p.into_list(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let (slug, project) = path.into_inner();
    service::projects::remove(&state.service, slug.clone(), project).await?;
    Ok(see_other(&format!("/admin/events/{slug}?done=project")))
}

struct AttendeeLine {
    name: String,
    email: String,
    status: String,
    projects: String,
    registered: String,
}

#[derive(Template)]
#[template(path = "admin/attendees.html")]
struct AttendeesPage {
    slug: String,
    title: String,
    going: usize,
    waiting: usize,
    cancelled: usize,
    rows: Vec<AttendeeLine>,
}

async fn attendee_lines(
    state: &State,
    slug: String,
) -> Result<(events::EventRow, Vec<AttendeeLine>), PageError> {
    let (event, views) = state
        .db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let views = registrations::list_for_event(conn, event.id)?;
            Ok((event, views))
        })
        .await?;
    let lines = views
        .iter()
        .map(|v| AttendeeLine {
            name: v.registration.name.clone(),
            email: v.registration.email.clone(),
            status: match v.waitlist_position {
                Some(n) => format!("waitlisted #{n}"),
                None => v.registration.status.to_string(),
            },
            projects: v
                .projects
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            registered: v
                .registration
                .created_at
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        })
        .collect();
    Ok((event, lines))
}

pub async fn attendees(
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (event, rows) = attendee_lines(&state, slug.into_inner()).await?;
    let count = |prefix: &str| rows.iter().filter(|r| r.status.starts_with(prefix)).count();
    let page = AttendeesPage {
        going: count("going"),
        waiting: count("waitlisted"),
        cancelled: count("cancelled"),
        slug: event.slug,
        title: event.title,
        rows,
    };
    render(StatusCode::OK, &page)
}

/// A CSV cell: quoted, and a leading `= + - @` neutralized so spreadsheets do not run it.
fn csv_cell(value: &str) -> String {
    let safe = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

pub async fn attendees_csv(
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (event, rows) = attendee_lines(&state, slug.into_inner()).await?;
    let mut csv = String::from("name,email,status,projects,registered\r\n");
    for r in &rows {
        let cells = [&r.name, &r.email, &r.status, &r.projects, &r.registered].map(|c| csv_cell(c));
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}-attendees.csv\"", event.slug),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(csv))
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralized() {
        assert_eq!(csv_cell("Ada \"the\" first"), "\"Ada \"\"the\"\" first\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    project: String,
}

/// The organizer's message to everyone at the event, or at one project: the same checks and
/// field messages as the API's, shown on the event's form.
pub async fn send_message(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<MessageForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let slug = slug.into_inner();
    let sent = match Message::parse(&form.subject, &form.body, Some(&form.project)) {
        Ok(message) => service::messages::send(&state.service, slug.clone(), message)
            .await
            .map(|_| ()),
        Err(problems) => Err(AppError::Invalid(problems)),
    };
    match sent {
        Ok(()) => Ok(see_other(&format!("/admin/events/{slug}?done=message"))),
        Err(AppError::Invalid(problems)) => {
            let event = service::events::get(&state.service, slug.clone()).await?;
            let message = MessageValues {
                subject: form.subject,
                body: form.body,
                project: form.project,
                problems: problems.into_list(),
            };
            let event_form = (Some(slug), EventForm::of(&event.event), Vec::new());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            event_page(&req, &state, event_form, None, status, message).await
        }
        Err(e) => Err(e.into()),
    }
}
