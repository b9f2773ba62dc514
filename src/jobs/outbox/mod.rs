//! The outbox worker: claims due messages with a short lease that it keeps renewing while it
//! lives (`lease`), reads what each will say and drops those that no longer apply (`message`),
//! delivers a few at a time (`batch`, `settle`), and records each delivery as soon as the SMTP
//! server has accepted it, several accepted at once in one commit (`recorder`). Temporary
//! failures are retried with exponential backoff for about a day; permanent ones are kept with
//! their reason for the organizer to see.

mod batch;
mod lease;
mod message;
mod recorder;
mod settle;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::{Notify, mpsc, watch};

use self::lease::{Lease, renew_claims};
use self::recorder::{Accepted, record_deliveries};
use crate::clock::Clock;
use crate::db::Db;
use crate::db::outbox;
use crate::domain::ReminderOffsets;
use crate::error::AppError;
use crate::links::Links;
use crate::mail::Transport;
use crate::metrics::Metrics;
use crate::service::{Service, reminders};
use crate::tokens::SecretKey;

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
    pub reminder_offsets: ReminderOffsets,
    pub metrics: Arc<Metrics>,
    /// How long a claim holds without renewal before another worker may take the message
    /// (`CONVENE_OUTBOX_LEASE_SECS`); see [`Lease`].
    pub lease: chrono::Duration,
    /// Messages in flight at once (`CONVENE_SMTP_CONNECTIONS`); the SMTP pool keeps as many
    /// connections open.
    pub concurrency: usize,
    /// The use cases the worker calls (without live boards).
    pub service: Service,
}

/// How long deliveries in flight may go on once the worker is told to stop; then they are
/// abandoned and their messages given back for another worker (or the next start).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Resolves `STOP_GRACE` after `stop` turns true (never, if its sender is gone first).
async fn grace_after_stop(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
    tokio::time::sleep(STOP_GRACE).await;
}

/// What happened to one message.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    Skipped(String),
    Retry(String),
    Failed(String),
    /// Cut off because this worker's lease was about to run out (its renewals failed):
    /// another worker may take the message over, so this one must not be sending it then.
    Abandoned,
}

/// How long a temporary failure waits before its next attempt.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = attempts.clamp(1, 8) - 1;
    chrono::Duration::seconds((30_i64 << exponent).min(3600))
}

impl OutboxWorker {
    /// Schedules reminders and delivers until `stop` turns true, then gives back what it had
    /// claimed.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let lease = Lease::new(self.lease);
        let (accepted, to_record) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record_deliveries(
            self.db.clone(),
            self.clock.clone(),
            self.metrics.clone(),
            to_record,
        ));
        let renewals = tokio::spawn(renew_claims(
            self.db.clone(),
            self.clock.clone(),
            self.id.clone(),
            lease.clone(),
            stop.clone(),
        ));
        let (db, worker) = (self.db.clone(), self.id.clone());
        let running = Running {
            worker: self,
            claims: lease,
            accepted,
        };
        running.run(stop).await;
        renewals.abort();
        // Deliveries the SMTP server accepted are recorded before the rest is given back; a
        // database that does not answer within the grace leaves them to be sent again.
        if tokio::time::timeout(STOP_GRACE, recorder).await.is_err() {
            tracing::warn!("stopping: some accepted deliveries could not be recorded");
        }
        match db
            .outbox_statement(move |conn| outbox::release(conn, &worker))
            .await
        {
            Ok(n) if n > 0 => {
                tracing::info!(released = n, "outbox worker gave back claimed messages")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox worker could not release its claims"),
        }
    }
}

/// A worker at work: with the lease it renews and the recorder of its deliveries.
#[derive(Clone)]
struct Running {
    worker: OutboxWorker,
    claims: Lease,
    accepted: mpsc::UnboundedSender<Accepted>,
}

impl std::ops::Deref for Running {
    type Target = OutboxWorker;

    fn deref(&self) -> &OutboxWorker {
        &self.worker
    }
}

impl Running {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, transport = self.transport.describe(), "outbox worker started");
        // Reminders are looked for every 15 polls (15 s by default), not on every batch.
        let scan_every = (self.poll * 15).clamp(Duration::from_millis(50), Duration::from_secs(15));
        let mut last_scan: Option<std::time::Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            if last_scan.is_none_or(|t| t.elapsed() >= scan_every) {
                last_scan = Some(std::time::Instant::now());
                if let Err(e) = self.schedule_reminders().await {
                    tracing::warn!(error = %e, "could not schedule reminders");
                }
            }
            let handled = tokio::select! {
                result = self.deliver_due(&stop, scan_every) => match result {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox worker could not claim messages");
                        0
                    }
                },
                _ = grace_after_stop(stop.clone()) => {
                    tracing::warn!("stopping: deliveries still in flight are abandoned and given back");
                    break;
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
    }
}

impl OutboxWorker {
    /// Queues the reminders that are due now (once each, however many workers run).
    pub async fn schedule_reminders(&self) -> Result<reminders::Scheduled, AppError> {
        reminders::queue_due(&self.service, self.reminder_offsets.clone()).await
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
