//! One claimed message to its end: sent (and handed to the recorder), given back, retried,
//! failed or skipped, each recorded with its reason.

use tokio::sync::oneshot;

use super::message::{Composed, Prepared, STILL_FRESH};
use super::recorder::Accepted;
use super::{Delivery, MAX_ATTEMPTS, Running, backoff};
use crate::db::outbox::{self, OutboxRow};
use crate::mail;
use crate::metrics::DeliveryOutcome;

impl Running {
    /// Delivers one claimed message (or records why not), then stops renewing its claim.
    pub(super) async fn handle(&self, message: Prepared) {
        let id = message.row.id;
        self.settle(message).await;
        self.claims.let_go(id);
    }

    async fn settle(&self, message: Prepared) {
        let Prepared {
            row,
            composed,
            read_at,
        } = message;
        let (id, attempts) = (row.id, row.attempts);
        // Deliveries before this one were slow: what the message says is read again, so that
        // it is checked just before it goes.
        let composed = if read_at.elapsed() > STILL_FRESH {
            match self.prepare(vec![row.clone()]).await.pop() {
                Some(fresh) => fresh.composed,
                None => composed,
            }
        } else {
            composed
        };
        // A claim whose renewals have been failing may soon be another worker's: rather than
        // risk sending the message twice, give it back (with the attempt its claim counted)
        // for the next claim.
        if composed.is_ok() && !self.claims.may_start(&row, self.clock.now()) {
            tracing::warn!(
                message = id,
                "the claim could not be renewed; given back for the next claim"
            );
            let worker = self.id.clone();
            if let Err(e) = self
                .db
                .outbox_statement(move |conn| outbox::give_back(conn, id, &worker))
                .await
            {
                tracing::warn!(message = id, error = %e, "could not give back a claimed message");
            }
            return;
        }
        let recipient = row.recipient.clone();
        let outcome = match composed {
            Ok(composed) => tokio::select! {
                outcome = self.deliver(&row, composed) => outcome,
                _ = self.claims.running_out(&row, &self.clock) => Delivery::Abandoned,
            },
            Err(outcome) => outcome,
        };
        let now = self.clock.now();
        match &outcome {
            Delivery::Sent => self.metrics.delivery(DeliveryOutcome::Sent),
            Delivery::Skipped(_) | Delivery::Abandoned => {}
            Delivery::Retry(_) if attempts < MAX_ATTEMPTS => {
                self.metrics.delivery(DeliveryOutcome::Retry)
            }
            Delivery::Retry(_) | Delivery::Failed(_) => {
                self.metrics.delivery(DeliveryOutcome::Failed)
            }
        }
        let recorded = match &outcome {
            Delivery::Sent => {
                // The address is masked by the log writer (see `logging`).
                tracing::debug!(message = id, to = %recipient, "delivered");
                let (recorded, wait) = oneshot::channel();
                let accepted = Accepted {
                    id,
                    at: std::time::Instant::now(),
                    recorded,
                };
                // The delivery slot stays taken until the record is committed, so no more
                // deliveries are ever unrecorded at once than there are slots.
                if self.accepted.send(accepted).is_err() || wait.await.is_err() {
                    tracing::error!(message = id, "a delivered message could not be recorded");
                }
                Ok(())
            }
            Delivery::Abandoned => {
                tracing::warn!(
                    message = id,
                    "delivery cut off: the claim could not be renewed and may pass to another worker"
                );
                Ok(())
            }
            Delivery::Skipped(why) => {
                tracing::info!(message = id, reason = %why, "message no longer applies");
                let why = match row.last_error.as_deref() {
                    // Truthful about what may have happened before this claim.
                    Some(note) if note == outbox::TAKEN_OVER => format!("skipped: {why} ({note})"),
                    _ => format!("skipped: {why}"),
                };
                self.db
                    .outbox_statement(move |conn| outbox::mark_skipped(conn, id, &why, now))
                    .await
            }
            Delivery::Retry(why) if attempts < MAX_ATTEMPTS => {
                tracing::warn!(message = id, to = %recipient, attempts, error = %why, "delivery failed, will retry");
                let (why, at) = (why.clone(), now + backoff(attempts));
                self.db
                    .outbox_statement(move |conn| outbox::mark_retry(conn, id, &why, at))
                    .await
            }
            Delivery::Retry(why) | Delivery::Failed(why) => {
                tracing::error!(message = id, to = %recipient, attempts, error = %why, "delivery failed for good");
                let why = why.clone();
                self.db
                    .outbox_statement(move |conn| outbox::mark_failed(conn, id, &why, now))
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(message = id, error = %e, "could not record the delivery outcome");
        }
    }

    /// Composes and sends one message.
    async fn deliver(&self, row: &OutboxRow, composed: Composed) -> Delivery {
        let host = url::Url::parse(self.links.base())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".into());
        let Composed { mail, calendar } = composed;
        let message = match mail::compose(
            &mail,
            calendar.as_deref(),
            &self.from,
            &row.message_id,
            &host,
        ) {
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
