//! The outbox worker: claims due messages with a lease, renders each from the current state
//! of its registration, delivers it, and commits it as sent on its own. Temporary failures are
//! retried with exponential backoff for about a day; permanent ones are kept with their reason.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::db::outbox::{self, OutboxRow};
use crate::db::{Db, attendees, events, registrations};
use crate::domain::{Notice, RegistrationStatus};
use crate::error::AppError;
use crate::links::Links;
use crate::mail::{self, NoticeContext, Transport};
use crate::tokens::SecretKey;

/// How long a claim holds before another worker may take the message.
const LEASE_SECONDS: i64 = 300;
const BATCH: i64 = 50;
/// About 24 hours of retries: 30 s, 1, 2, 4 ... minutes, then hourly.
const MAX_ATTEMPTS: i32 = 30;

#[derive(Clone)]
pub struct OutboxWorker {
    pub db: Db,
    pub transport: Transport,
    pub links: Links,
    pub key: SecretKey,
    pub from: Mailbox,
    pub clock: Clock,
    pub wake: Arc<Notify>,
    pub poll: Duration,
    pub id: String,
}

/// What happened to one message.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    Skipped(String),
    Retry(String),
    Failed(String),
}

pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = attempts.clamp(1, 8) - 1;
    chrono::Duration::seconds((30_i64 << exponent).min(3600))
}

impl OutboxWorker {
    /// Delivers until `stop` turns true, then gives back what it had claimed.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, transport = self.transport.describe(), "outbox worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let handled = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox worker could not claim messages");
                    0
                }
            };
            if handled == 0 {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        let worker = self.id.clone();
        match self
            .db
            .write(move |conn| outbox::release(conn, &worker))
            .await
        {
            Ok(n) if n > 0 => {
                tracing::info!(released = n, "outbox worker gave back claimed messages")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox worker could not release its claims"),
        }
    }

    /// Claims one batch and delivers it; returns how many messages were handled.
    pub async fn run_once(&self) -> Result<usize, AppError> {
        let (worker, now) = (self.id.clone(), self.clock.now());
        let batch = self
            .db
            .write(move |conn| {
                outbox::claim(
                    conn,
                    &worker,
                    now,
                    chrono::Duration::seconds(LEASE_SECONDS),
                    BATCH,
                )
            })
            .await?;
        let count = batch.len();
        for row in batch {
            let id = row.id;
            let attempts = row.attempts;
            let outcome = self.deliver(row).await;
            let now = self.clock.now();
            let recorded = match &outcome {
                Delivery::Sent => {
                    self.db
                        .write(move |conn| outbox::mark_sent(conn, id, now))
                        .await
                }
                Delivery::Skipped(why) => {
                    tracing::info!(message = id, reason = %why, "message no longer applies");
                    let why = format!("skipped: {why}");
                    self.db
                        .write(move |conn| outbox::mark_failed(conn, id, &why, now))
                        .await
                }
                Delivery::Retry(why) if attempts < MAX_ATTEMPTS => {
                    tracing::warn!(message = id, attempts, error = %why, "delivery failed, will retry");
                    let (why, at) = (why.clone(), now + backoff(attempts));
                    self.db
                        .write(move |conn| outbox::mark_retry(conn, id, &why, at))
                        .await
                }
                Delivery::Retry(why) | Delivery::Failed(why) => {
                    tracing::error!(message = id, attempts, error = %why, "delivery failed for good");
                    let why = why.clone();
                    self.db
                        .write(move |conn| outbox::mark_failed(conn, id, &why, now))
                        .await
                }
            };
            if let Err(e) = recorded {
                tracing::error!(message = id, error = %e, "could not record the delivery outcome");
            }
        }
        Ok(count)
    }

    async fn deliver(&self, row: OutboxRow) -> Delivery {
        let Some(notice) = Notice::parse(&row.kind) else {
            return Delivery::Failed(format!("unknown message kind `{}`", row.kind));
        };
        let (links, key) = (self.links.clone(), self.key.clone());
        let registration_id = row.registration_id;
        let context = self
            .db
            .read(move |conn| -> Result<Option<NoticeContext>, AppError> {
                let Some(id) = registration_id else {
                    return Ok(None);
                };
                let registration = registrations::find(conn, id)?;
                let event = events::find(conn, registration.event_id)?;
                let view = registrations::view(conn, registration)?;
                let status = view.registration.status();
                if notice == Notice::Promoted && status != RegistrationStatus::Going {
                    return Ok(None);
                }
                let window = event.window()?;
                let feed_url = attendees::find(conn, &view.registration.email_normalized)?
                    .map(|a| links.personal_feed(&a.feed_token(&key)));
                Ok(Some(NoticeContext {
                    name: view.registration.name.clone(),
                    email: view.registration.email.clone(),
                    event_title: event.title.clone(),
                    when: window.human(),
                    venue: event.venue.clone(),
                    address: event.address.clone(),
                    online_url: event.online_url.clone(),
                    event_url: links.event(&event.slug),
                    manage_url: links.manage(&view.registration.manage_token(&key)),
                    feed_url,
                    going: status == RegistrationStatus::Going,
                    waitlist_position: view.waitlist_position.unwrap_or(0),
                    projects: view.projects.iter().map(|p| p.name.clone()).collect(),
                }))
            })
            .await;
        let context = match context {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Delivery::Skipped(
                    "the registration changed before the message went out".into(),
                );
            }
            Err(AppError::NotFound(what)) => return Delivery::Skipped(what),
            Err(e) => return Delivery::Retry(e.to_string()),
        };
        let host = url::Url::parse(self.links.base())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".into());
        let message = match mail::compose(notice, &context, &self.from, &row.message_id, &host) {
            Ok(m) => m,
            Err(e) => return Delivery::Failed(e.to_string()),
        };
        match self.transport.send(message).await {
            Ok(()) => Delivery::Sent,
            Err(e) if e.permanent => Delivery::Failed(e.reason),
            Err(e) => Delivery::Retry(e.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_then_caps_at_an_hour() {
        assert_eq!(backoff(1).num_seconds(), 30);
        assert_eq!(backoff(2).num_seconds(), 60);
        assert_eq!(backoff(5).num_seconds(), 480);
        assert_eq!(backoff(20).num_seconds(), 3600);
    }
}
