//! `/api/v1/events`: list and create; one event: get, update, cancel.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::events::{EventSummary, Filter, Period};
use crate::domain::ReminderOffsets;
use crate::domain::drafts::{DESCRIPTION_MAX, NAME_MAX, PLACE_MAX, SUMMARY_MAX, TITLE_MAX};
use crate::domain::time::{instant_text, parse_instant};
use crate::domain::{
    Capacity, EmailAddress, EventDraft, EventKind, EventWindow, Geo, LongText, Problems,
    SingleLine, Slug, WebUrl,
};
use crate::error::AppError;
use crate::http::State;
use crate::http::auth::Organizer;
use crate::http::input::{nullable, nullable_whole};
use crate::links::Links;
use crate::service;
use crate::service::events::Publish;

/// An event as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventBody {
    pub slug: String,
    #[schema(value_type = crate::domain::EventKind)]
    pub kind: String,
    pub title: String,
    pub summary: String,
    /// Markdown.
    pub description: String,
    /// IANA time zone name.
    pub timezone: String,
    /// RFC 3339 with the event's local offset, or a date for all-day events.
    pub starts_at: String,
    /// RFC 3339 with the event's local offset, or the last day for all-day events.
    pub ends_at: String,
    pub all_day: bool,
    pub venue: String,
    pub address: String,
    #[schema(format = "uri")]
    pub online_url: Option<String>,
    /// Seats; null means unlimited.
    #[schema(minimum = 0, maximum = 100_000)]
    pub capacity: Option<i32>,
    #[schema(value_type = crate::domain::EventStatus)]
    pub status: String,
    /// Not yet published: only organizers see it, nobody can sign up, nothing is mailed.
    pub draft: bool,
    /// When it was published; null for a draft.
    #[schema(format = DateTime)]
    pub published_at: Option<String>,
    pub going_count: i32,
    pub waitlist_count: i64,
    #[schema(format = DateTime)]
    pub signup_opens_at: Option<String>,
    #[schema(format = DateTime)]
    pub signup_closes_at: Option<String>,
    /// Raised by every change of time, place or status; the iCalendar SEQUENCE.
    pub revision: i32,
    /// This event's own reminder offsets; null: the service default.
    pub reminder_offsets: Option<String>,
    /// Who organizes it: calendars show them as the organizer, and replies go there. Empty
    /// and null: the site's own sender.
    pub contact_name: String,
    #[schema(format = "email")]
    pub contact_email: Option<String>,
    /// Where it is on a map (degrees, WGS 84); both or neither.
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    #[schema(format = "uri")]
    pub url: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl EventBody {
    pub fn of(summary: &EventSummary, links: &Links) -> Result<Self, AppError> {
        let e = &summary.event;
        let window = e.window()?;
        Ok(Self {
            slug: e.slug.clone(),
            kind: e.kind.to_string(),
            title: e.title.clone(),
            summary: e.summary.clone(),
            description: e.description.clone(),
            timezone: e.timezone.clone(),
            starts_at: window.start_text(),
            ends_at: window.end_text(),
            all_day: e.all_day,
            venue: e.venue.clone(),
            address: e.address.clone(),
            online_url: e.online_url.clone(),
            capacity: e.capacity,
            status: e.status.to_string(),
            draft: e.is_draft(),
            published_at: e.published_at.map(instant_text),
            going_count: e.going_count,
            waitlist_count: summary.waitlist_count,
            signup_opens_at: e.signup_opens_at.map(instant_text),
            signup_closes_at: e.signup_closes_at.map(instant_text),
            revision: e.revision,
            reminder_offsets: e.reminder_offsets.clone(),
            contact_name: e.contact_name.clone(),
            contact_email: e.contact_email.clone(),
            latitude: e.latitude,
            longitude: e.longitude,
            url: links.event(&e.slug),
            created_at: instant_text(e.created_at),
            updated_at: instant_text(e.updated_at),
        })
    }
}

/// Fields to create an event with (kind, title, timezone, starts_at and ends_at are required)
/// or to change (every field optional; `null` clears the nullable ones).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "sprint", "title": "Django Sprint", "timezone": "Europe/Berlin",
    "starts_at": "2030-03-06T09:30", "ends_at": "2030-03-06T17:00", "capacity": 30}))]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Made from the title when left out on creation.
    #[schema(pattern = r"^\s*[a-z0-9]+(-[a-z0-9]+)*\s*$")]
    pub slug: Option<String>,
    #[schema(value_type = Option<crate::domain::EventKind>)]
    pub kind: Option<String>,
    #[schema(max_length = 200)]
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub timezone: Option<String>,
    /// RFC 3339, or a local date-time read in `timezone`, or a date for all-day events.
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub all_day: Option<bool>,
    pub venue: Option<String>,
    pub address: Option<String>,
    /// An http(s) URL; empty or null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri-reference")]
    pub online_url: Option<Option<String>>,
    /// Seats; null means unlimited.
    #[serde(default, deserialize_with = "nullable_whole")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100_000)]
    pub capacity: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub signup_opens_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub signup_closes_at: Option<Option<String>>,
    /// When reminders go out before the start, such as `24h,1h` (`""` for none); null: the
    /// service default.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub reminder_offsets: Option<Option<String>>,
    /// Who organizes it, as calendars show the organizer (empty: the site's sender).
    #[schema(max_length = 120)]
    pub contact_name: Option<String>,
    /// Where attendees' calendar replies go; empty or null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "email")]
    pub contact_email: Option<Option<String>>,
    /// Degrees north (negative: south); with `longitude`; null (for either) clears both.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = -90, maximum = 90)]
    pub latitude: Option<Option<f64>>,
    /// Degrees east (negative: west); with `latitude`, or null for neither.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = -180, maximum = 180)]
    pub longitude: Option<Option<f64>>,
    /// On creation only: `true` keeps the new event a draft (not public, no signups, no
    /// mail) until `POST /api/v1/events/{slug}/publish`. Default: published at once.
    pub draft: Option<bool>,
}

impl EventInput {
    /// Builds the draft this input asks for: a new event when `base` is None, else `base`
    /// with the given fields changed. Every invalid field is reported.
    pub fn into_draft(self, base: Option<EventDraft>) -> Result<EventDraft, Problems> {
        let mut p = Problems::new();
        let creating = base.is_none();
        let required = |p: &mut Problems, field: &str, value: &Option<String>| {
            if creating && value.is_none() {
                p.add(field, "is required");
            }
        };
        for (field, value) in [
            ("kind", &self.kind),
            ("title", &self.title),
            ("timezone", &self.timezone),
            ("starts_at", &self.starts_at),
            ("ends_at", &self.ends_at),
        ] {
            required(&mut p, field, value);
        }

        let title = self
            .title
            .as_deref()
            .and_then(|t| p.check("title", SingleLine::parse(t, TITLE_MAX)));
        let slug = match (&self.slug, &title, &base) {
            (Some(s), _, _) => p.check("slug", Slug::parse(s)),
            (None, Some(t), None) => p.check(
                "slug",
                Slug::from_title(t.as_str())
                    .ok_or_else(|| "could not be made from the title; give one".to_owned()),
            ),
            _ => None,
        };
        let kind = self
            .kind
            .as_deref()
            .and_then(|k| p.check("kind", EventKind::parse(k)));
        let summary = self
            .summary
            .as_deref()
            .and_then(|s| p.check("summary", SingleLine::parse_optional(s, SUMMARY_MAX)));
        let description = self
            .description
            .as_deref()
            .and_then(|d| p.check("description", LongText::parse(d, DESCRIPTION_MAX)));
        let venue = self
            .venue
            .as_deref()
            .and_then(|v| p.check("venue", SingleLine::parse_optional(v, PLACE_MAX)));
        let address = self
            .address
            .as_deref()
            .and_then(|a| p.check("address", SingleLine::parse_optional(a, PLACE_MAX)));
        let online_url = self.online_url.map(|u| {
            u.filter(|s| !s.trim().is_empty())
                .and_then(|s| p.check("online_url", WebUrl::parse(&s)))
        });
        let capacity = self
            .capacity
            .and_then(|c| p.check("capacity", Capacity::parse(c)));
        let opens = self
            .signup_opens_at
            .map(|o| o.and_then(|s| p.check("signup_opens_at", parse_instant(&s))));
        let closes = self
            .signup_closes_at
            .map(|o| o.and_then(|s| p.check("signup_closes_at", parse_instant(&s))));
        let reminders = self
            .reminder_offsets
            .map(|o| o.and_then(|s| p.check("reminder_offsets", ReminderOffsets::parse(&s))));
        let contact_name = self
            .contact_name
            .as_deref()
            .and_then(|n| p.check("contact_name", SingleLine::parse_optional(n, NAME_MAX)));
        let contact_email = self.contact_email.map(|e| {
            e.filter(|s| !s.trim().is_empty())
                .and_then(|s| p.check("contact_email", EmailAddress::parse(&s)))
        });
        // Coordinates change together: one given alone is read with the other as stored,
        // and a null for either clears both.
        let geo_touched = self.latitude.is_some() || self.longitude.is_some();
        let cleared = matches!(self.latitude, Some(None)) || matches!(self.longitude, Some(None));
        let stored_geo = base.as_ref().and_then(|b| b.geo);
        let geo = geo_touched
            .then(|| {
                if cleared {
                    return None;
                }
                let latitude = self.latitude.unwrap_or(stored_geo.map(|g| g.latitude()));
                let longitude = self.longitude.unwrap_or(stored_geo.map(|g| g.longitude()));
                match Geo::parse(latitude, longitude) {
                    Ok(geo) => Some(geo),
                    Err(problems) => {
                        for (field, message) in problems {
                            p.add(field, message);
                        }
                        None
                    }
                }
            })
            .map(Option::flatten);

        let window_touched = self.timezone.is_some()
            || self.starts_at.is_some()
            || self.ends_at.is_some()
            || self.all_day.is_some();
        let window = match (&base, window_touched) {
            (Some(b), false) => Some(b.window.clone()),
            _ => {
                let current = base.as_ref().map(|b| &b.window);
                let all_day = self
                    .all_day
                    .or(current.map(EventWindow::all_day))
                    .unwrap_or(false);
                let tz = self
                    .timezone
                    .clone()
                    .or(current.map(|w| w.timezone().as_str().to_owned()))
                    .unwrap_or_default();
                // A time left as it was keeps its instant while the zone and the kind of
                // event stay; with a new zone or kind it keeps its wall-clock time.
                let same_frame = current.is_some_and(|w| {
                    w.timezone().as_str() == tz.trim() && w.all_day() == all_day && !all_day
                });
                let kept = |local: chrono::NaiveDateTime, text: String| {
                    if same_frame {
                        text
                    } else if all_day {
                        local.format("%Y-%m-%d").to_string()
                    } else {
                        local.format("%Y-%m-%dT%H:%M:%S").to_string()
                    }
                };
                // Whole days that become timed keep their span: the end is midnight after
                // the last day, not midnight before it.
                let whole_days_end = |w: &EventWindow| {
                    if w.all_day() && !all_day {
                        w.ends_local() + chrono::Duration::days(1)
                    } else {
                        w.ends_local()
                    }
                };
                let starts = self
                    .starts_at
                    .clone()
                    .or(current.map(|w| kept(w.starts_local(), w.start_text())))
                    .unwrap_or_default();
                let ends = self
                    .ends_at
                    .clone()
                    .or(current.map(|w| kept(whole_days_end(w), w.end_text())))
                    .unwrap_or_default();
                if creating
                    && (self.timezone.is_none()
                        || self.starts_at.is_none()
                        || self.ends_at.is_none())
                {
                    None
                } else {
                    match EventWindow::parse(&tz, all_day, &starts, &ends) {
                        Ok(w) => Some(w),
                        Err(problems) => {
                            // A time kept from before that the new zone or kind cannot take
                            // is the fault of the field that changed, not of one not sent.
                            let kept = |field: &str| match field {
                                "starts_at" => self.starts_at.is_none(),
                                "ends_at" => self.ends_at.is_none(),
                                _ => false,
                            };
                            let changed = if self.timezone.is_some() {
                                "timezone"
                            } else {
                                "all_day"
                            };
                            for f in problems.into_list() {
                                if kept(&f.field) {
                                    let message = format!(
                                        "leaves the event's {} unusable: {}",
                                        f.field.replace('_', " "),
                                        f.message
                                    );
                                    p.add(changed, message);
                                } else {
                                    p.add(f.field, f.message);
                                }
                            }
                            None
                        }
                    }
                }
            }
        };
        p.finish()?;

        let draft = match base {
            None => EventDraft {
                slug: slug.ok_or_else(|| Problems::single("slug", "is required"))?,
                kind: kind.ok_or_else(|| Problems::single("kind", "is required"))?,
                title: title.ok_or_else(|| Problems::single("title", "is required"))?,
                summary: summary.unwrap_or_else(|| {
                    SingleLine::parse_optional("", 1).expect("empty text is valid")
                }),
                description: description
                    .unwrap_or_else(|| LongText::parse("", 1).expect("empty text is valid")),
                window: window.ok_or_else(|| Problems::single("starts_at", "is required"))?,
                venue: venue.unwrap_or_else(|| {
                    SingleLine::parse_optional("", 1).expect("empty text is valid")
                }),
                address: address.unwrap_or_else(|| {
                    SingleLine::parse_optional("", 1).expect("empty text is valid")
                }),
                online_url: online_url.flatten(),
                capacity: capacity.unwrap_or(Capacity::UNLIMITED),
                signup_opens_at: opens.flatten(),
                signup_closes_at: closes.flatten(),
                reminder_offsets: reminders.flatten(),
                contact_name: contact_name.unwrap_or_else(|| {
                    SingleLine::parse_optional("", 1).expect("empty text is valid")
                }),
                contact_email: contact_email.flatten(),
                geo: geo.flatten(),
            },
            Some(b) => EventDraft {
                slug: slug.unwrap_or(b.slug),
                kind: kind.unwrap_or(b.kind),
                title: title.unwrap_or(b.title),
                summary: summary.unwrap_or(b.summary),
                description: description.unwrap_or(b.description),
                window: window.unwrap_or(b.window),
                venue: venue.unwrap_or(b.venue),
                address: address.unwrap_or(b.address),
                online_url: online_url.unwrap_or(b.online_url),
                capacity: capacity.unwrap_or(b.capacity),
                signup_opens_at: opens.unwrap_or(b.signup_opens_at),
                signup_closes_at: closes.unwrap_or(b.signup_closes_at),
                reminder_offsets: reminders.unwrap_or(b.reminder_offsets),
                contact_name: contact_name.unwrap_or(b.contact_name),
                contact_email: contact_email.unwrap_or(b.contact_email),
                geo: geo.unwrap_or(b.geo),
            },
        };
        if let (Some(o), Some(c)) = (draft.signup_opens_at, draft.signup_closes_at)
            && c <= o
        {
            return Err(Problems::single(
                "signup_closes_at",
                "must be after signup opens",
            ));
        }
        Ok(draft)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only events of this kind (empty: every kind).
    #[param(pattern = "^(sprint|hack-in|summit|meetup|other)?$")]
    pub kind: Option<String>,
    /// `upcoming` (default), `past` or `all`.
    #[param(pattern = "^(upcoming|past|all)?$")]
    pub period: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(ListQuery),
    responses((status = 200, description = "Events, soonest first (past: most recent first)", body = [EventBody]),
               (status = 400, description = "Unknown kind or period", body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn list(
    state: State,
    organizer: Option<Organizer>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let kind = match query.kind.as_deref() {
        None | Some("") => None,
        Some(k) => {
            Some(EventKind::parse(k).map_err(|m| AppError::BadRequest(format!("kind {m}")))?)
        }
    };
    let period = match query.period.as_deref() {
        None | Some("") | Some("upcoming") => Period::Upcoming,
        Some("past") => Period::Past,
        Some("all") => Period::All,
        Some(_) => {
            return Err(AppError::BadRequest(
                "period must be one of `upcoming`, `past`, `all`".into(),
            ));
        }
    };
    // Organizers see their drafts in the list too.
    let filter = Filter {
        kind,
        drafts: organizer.is_some(),
    };
    let summaries = service::events::list(&state.service, period, filter, 1000).await?;
    let bodies = summaries
        .iter()
        .map(|s| EventBody::of(s, &state.links))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(bodies))
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventInput, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = EventBody),
               (status = 401, description = "No or unknown API token", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, description = "Invalid fields, each named", body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn create(
    state: State,
    _organizer: Organizer,
    input: web::Json<EventInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    let publish = if input.draft == Some(true) {
        Publish::Later
    } else {
        Publish::Now
    };
    let draft = input.into_draft(None)?;
    let summary = service::events::create(&state.service, draft, publish).await?;
    let body = EventBody::of(&summary, &state.links)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", body.url.clone()))
        .json(body))
}

#[utoipa::path(get, path = "/api/v1/events/{slug}", tag = "events", params(("slug" = String, Path)),
    responses((status = 200, body = EventBody), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn get(
    state: State,
    organizer: Option<Organizer>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let summary = service::events::get(&state.service, slug.into_inner()).await?;
    if organizer.is_none() {
        summary.event.clone().public()?;
    }
    Ok(HttpResponse::Ok().json(EventBody::of(&summary, &state.links)?))
}

#[utoipa::path(patch, path = "/api/v1/events/{slug}", tag = "events", params(("slug" = String, Path)), request_body = EventInput, security(("bearer" = [])),
    responses((status = 200, description = "The event as changed; raising capacity seats the waitlist in order", body = EventBody),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn update(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
    input: web::Json<EventInput>,
) -> Result<HttpResponse, AppError> {
    let (slug, input) = (slug.into_inner(), input.into_inner());
    if input.draft.is_some() {
        return Err(Problems::single(
            "draft",
            "can only be given when creating an event; publish a draft with POST /api/v1/events/{slug}/publish",
        )
        .into());
    }
    let summary = service::events::change(&state.service, slug, move |current| {
        input.into_draft(Some(current))
    })
    .await?;
    Ok(HttpResponse::Ok().json(EventBody::of(&summary, &state.links)?))
}

#[utoipa::path(post, path = "/api/v1/events/{slug}/cancel", tag = "events", params(("slug" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The cancelled event (cancelling twice changes nothing)", body = EventBody),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn cancel(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let summary = service::events::cancel(&state.service, slug.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EventBody::of(&summary, &state.links)?))
}

#[utoipa::path(post, path = "/api/v1/events/{slug}/publish", tag = "events", params(("slug" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The published event: public, open for signup, and its leads mailed their links (publishing twice changes nothing)", body = EventBody),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn publish(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let summary = service::events::publish(&state.service, slug.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EventBody::of(&summary, &state.links)?))
}

#[utoipa::path(delete, path = "/api/v1/events/{slug}", tag = "events", params(("slug" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted, with its projects and board"),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 409, description = "People signed up: cancel it instead", body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn delete(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::events::delete(&state.service, slug.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
