//! Organizers' mail: messages to the attendees of an event or of one project, the state of
//! every message an event caused, and the one-click opt-out that bulk mail links to.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::State;
use super::auth::Organizer;
use crate::db::outbox;
use crate::db::{events, projects, registrations};
use crate::domain::time::instant_text;
use crate::domain::{LongText, Notice, Problems, SingleLine};
use crate::error::AppError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// Only the attendees who joined this project.
    pub project: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageQueued {
    /// Attendees (going and waitlisted, not opted out) the message is queued for.
    pub recipients: usize,
}

#[utoipa::path(post, path = "/api/v1/events/{slug}/messages", tag = "mail", params(("slug" = String, Path)), request_body = MessageInput, security(("bearer" = [])),
    responses((status = 202, body = MessageQueued),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn send(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
    input: web::Json<MessageInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    let mut p = Problems::new();
    let subject = p.check("subject", SingleLine::parse(&input.subject, 200));
    let body = p.check("body", LongText::parse(&input.body, 20_000));
    if body.as_ref().is_some_and(|b| b.as_str().trim().is_empty()) {
        p.add("body", "must not be empty");
    }
    p.finish()?;
    let (Some(subject), Some(body)) = (subject, body) else {
        return Err(Problems::single("body", "is required").into());
    };
    let (slug, now) = (slug.into_inner(), state.clock.now());
    let recipients = state
        .db
        .write(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let project = match input.project.as_deref() {
                Some(project) => Some(projects::find_by_slug(conn, event.id, project).map_err(
                    |_| {
                        AppError::Invalid(Problems::single(
                            "project",
                            format!(
                                "there is no project `{}` at this event",
                                project.escape_default()
                            ),
                        ))
                    },
                )?),
                None => None,
            };
            let recipients =
                registrations::active(conn, event.id, project.as_ref().map(|p| p.id), true)?;
            let notice = Notice::OrganizerMessage {
                subject: subject.as_str().into(),
                body: body.as_str().into(),
                project: project.as_ref().map(|p| p.name.clone()),
            };
            registrations::notify_all(conn, &recipients, &notice, now)
        })
        .await?;
    state.outbox_wake.notify_one();
    Ok(HttpResponse::Accepted().json(MessageQueued { recipients }))
}

/// One message as its event's organizers see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxBody {
    /// `signup_confirmation`, `reminder`, ...
    pub kind: String,
    pub recipient: String,
    /// `pending`, `sent`, `failed` (given up: see `last_error`) or `skipped` (no longer applied).
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/events/{slug}/outbox", tag = "mail", params(("slug" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The event's latest 1,000 messages, newest first", body = [OutboxBody]),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn outbox(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let rows = state
        .db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            outbox::for_event(conn, event.id, 1000)
        })
        .await?;
    let bodies: Vec<OutboxBody> = rows
        .iter()
        .map(|r| OutboxBody {
            kind: r.kind.clone(),
            recipient: r.recipient.clone(),
            state: r.state().into(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            created_at: instant_text(r.created_at),
            sent_at: r.sent_at.map(instant_text),
        })
        .collect();
    Ok(HttpResponse::Ok().json(bodies))
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
    let (token, key) = (token.into_inner(), state.key.clone());
    let (event_title, muted) = state
        .db
        .read(move |conn| {
            let registration = registrations::find_by_unsubscribe_token(conn, &key, &token)?;
            let event = events::find(conn, registration.event_id)?;
            Ok((event.title, registration.muted))
        })
        .await?;
    page(UnsubscribePage {
        event_title,
        done: muted,
    })
}

/// The button, and RFC 8058 one-click unsubscribe from mail clients (`List-Unsubscribe-Post`).
pub async fn unsubscribe(state: State, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (token, key, now) = (token.into_inner(), state.key.clone(), state.clock.now());
    let event_title = state
        .db
        .write(move |conn| {
            let registration = registrations::find_by_unsubscribe_token(conn, &key, &token)?;
            registrations::mute(conn, registration.id, now)?;
            Ok(events::find(conn, registration.event_id)?.title)
        })
        .await?;
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
