//! Calendar feeds: the site's, one per kind, one per event, one per project, and each
//! attendee's personal feed. Every feed carries a strong ETag and Last-Modified computed from
//! a small fingerprint query, so an unchanged feed is answered 304 without being loaded or
//! rendered; public feeds are also kept rendered in memory, keyed by their ETag. What a URL's
//! validators were is kept for a moment (see `recent`), so a client polling an unchanged feed
//! is answered without any query at all.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HttpDate};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::State;
use crate::db::events::EventRow;
use crate::db::feeds::Fingerprint;
use crate::db::registrations::RegistrationRow;
use crate::domain::{EventKind, RegistrationStatus};
use crate::error::AppError;
use crate::ical::items::{event_item, slot_item};
use crate::ical::{self, CalEvent, Calendar, Status};
use crate::links::Links;
use crate::service;

/// How often clients are asked to refresh, in minutes.
const REFRESH_MINUTES: u32 = 60;
/// Public feeds kept rendered; beyond this the cache starts afresh.
const CACHE_ENTRIES: usize = 256;

/// A rendered feed, and its gzip form once a client asked for it.
pub struct Rendered {
    plain: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Rendered {
    fn new(plain: Bytes) -> Self {
        Self {
            plain,
            gzip: OnceLock::new(),
        }
    }

    /// The gzip bytes, compressed on first use and kept.
    fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut encoder = GzEncoder::new(
                    Vec::with_capacity(self.plain.len() / 4),
                    Compression::default(),
                );
                // Writing to a Vec cannot fail.
                let _ = encoder.write_all(&self.plain);
                Bytes::from(encoder.finish().unwrap_or_default())
            })
            .clone()
    }
}

/// Whether the client takes gzip (`Accept-Encoding`, RFC 9110 §12.5.3: a zero weight refuses).
fn wants_gzip(req: &HttpRequest) -> bool {
    let Some(accepted) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    accepted.split(',').any(|choice| {
        let mut parts = choice.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        !refused && matches!(coding.as_str(), "gzip" | "x-gzip")
    })
}

/// Rendered public feeds by key, each with the ETag it was rendered for.
#[derive(Default)]
pub struct FeedCache(Mutex<HashMap<String, (String, Arc<Rendered>)>>);

impl FeedCache {
    fn get(&self, key: &str, etag: &str) -> Option<Arc<Rendered>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(tag, _)| tag == etag)
            .map(|(_, body)| body.clone())
    }

    fn put(&self, key: &str, etag: &str, body: Arc<Rendered>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_ENTRIES && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_owned(), (etag.to_owned(), body));
    }
}

/// The tag of the form this request gets: the plain feed's, or its gzip form's.
fn tag_for<'a>(req: &HttpRequest, tag: &'a str) -> std::borrow::Cow<'a, str> {
    if wants_gzip(req) {
        gzip_tag(tag).into()
    } else {
        tag.into()
    }
}

/// The ETag of the gzip form: a strong tag names one representation (RFC 9110 §8.8.1).
fn gzip_tag(tag: &str) -> String {
    format!("{}-gz\"", tag.trim_end_matches('"'))
}

/// A strong ETag: the feed's identity and fingerprint, and this build's version (a new
/// release may render the same rows differently).
fn etag(key: &str, fingerprint: &Fingerprint) -> String {
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash.update(key.as_bytes());
    hash.update(format!("{fingerprint:?}").as_bytes());
    format!("\"{}\"", &URL_SAFE_NO_PAD.encode(hash.finalize())[..27])
}

fn system_time(t: NaiveDateTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.and_utc().timestamp().max(0) as u64)
}

/// Whether the client's copy is current (RFC 9110 §13.2.2: If-None-Match wins over
/// If-Modified-Since, and an unreadable date is ignored).
fn not_modified(req: &HttpRequest, tag: &str, last_modified: Option<NaiveDateTime>) -> bool {
    if let Some(values) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        // Weak comparison (RFC 9110 §13.1.2): a proxy may have marked our tag weak. Only
        // the tag of the form this request would get counts (plain or gzip), so a cache that
        // holds the other form is never told it is current.
        let expected = tag_for(req, tag);
        return values
            .split(',')
            .map(|c| c.trim().trim_start_matches("W/"))
            .any(|candidate| candidate == expected || candidate == "*");
    }
    let since = req
        .headers()
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<HttpDate>().ok())
        .map(SystemTime::from);
    match (since, last_modified) {
        (Some(since), Some(modified)) => system_time(modified) <= since,
        _ => false,
    }
}

/// Who may cache a feed.
#[derive(Clone, Copy)]
enum Audience {
    Public,
    Private,
}

/// The validators of each feed URL, recently read.
pub type RecentFeeds = super::recent::Recent<Arc<Feed>>;

/// One request's view of what was recently read: the URL's key, and the write generation and
/// time taken before any query, so what this request reads may be kept for the next ones.
struct Seen {
    url_key: String,
    generation: u64,
    now: NaiveDateTime,
}

impl Seen {
    fn new(state: &State, url_key: String) -> Self {
        Seen {
            url_key,
            generation: state.db.generation(),
            now: state.clock.now(),
        }
    }

    /// A 304, or a public feed's kept body, from what was read for this URL a moment ago;
    /// `None` when the database must be asked.
    fn answer(&self, req: &HttpRequest, state: &State) -> Option<HttpResponse> {
        let feed = state
            .recent_feeds
            .get(&self.url_key, self.generation, self.now)?;
        let tag = feed.etag();
        if not_modified(req, &tag, feed.fingerprint.last_modified) {
            return Some(feed.not_modified(req, &tag));
        }
        match feed.audience {
            Audience::Public => state
                .feed_cache
                .get(&feed.key, &tag)
                .map(|body| feed.ok(req, &tag, &body)),
            Audience::Private => None,
        }
    }
}

#[derive(Clone)]
pub struct Feed {
    key: String,
    audience: Audience,
    fingerprint: Fingerprint,
    filename: String,
}

impl Feed {
    fn etag(&self) -> String {
        etag(&self.key, &self.fingerprint)
    }

    fn headers(&self, response: &mut actix_web::HttpResponseBuilder, tag: &str) {
        use actix_web::http::header::HeaderValue;
        let cache = match self.audience {
            Audience::Public => HeaderValue::from_static("public, max-age=300"),
            Audience::Private => HeaderValue::from_static("private, max-age=300"),
        };
        response
            .insert_header((header::ETAG, tag.to_owned()))
            .insert_header((header::CACHE_CONTROL, cache))
            .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
        if let Some(modified) = self.fingerprint.last_modified {
            response.insert_header((header::LAST_MODIFIED, HttpDate::from(system_time(modified))));
        }
    }

    fn not_modified(&self, req: &HttpRequest, tag: &str) -> HttpResponse {
        let mut response = HttpResponse::NotModified();
        self.headers(&mut response, &tag_for(req, tag));
        response.finish()
    }

    /// The feed, gzip-compressed when the client takes it.
    fn ok(&self, req: &HttpRequest, tag: &str, body: &Rendered) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        let gzip = wants_gzip(req);
        let tag = if gzip {
            gzip_tag(tag).into()
        } else {
            std::borrow::Cow::Borrowed(tag)
        };
        self.headers(&mut response, &tag);
        response
            .content_type("text/calendar; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", self.filename),
            ));
        if gzip {
            response
                .insert_header((header::CONTENT_ENCODING, "gzip"))
                .body(body.gzip())
        } else {
            response.body(body.plain.clone())
        }
    }

    /// Answers 304 when the client is current; otherwise renders (or reuses) the body.
    async fn respond<F>(
        self,
        req: &HttpRequest,
        state: &State,
        seen: Seen,
        render: F,
    ) -> Result<HttpResponse, AppError>
    where
        F: FnOnce() -> futures_lite::BoxedRender,
    {
        let tag = self.etag();
        let feed = Arc::new(self);
        state
            .recent_feeds
            .put(&seen.url_key, seen.generation, seen.now, feed.clone());
        if not_modified(req, &tag, feed.fingerprint.last_modified) {
            return Ok(feed.not_modified(req, &tag));
        }
        let cached = match feed.audience {
            Audience::Public => state.feed_cache.get(&feed.key, &tag),
            Audience::Private => None,
        };
        let body = match cached {
            Some(body) => body,
            None => {
                let body = Arc::new(Rendered::new(Bytes::from(render().await?)));
                if let Audience::Public = feed.audience {
                    state.feed_cache.put(&feed.key, &tag, body.clone());
                }
                body
            }
        };
        Ok(feed.ok(req, &tag, &body))
    }
}

/// Boxed rendering futures, so each handler can hand its own to `Feed::respond`.
mod futures_lite {
    use std::future::Future;
    use std::pin::Pin;

    use crate::error::AppError;

    pub type BoxedRender = Pin<Box<dyn Future<Output = Result<String, AppError>>>>;
}

fn calendar(name: String, description: String, events: Vec<CalEvent>) -> Calendar {
    Calendar {
        name,
        description,
        refresh_minutes: REFRESH_MINUTES,
        method: None,
        stamped: None,
        public: true,
        events,
    }
}

async fn public_feed(
    req: HttpRequest,
    state: State,
    kind: Option<EventKind>,
) -> Result<HttpResponse, AppError> {
    let seen = Seen::new(
        &state,
        format!("site:{}", kind.map_or("all", EventKind::as_str)),
    );
    if let Some(response) = seen.answer(&req, &state) {
        return Ok(response);
    }
    let now = seen.now;
    let fingerprint = service::feeds::public_fingerprint(&state.service, kind, now).await?;
    let key = format!("public:{}", kind.map_or("all", EventKind::as_str));
    let filename = format!("convene-{}.ics", kind.map_or("events", EventKind::as_str));
    let feed = Feed {
        key,
        audience: Audience::Public,
        fingerprint,
        filename,
    };
    let render_state = state.clone();
    feed.respond(&req, &state, seen, move || {
        Box::pin(async move {
            let rows = service::feeds::public_events(&render_state.service, kind, now).await?;
            let items = rows
                .iter()
                .map(|e| event_item(e, &render_state.links))
                .collect();
            let name = match kind {
                None => "Convene: all events".to_owned(),
                Some(k) => format!("Convene: {k} events"),
            };
            Ok(ical::render(&calendar(
                name,
                "Events announced on Convene".into(),
                items,
            )))
        })
    })
    .await
}

pub async fn site(req: HttpRequest, state: State) -> Result<HttpResponse, AppError> {
    public_feed(req, state, None).await
}

pub async fn kind(
    req: HttpRequest,
    state: State,
    kind: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let kind = EventKind::parse(&kind)
        .map_err(|_| AppError::not_found("no feed for this kind of event"))?;
    public_feed(req, state, Some(kind)).await
}

pub async fn event(
    req: HttpRequest,
    state: State,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let seen = Seen::new(&state, format!("event:{slug}"));
    if let Some(response) = seen.answer(&req, &state) {
        return Ok(response);
    }
    let event = service::events::find(&state.service, slug)
        .await?
        .public()?;
    let fingerprint = Fingerprint {
        rows: event.id.get(),
        last_modified: Some(event.updated_at),
        other: None,
        sessions: (0, None),
    };
    let feed = Feed {
        key: format!("event:{}", event.id),
        audience: Audience::Public,
        fingerprint,
        filename: format!("{}.ics", event.slug),
    };
    let links = state.links.clone();
    feed.respond(&req, &state, seen, move || {
        Box::pin(async move {
            Ok(ical::render(&calendar(
                event.title.clone(),
                event.summary.clone(),
                vec![event_item(&event, &links)],
            )))
        })
    })
    .await
}

pub async fn project(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, project_slug) = path.into_inner();
    let seen = Seen::new(&state, format!("project:{slug}/{project_slug}"));
    if let Some(response) = seen.answer(&req, &state) {
        return Ok(response);
    }
    let service::feeds::ProjectFeed {
        event,
        project,
        slots,
    } = service::feeds::project(&state.service, slug, project_slug).await?;
    // Sessions are the feed: their count and latest change move the validators.
    let fingerprint = Fingerprint {
        rows: project.id.get(),
        last_modified: Some(
            event.updated_at.max(project.updated_at).max(
                slots
                    .iter()
                    .map(|s| s.updated_at)
                    .max()
                    .unwrap_or(event.updated_at),
            ),
        ),
        other: None,
        sessions: (slots.len() as i64, slots.iter().map(|s| s.updated_at).max()),
    };
    let feed = Feed {
        key: format!("project:{}", project.id),
        audience: Audience::Public,
        fingerprint,
        filename: format!("{}-{}.ics", event.slug, project.slug),
    };
    let links = state.links.clone();
    feed.respond(&req, &state, seen, move || {
        Box::pin(async move {
            let name = format!("{} at {}", project.name, event.title);
            // The project's sessions; until it has some, the event itself, under the event's
            // own UID, so a calendar that also subscribed to the event sees one event.
            let items = if slots.is_empty() {
                vec![event_item(&event, &links)]
            } else {
                slots
                    .iter()
                    .map(|s| slot_item(&event, &project, s, &links))
                    .collect()
            };
            Ok(ical::render(&calendar(
                name,
                project.description.clone(),
                items,
            )))
        })
    })
    .await
}

/// `/feeds/{token}.ics`: the events one attendee is going to (waitlisted ones tentative).
pub async fn personal(
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let seen = Seen::new(&state, format!("personal:{token}"));
    if let Some(response) = seen.answer(&req, &state) {
        return Ok(response);
    }
    let now = seen.now;
    let (attendee, fingerprint) =
        service::feeds::personal_fingerprint(&state.service, token, now).await?;
    let feed = Feed {
        key: format!("personal:{}", attendee.id),
        audience: Audience::Private,
        fingerprint,
        filename: "my-events.ics".into(),
    };
    let render_state = state.clone();
    feed.respond(&req, &state, seen, move || {
        Box::pin(async move {
            let email = attendee.email_normalized.clone();
            let feed = service::feeds::personal(&render_state.service, email, now).await?;
            let links = &render_state.links;
            let mut items: Vec<CalEvent> = feed
                .events
                .iter()
                .map(|(registration, event)| personal_item(registration, event, links))
                .collect();
            items.extend(
                feed.sessions
                    .iter()
                    .map(|(slot, project, event)| slot_item(event, project, slot, links)),
            );
            // The alarm the person chose, off unless they did.
            let alarm = attendee
                .feed_alarm_minutes
                .and_then(|m| u32::try_from(m).ok());
            for item in &mut items {
                item.alarm_minutes = alarm;
            }
            Ok(ical::render(&Calendar {
                public: false,
                ..calendar(
                    "My events on Convene".into(),
                    "The events you signed up for".into(),
                    items,
                )
            }))
        })
    })
    .await
}

fn personal_item(registration: &RegistrationRow, event: &EventRow, links: &Links) -> CalEvent {
    let mut item = event_item(event, links);
    // A move from the waitlist changes the item: clients see it as a new version.
    item.modified = item.modified.max(registration.updated_at);
    let standing = match registration.status() {
        RegistrationStatus::Waitlisted => {
            if item.status != Status::Cancelled {
                item.status = Status::Tentative;
            }
            "You are on the waitlist."
        }
        _ => "You are going.",
    };
    // Feeds are synced to calendar servers and shared more freely than email: the link that
    // can cancel stays in the email only.
    item.description = format!(
        "{standing} To change or cancel, use the private link in your confirmation email.\n\n{}",
        item.description
    );
    item
}

/// The page that explains how to subscribe, with every public feed.
#[derive(Template)]
#[template(path = "subscribe.html")]
struct SubscribePage {
    feeds: Vec<(String, String, String)>,
}

pub async fn subscribe_help(state: State) -> Result<HttpResponse, AppError> {
    let links = &state.links;
    let mut feeds = vec![(
        "All events".to_owned(),
        links.site_feed(),
        Links::webcal(&links.site_feed()),
    )];
    for kind in EventKind::ALL {
        let url = links.kind_feed(kind.as_str());
        feeds.push((
            format!("Only {kind} events"),
            url.clone(),
            Links::webcal(&url),
        ));
    }
    let html = SubscribePage { feeds }
        .render()
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}
