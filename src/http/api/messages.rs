//! Organizers' mail through the API: messages to the attendees of an event or of one
//! project, and the state of every message an event caused.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::notice::ReplyTo;
use crate::domain::time::instant_text;
use crate::error::AppError;
use crate::http::State;
use crate::http::auth::Organizer;
use crate::service;
use crate::service::messages::Message;

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
    organizer: Organizer,
    slug: web::Path<String>,
    input: web::Json<MessageInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    let message = Message::parse(&input.subject, &input.body, input.project.as_deref())?;
    let reply_to = ReplyTo {
        name: organizer.0.name,
        email: organizer.0.email,
    };
    let recipients =
        service::messages::send(&state.service, slug.into_inner(), message, Some(reply_to)).await?;
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
    let rows = service::messages::outbox_of(&state.service, slug.into_inner(), 1000).await?;
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
