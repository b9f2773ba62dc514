//! The organizer's message to everyone at an event or at one of its projects, and the state of
//! every message an event caused.

use super::Service;
use super::registrations::notify_all;
use crate::db::outbox::{self, OutboxRow};
use crate::db::{events, projects, registrations};
use crate::domain::notice::ReplyTo;
use crate::domain::{LongText, Notice, Problems, SingleLine};
use crate::error::AppError;

/// A message as an organizer writes it, checked.
#[derive(Debug, Clone)]
pub struct Message {
    pub subject: SingleLine,
    pub body: LongText,
    /// Only the attendees who joined this project (its slug); `None`: everyone.
    pub project: Option<String>,
}

impl Message {
    /// Reads a message from what the organizer typed; every wrong field is named.
    pub fn parse(subject: &str, body: &str, project: Option<&str>) -> Result<Self, Problems> {
        let mut p = Problems::new();
        let subject = p.check("subject", SingleLine::parse(subject, 200));
        let body = p
            .check("body", LongText::parse(body, 20_000))
            .filter(|b| !b.as_str().trim().is_empty());
        if body.is_none() && !p.has("body") {
            p.add("body", "must not be empty");
        }
        p.finish()?;
        match (subject, body) {
            (Some(subject), Some(body)) => Ok(Self {
                subject,
                body,
                project: project
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            }),
            _ => Err(Problems::single("body", "is required")),
        }
    }
}

/// Queues the message for the attendees (going and waitlisted, not opted out) of the event
/// named `slug`, or of one of its projects; returns how many it goes to. A project the event
/// does not have is a field error.
pub async fn send(
    service: &Service,
    slug: String,
    message: Message,
    reply_to: Option<ReplyTo>,
) -> Result<usize, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, fx| {
            let event = events::find_by_slug(conn, &slug)?;
            let project = match message.project.as_deref() {
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
                subject: message.subject.as_str().into(),
                body: message.body.as_str().into(),
                project: project.as_ref().map(|p| p.name.clone()),
                reply_to,
            };
            notify_all(conn, fx, &recipients, &notice, now)
        })
        .await
}

/// The latest `limit` messages an event caused, newest first.
pub async fn outbox_of(
    service: &Service,
    slug: String,
    limit: i64,
) -> Result<Vec<OutboxRow>, AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            outbox::for_event(conn, event.id, limit)
        })
        .await
}
