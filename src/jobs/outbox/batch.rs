//! Claiming batches of due messages, the next claimed while the current one is being sent,
//! and delivering them a few at a time.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::Running;
use super::message::Prepared;
use crate::db::outbox::{self, OutboxRow};
use crate::error::AppError;

impl Running {
    /// Claims and delivers until nothing is due, `budget` has passed or `stop` turns true;
    /// returns how many messages were handled. The next batch is claimed (and what its
    /// messages say is read, see `prepare`) while the current one is being sent, so deliveries
    /// wait neither for the slowest of a batch nor for the next claim. Once `stop` turns true
    /// no further message is started; those claimed stay so until `run` gives them back.
    pub(super) async fn deliver_due(
        &self,
        stop: &watch::Receiver<bool>,
        budget: Duration,
    ) -> Result<usize, AppError> {
        /// What the stream of batches does when asked for its next one.
        enum Next {
            Ready(Vec<Prepared>),
            Coming(tokio::task::JoinHandle<Result<Vec<Prepared>, AppError>>),
            Done,
        }
        let first = self.next_batch().await?;
        if first.is_empty() {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        // The stream owns what it claims with: a future borrowing `self` would tie the
        // worker's task to a lifetime the runtime cannot prove.
        let (worker, halt) = (self.clone(), stop.clone());
        let batches = futures::stream::unfold(Next::Ready(first), move |next| {
            let (worker, halt) = (worker.clone(), halt.clone());
            async move {
                let batch = match next {
                    Next::Ready(batch) => batch,
                    Next::Coming(claim) => match claim.await {
                        Ok(Ok(batch)) if !batch.is_empty() => batch,
                        Ok(Ok(_)) => return None,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "outbox worker could not claim messages");
                            return None;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "outbox worker's claim failed");
                            return None;
                        }
                    },
                    Next::Done => return None,
                };
                // A short batch means nothing else was due. Otherwise the next batch is
                // claimed and read while this one is being sent, so that no delivery slot
                // waits for the claim's commit.
                let then = if batch.len() < worker.batch()
                    || *halt.borrow()
                    || started.elapsed() >= budget
                {
                    Next::Done
                } else {
                    let next = worker.clone();
                    // Awaited by the next turn of this stream, so `run` gives back what it
                    // claimed; only if deliveries are abandoned at a stop can a claim that
                    // hangs in the database outlast that, and its messages then go out once
                    // their lease has run out.
                    Next::Coming(tokio::spawn(async move {
                        if *halt.borrow() {
                            return Ok(Vec::new());
                        }
                        next.next_batch().await
                    }))
                };
                Some((futures::stream::iter(batch), then))
            }
        });
        let mut handled = 0;
        batches
            .flatten()
            .for_each_concurrent(self.concurrency.max(1), |message| {
                handled += 1;
                async move {
                    if !*stop.borrow() {
                        self.handle(message).await;
                    }
                }
            })
            .await;
        Ok(handled)
    }

    /// How many messages one claim takes: a few rounds of deliveries, so that another
    /// instance finds due mail to claim rather than all of it reserved by one. The next batch
    /// is claimed when the first message of the one before starts; claims waiting their turn
    /// are renewed like the rest (see [`super::lease::Lease`]).
    fn batch(&self) -> usize {
        2 * self.concurrency.max(1)
    }

    /// Claims the next batch of due messages and reads what they will say; empty when nothing
    /// is due.
    async fn next_batch(&self) -> Result<Vec<Prepared>, AppError> {
        let rows = self.claim().await?;
        Ok(if rows.is_empty() {
            Vec::new()
        } else {
            self.prepare(rows).await
        })
    }

    /// Takes the next batch of due messages for this worker.
    async fn claim(&self) -> Result<Vec<OutboxRow>, AppError> {
        let (worker, now, lease) = (self.id.clone(), self.clock.now(), self.lease);
        let limit = self.batch() as i64;
        let rows = self
            .db
            .outbox_statement(move |conn| outbox::claim(conn, &worker, now, lease, limit))
            .await?;
        self.claims.hold(&rows);
        Ok(rows)
    }
}
