//! The event form: creating, changing and cancelling an event, the state of its mail, and the
//! message to its attendees.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::login::CsrfForm;
use super::{Admin, FormField, field, form_capacity};
use crate::db::events::{EventRow, EventSummary};
use crate::domain::notice::ReplyTo;
use crate::domain::{EventDraft, EventKind, EventStatus, FieldProblem, Problems};
use crate::http::State;
use crate::http::api::events::EventInput;
use crate::http::pages::site::{
    ConfirmPage, HtmlForm, PageError, check_csrf, confirm, csrf_token, problem_for,
    redirect_or_form_again, render, see_other, with_cookie,
};
use crate::service;
use crate::service::events::Publish;
use crate::service::messages::Message;

/// A form sent back with its problems.
const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

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
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    signup_opens_at: String,
    #[serde(default)]
    signup_closes_at: String,
    /// Which button created it: `draft` keeps a new event a draft.
    #[serde(default)]
    save: String,
}

impl EventForm {
    /// The API input this form stands for, and the problems of the fields the form itself
    /// reads (numbers, the signup window); a field with a problem is left out of the input,
    /// so that the checks of the use case still report every other field at once.
    fn input(&self, creating: bool) -> (EventInput, Problems) {
        let mut early = Problems::new();
        let capacity = match form_capacity(&self.capacity) {
            Ok(capacity) => Some(capacity),
            Err(problems) => {
                for f in problems.into_list() {
                    early.add(f.field, f.message);
                }
                None
            }
        };
        let mut degrees = |field: &str, raw: &str| match raw.trim() {
            "" => Some(None),
            n => match n.parse::<f64>() {
                Ok(v) => Some(Some(v)),
                Err(_) => {
                    early.add(field, "must be a number of degrees, such as 52.5125");
                    None
                }
            },
        };
        let latitude = degrees("latitude", &self.latitude);
        let longitude = degrees("longitude", &self.longitude);
        // The signup window is written in the event's own zone, as its times are.
        let mut instant = |field: &str, raw: &str| match raw.trim() {
            "" => Some(None),
            raw => match wall_time_instant(raw, self.timezone.trim()) {
                Some(Ok(text)) => Some(Some(text)),
                Some(Err(message)) => {
                    early.add(field, message);
                    None
                }
                // Without a zone there is nothing to read it in: the zone's problem is shown.
                None => None,
            },
        };
        let signup_opens_at = instant("signup_opens_at", &self.signup_opens_at);
        let signup_closes_at = instant("signup_closes_at", &self.signup_closes_at);
        let text = |s: &str| Some(s.to_owned());
        let input = EventInput {
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
            capacity,
            signup_opens_at,
            signup_closes_at,
            reminder_offsets: Some(match self.reminder_offsets.trim() {
                "" => None,
                "none" => Some(String::new()),
                own => Some(own.to_owned()),
            }),
            contact_name: text(&self.contact_name),
            contact_email: Some(Some(self.contact_email.clone())),
            latitude,
            longitude,
            draft: None,
        };
        (input, early)
    }

    /// The event this form asks for (`base`: the stored one it changes), or every problem of
    /// the form at once.
    fn draft(&self, base: Option<EventDraft>) -> Result<EventDraft, Problems> {
        let (input, mut problems) = self.input(base.is_none());
        match input.into_draft(base) {
            Ok(draft) if problems.is_empty() => Ok(draft),
            Ok(_) => Err(problems),
            Err(more) => {
                for f in more.into_list() {
                    if !problems.has(&f.field) {
                        problems.add(f.field, f.message);
                    }
                }
                Err(problems)
            }
        }
    }

    /// Whether the organizer asked to keep a new event a draft.
    fn publish(&self) -> Publish {
        if self.save == "draft" {
            Publish::Later
        } else {
            Publish::Now
        }
    }

    fn of(e: &EventRow) -> Self {
        let window = e.window().ok();
        let window = window.as_ref();
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
            // The window read back, not the raw columns: a wall time stored before skipped
            // times were refused shows as the time it stands for.
            starts_at: form_time(
                e,
                window.map_or(e.starts_local, |w| w.starts_local()),
                e.starts_at,
                format,
            ),
            ends_at: form_time(
                e,
                window.map_or(e.ends_local, |w| w.ends_local()),
                e.ends_at,
                format,
            ),
            venue: e.venue.clone(),
            address: e.address.clone(),
            online_url: e.online_url.clone().unwrap_or_default(),
            capacity: e.capacity.map(|c| c.to_string()).unwrap_or_default(),
            reminder_offsets: match e.reminder_offsets.as_deref() {
                Some("") => "none".into(),
                other => other.unwrap_or_default().to_owned(),
            },
            contact_name: e.contact_name.clone(),
            contact_email: e.contact_email.clone().unwrap_or_default(),
            latitude: e.latitude.map(|v| v.to_string()).unwrap_or_default(),
            longitude: e.longitude.map(|v| v.to_string()).unwrap_or_default(),
            signup_opens_at: window_field(e.signup_opens_at, &e.timezone),
            signup_closes_at: window_field(e.signup_closes_at, &e.timezone),
            save: String::new(),
        }
    }

    /// A copy to start a new event from: everything but the web address, titled as a copy.
    fn duplicate(e: &EventRow) -> Self {
        Self {
            slug: String::new(),
            title: format!("{} (copy)", e.title),
            ..Self::of(e)
        }
    }

    fn fields(&self, problems: &[FieldProblem]) -> Vec<FormField> {
        let mut kind = field("kind", "Kind", "", "select", &self.kind, problems);
        kind.options = EventKind::ALL
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        let mut timezone = field(
            "timezone",
            "Time zone",
            "(the times below are in it)",
            "select",
            &self.timezone,
            problems,
        );
        timezone.options = crate::domain::time::zone_names(&self.timezone);
        // A time the browser's picker cannot hold (with an offset: a wall time that happens
        // twice) stays a text field, so that saving the form unchanged keeps it.
        let time_kind = |value: &str| match (self.all_day == "on", value.len() > 19) {
            (true, _) => "date",
            (false, false) => "datetime-local",
            (false, true) => "text",
        };
        let mut capacity = field(
            "capacity",
            "Seats",
            "(empty: no limit)",
            "number",
            &self.capacity,
            problems,
        );
        capacity.extra = "min=\"0\" max=\"100000\" step=\"1\"";
        let mut latitude = field(
            "latitude",
            "Latitude",
            "(degrees north, such as 52.5125; for the map pin in calendars)",
            "number",
            &self.latitude,
            problems,
        );
        latitude.extra = "min=\"-90\" max=\"90\" step=\"any\"";
        let mut longitude = field(
            "longitude",
            "Longitude",
            "(degrees east, such as 13.3269)",
            "number",
            &self.longitude,
            problems,
        );
        longitude.extra = "min=\"-180\" max=\"180\" step=\"any\"";
        let mut fields = vec![
            field("title", "Title", "", "text", &self.title, problems),
            field(
                "slug",
                "Web address",
                "(the end of the event's link, /events/…: letters, digits and hyphens; made from the title if empty)",
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
            timezone,
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
                "",
                time_kind(&self.starts_at),
                &self.starts_at,
                problems,
            ),
            field(
                "ends_at",
                "Ends",
                "(for all-day events: the last day)",
                time_kind(&self.ends_at),
                &self.ends_at,
                problems,
            ),
            field("venue", "Venue", "", "text", &self.venue, problems),
            field(
                "address",
                "Street address",
                "(a map link is made from it)",
                "text",
                &self.address,
                problems,
            ),
            field(
                "online_url",
                "Online link",
                "(https://...)",
                "url",
                &self.online_url,
                problems,
            ),
            capacity,
            field(
                "signup_opens_at",
                "Signup opens",
                "(in the event's time zone; empty: now)",
                "datetime-local",
                &self.signup_opens_at,
                problems,
            ),
            field(
                "signup_closes_at",
                "Signup closes",
                "(in the event's time zone; empty: when the event ends)",
                "datetime-local",
                &self.signup_closes_at,
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
            field(
                "contact_name",
                "Organized by",
                "(shown in calendars as the organizer)",
                "text",
                &self.contact_name,
                problems,
            ),
            field(
                "contact_email",
                "Organizers' email",
                "(public: calendar entries name it as the organizer; empty: this site's address in mail)",
                "email",
                &self.contact_email,
                problems,
            ),
            latitude,
            longitude,
        ];
        for f in &mut fields {
            if f.kind == "datetime-local" && f.value.len() > 16 {
                // The picker shows minutes; seconds, when given, stay.
                f.extra = "step=\"1\"";
            }
        }
        fields
    }
}

/// A stored signup-window instant as the form shows it: wall time in the event's zone.
fn window_field(at: Option<NaiveDateTime>, tz: &str) -> String {
    at.and_then(|at| crate::domain::time::local_naive(at, tz))
        .map(|local| local.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// A wall time written in the form, read in the event's zone, as the instant the API takes;
/// None when the zone is unknown (its own problem is shown). A time the clocks skip is read
/// as the time after the gap, as clocks show it.
fn wall_time_instant(raw: &str, tz: &str) -> Option<Result<String, String>> {
    let zone = jiff::tz::TimeZone::get(tz).ok()?;
    Some(
        raw.parse::<jiff::civil::DateTime>()
            .map_err(|_| "must be a date and time such as 2027-03-01T12:00".to_owned())
            .and_then(|local| {
                zone.to_ambiguous_zoned_datetime(local)
                    .compatible()
                    .map(|z| z.timestamp().to_string())
                    .map_err(|_| "is out of range".to_owned())
            }),
    )
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
    draft: bool,
    /// Nobody ever signed up: it may be deleted.
    deletable: bool,
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

#[derive(Deserialize)]
pub struct NewQuery {
    /// The event to start from ("duplicate this event").
    from: Option<String>,
}

pub async fn new_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, PageError> {
    let f = match query.into_inner().from {
        Some(slug) => EventForm::duplicate(&service::events::find(&state.service, slug).await?),
        None => EventForm {
            kind: "sprint".into(),
            timezone: "UTC".into(),
            ..EventForm::default()
        },
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
    let (projects, (cancelled, draft, deletable), mail) = match slug.clone() {
        Some(slug) => {
            let view = service::events::for_organizers(&state.service, slug).await?;
            let mut mail = MailSummary::default();
            for m in &view.messages {
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
            let projects = view
                .projects
                .into_iter()
                .map(|d| ProjectLine {
                    slug: d.project.slug,
                    name: d.project.name,
                    location: d.project.location,
                    joined: d.joined,
                })
                .collect();
            let states = (
                view.event.status() == EventStatus::Cancelled,
                view.event.is_draft(),
                !view.has_registrations,
            );
            (projects, states, mail)
        }
        None => (Vec::new(), (false, true, false), MailSummary::default()),
    };
    let (csrf, cookie) = csrf_token(req, &state.links);
    let page = EventFormPage {
        csrf,
        editing: slug.is_some(),
        slug: slug.unwrap_or_default(),
        cancelled,
        draft,
        deletable,
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
    let outcome = match form.draft(None) {
        Ok(draft) => service::events::create(&state.service, draft, form.publish()).await,
        Err(problems) => Err(problems.into()),
    };
    let again = |problems| event_form(&req, &state, None, form, problems, None, INVALID);
    let done = |s: EventSummary| {
        let done = if s.event.is_draft() {
            "draft"
        } else {
            "created"
        };
        format!("/admin/events/{}?done={done}", s.event.slug)
    };
    redirect_or_form_again(outcome, done, again).await
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
    let event = service::events::get(&state.service, slug.clone())
        .await?
        .event;
    let flash = match query.done.as_deref() {
        Some("created") => Some("The event is created. Add its projects below."),
        Some("saved") => {
            Some("Saved. If the time or place changed, everyone signed up is told by email.")
        }
        Some("cancelled") => Some("The event is cancelled and everyone signed up is told."),
        Some("project") => Some("The projects are updated."),
        Some("message") => Some("Your message is on its way to the attendees."),
        Some("draft") => Some(
            "Saved as a draft: only organizers see it. Add its projects below, then publish it.",
        ),
        Some("published") => Some(
            "Published: the event is on the public pages and in the feeds, and open for signup.",
        ),
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
    let checked = form.clone();
    let apply = move |current| checked.draft(Some(current));
    let outcome = service::events::change(&state.service, slug.clone(), apply).await;
    let again = |problems| event_form(&req, &state, Some(slug), form, problems, None, INVALID);
    let done = |s: EventSummary| format!("/admin/events/{}?done=saved", s.event.slug);
    redirect_or_form_again(outcome, done, again).await
}

/// "Cancel this event": asks first, saying how many people will be mailed.
pub async fn cancel_event_confirm(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let summary = service::events::get(&state.service, slug.clone()).await?;
    let back = format!("/admin/events/{slug}");
    if summary.event.status() == EventStatus::Cancelled {
        return Ok(see_other(&back));
    }
    let question = format!("Cancel {}?", summary.event.title);
    let consequence = format!(
        "Everyone signed up ({} going, {} on the waitlist) is told by email that it will not take place. The event stays on its page and in calendar feeds, marked cancelled. This cannot be undone.",
        summary.event.going_count, summary.waitlist_count
    );
    let action = format!("/admin/events/{slug}/cancel");
    confirm(
        &req,
        &state.links,
        ConfirmPage {
            question: &question,
            consequence: &consequence,
            action: &action,
            csrf: String::new(),
            yes: "Yes, cancel the event",
            no: "No, keep it",
            back: &back,
        },
    )
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
    Ok(back_to_form(&slug, "cancelled"))
}

/// Back to the event's form, saying what was `done`.
fn back_to_form(slug: &str, done: &str) -> HttpResponse {
    see_other(&format!("/admin/events/{slug}?done={done}"))
}

pub async fn publish_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let slug = slug.into_inner();
    service::events::publish(&state.service, slug.clone()).await?;
    Ok(back_to_form(&slug, "published"))
}

/// "Delete this event": asks first; an event people signed up for can only be cancelled.
pub async fn delete_event_confirm(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let view = service::events::for_organizers(&state.service, slug.clone()).await?;
    let back = format!("/admin/events/{slug}");
    if view.has_registrations {
        return Ok(see_other(&back));
    }
    let question = format!("Delete {}?", view.event.title);
    let consequence = format!(
        "The event and its {} projects are removed for good. Nobody has signed up, so nobody is told.",
        view.projects.len()
    );
    let action = format!("/admin/events/{slug}/delete");
    confirm(
        &req,
        &state.links,
        ConfirmPage {
            question: &question,
            consequence: &consequence,
            action: &action,
            csrf: String::new(),
            yes: "Yes, delete the event",
            no: "No, keep it",
            back: &back,
        },
    )
}

pub async fn delete_event(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    service::events::delete(&state.service, slug.into_inner()).await?;
    Ok(see_other("/admin?done=deleted"))
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
    admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<MessageForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let slug = slug.into_inner();
    let sent = match Message::parse(&form.subject, &form.body, Some(&form.project)) {
        Ok(message) => {
            let reply_to = ReplyTo {
                name: admin.0.name.clone(),
                email: admin.0.email.clone(),
            };
            service::messages::send(&state.service, slug.clone(), message, Some(reply_to)).await
        }
        Err(problems) => Err(problems.into()),
    };
    let done = |_| format!("/admin/events/{slug}?done=message");
    let again = |problems| async {
        let event = service::events::get(&state.service, slug.clone()).await?;
        let message = MessageValues {
            subject: form.subject,
            body: form.body,
            project: form.project,
            problems,
        };
        let event_form = (Some(slug.clone()), EventForm::of(&event.event), Vec::new());
        event_page(&req, &state, event_form, None, INVALID, message).await
    };
    redirect_or_form_again(sent, done, again).await
}

/// A time as the event form shows it: wall-clock time, with its offset where that time happens
/// twice that day, so saving the form unchanged keeps the instant.
fn form_time(e: &EventRow, local: NaiveDateTime, utc: NaiveDateTime, format: &str) -> String {
    let zone = jiff::tz::TimeZone::get(&e.timezone).ok();
    let ts = jiff::Timestamp::from_second(utc.and_utc().timestamp()).ok();
    match (zone, ts) {
        (Some(zone), Some(ts)) if !e.all_day && crate::domain::time::in_fold(&zone, ts) => ts
            .to_zoned_datetime(zone)
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        _ => local.format(format).to_string(),
    }
}
