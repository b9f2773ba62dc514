//! The outbox worker: claims due messages with a short lease that it keeps renewing while it
//! lives, renders each from the current state of its registration (dropping those that no
//! longer apply), delivers a few at a time, and records each delivery as soon as the SMTP
//! server has accepted it (several accepted at once share one commit). Temporary failures are
//! retried with exponential backoff for about a day; permanent ones are kept with their reason
//! for the organizer to see.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lettre::message::Mailbox;
use serde::Deserialize;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::clock::Clock;
use crate::db::outbox::{self, OutboxRow};
use crate::db::{Db, DbConn, board, events, projects, registrations};
use crate::domain::{EventStatus, Notice, RegistrationId, RegistrationStatus, ReminderOffsets};
use crate::error::AppError;
use crate::ical::items::{email_attachment, slot_attachment};
use crate::links::Links;
use crate::mail::compose::{Change, ProjectLine};
use crate::mail::{self, NoticeContext, Transport};
use crate::metrics::{DeliveryOutcome, Metrics};
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

/// What a worker's claims look like from the outside. A claim holds for `lease` after the claim
/// or its latest renewal; the worker renews all its claims every quarter lease, starts a
/// delivery only while at least half a lease is left, and abandons one still in flight when
/// less than a quarter is left. So a dead worker's messages go out from another within one
/// lease, and a live one never sends a message whose claim may already be another's.
#[derive(Clone)]
struct Lease {
    length: chrono::Duration,
    /// Counts renewals, so that deliveries in flight look at their claims again after each.
    renewals: watch::Sender<u64>,
    /// The messages this worker claimed and has not finished with: what it renews. One it
    /// abandoned is left out, so that its claim runs out and another worker takes it over.
    held: Arc<std::sync::Mutex<HashMap<i64, Hold>>>,
}

/// What this worker knows of its claim on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// As claimed: until the row's own `claimed_until`.
    Claimed,
    /// Renewed until then.
    Until(chrono::NaiveDateTime),
    /// A renewal did not find the claim this worker's any more: another worker took it over.
    Lost,
}

impl Lease {
    fn new(length: chrono::Duration) -> Self {
        Self {
            length,
            renewals: watch::channel(0).0,
            held: Default::default(),
        }
    }

    fn hold(&self, rows: &[OutboxRow]) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.extend(rows.iter().map(|r| (r.id, Hold::Claimed)));
    }

    fn let_go(&self, id: i64) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// The messages to renew.
    fn held(&self) -> Vec<i64> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.iter()
            .filter(|(_, hold)| **hold != Hold::Lost)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Notes what a renewal of `asked` to `until` found: the `renewed` ones are held until
    /// then, the others are lost.
    fn renewed(&self, asked: &[i64], renewed: &[i64], until: chrono::NaiveDateTime) {
        let renewed: std::collections::HashSet<i64> = renewed.iter().copied().collect();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for id in asked {
            if let Some(hold) = held.get_mut(id) {
                *hold = if renewed.contains(id) {
                    Hold::Until(until)
                } else {
                    Hold::Lost
                };
            }
        }
        drop(held);
        self.renewals.send_modify(|n| *n += 1);
    }

    fn renew_every(&self) -> Duration {
        (self.length / 4)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(250))
    }

    /// Until when the claim of `row` holds: its own, or its latest renewal; none once lost.
    fn holds_until(&self, row: &OutboxRow) -> Option<chrono::NaiveDateTime> {
        let hold = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&row.id)
            .copied();
        match hold {
            Some(Hold::Lost) => None,
            Some(Hold::Until(renewed)) => row.claimed_until.map(|c| c.max(renewed)),
            Some(Hold::Claimed) | None => row.claimed_until,
        }
    }

    /// Whether a delivery of `row` may start at `now`.
    fn may_start(&self, row: &OutboxRow, now: chrono::NaiveDateTime) -> bool {
        self.holds_until(row)
            .is_some_and(|until| until - now >= self.length / 2)
    }

    /// Resolves when less than a quarter of a lease is left of the claim on `row`; renewals
    /// push that moment back.
    async fn running_out(&self, row: &OutboxRow, clock: &Clock) {
        let mut renewals = self.renewals.subscribe();
        loop {
            let Some(until) = self.holds_until(row) else {
                return;
            };
            let left = until - self.length / 4 - clock.now();
            let Ok(wait) = left.to_std() else {
                return;
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = renewals.changed() => if changed.is_err() {
                    std::future::pending::<()>().await;
                },
            }
        }
    }
}

/// A delivery the SMTP server accepted, waiting for its record.
struct Accepted {
    id: i64,
    at: std::time::Instant,
    recorded: oneshot::Sender<()>,
}

/// The most deliveries one statement records.
const RECORD_BATCH: usize = 256;

pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = attempts.clamp(1, 8) - 1;
    chrono::Duration::seconds((30_i64 << exponent).min(3600))
}

/// What the row that caused a message recorded about it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Payload {
    changes: Vec<ChangePayload>,
    offset_minutes: i64,
    starts_at: Option<chrono::NaiveDateTime>,
    subject: String,
    body: String,
    project: Option<String>,
    lead_link_id: Option<i64>,
    slot_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct ChangePayload {
    what: String,
    before: String,
    after: String,
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

/// Renews this worker's claims every quarter lease until `stop` turns true.
async fn renew_claims(
    db: Db,
    clock: Clock,
    worker: String,
    lease: Lease,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(lease.renew_every());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let held = lease.held();
        if held.is_empty() {
            continue;
        }
        let until = clock.now() + lease.length;
        let (worker, asked) = (worker.clone(), held.clone());
        match db
            .outbox_urgent(move |conn| outbox::renew(conn, &worker, &asked, until))
            .await
        {
            Ok(renewed) => lease.renewed(&held, &renewed, until),
            Err(e) => tracing::warn!(error = %e, "could not renew the claims on messages"),
        }
    }
}

/// Records accepted deliveries as they come, all those waiting in one statement, and tells
/// each delivery once its record is committed. A record that fails is tried again: the
/// message was delivered, and only its record keeps it from going out a second time.
async fn record_deliveries(
    db: Db,
    clock: Clock,
    metrics: Arc<Metrics>,
    mut accepted: mpsc::UnboundedReceiver<Accepted>,
) {
    while let Some(first) = accepted.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match accepted.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let ids: Vec<i64> = batch.iter().map(|a| a.id).collect();
        let mut pause = Duration::from_millis(50);
        loop {
            let (record, now) = (ids.clone(), clock.now());
            match db
                .outbox_urgent(move |conn| outbox::mark_sent(conn, &record, now))
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, messages = ?ids, "could not record delivered messages; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
        for delivery in batch {
            metrics.delivery_recorded(delivery.at.elapsed().as_secs_f64());
            let _ = delivery.recorded.send(());
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
    /// Inserts the reminders that are due now (once each, however many workers run).
    pub async fn schedule_reminders(&self) -> Result<super::reminders::Scheduled, AppError> {
        let (now, defaults) = (self.clock.now(), self.reminder_offsets.clone());
        self.db
            .write_outbox(move |conn| super::reminders::schedule_due(conn, &defaults, now))
            .await
    }
}

impl Running {
    /// Claims and delivers until nothing is due, `budget` has passed or `stop` turns true;
    /// returns how many messages were handled. The next batch is claimed (and what its
    /// messages say is read, see `prepare`) while the current one is being sent, so deliveries
    /// wait neither for the slowest of a batch nor for the next claim. Once `stop` turns true
    /// no further message is started; those claimed stay so until `run` gives them back.
    async fn deliver_due(
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
    /// are renewed like the rest (see [`Lease`]).
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

    /// Reads what each message of a claimed batch will say, all in one go (a few queries for
    /// the whole batch rather than a few per message), and checks that each still applies.
    async fn prepare(&self, rows: Vec<OutboxRow>) -> Vec<Prepared> {
        let (links, key, now) = (self.links.clone(), self.key.clone(), self.clock.now());
        let organizer = (
            self.from.name.clone().unwrap_or_else(|| "Convene".into()),
            self.from.email.to_string(),
        );
        let read_at = std::time::Instant::now();
        let ids: Vec<RegistrationId> = rows.iter().filter_map(|r| r.registration_id).collect();
        let claimed = rows.clone();
        let contexts = self
            .db
            .read(move |conn| {
                let subjects = registrations::for_mail(conn, &ids)?;
                claimed
                    .iter()
                    .map(|row| context_for(conn, row, &subjects, &links, &key, now, &organizer))
                    .collect::<Result<Vec<_>, AppError>>()
            })
            .await;
        match contexts {
            Ok(contexts) => rows
                .into_iter()
                .zip(contexts)
                .map(|(row, context)| Prepared {
                    row,
                    context,
                    read_at,
                })
                .collect(),
            // Nothing could be read: each message is tried again later.
            Err(e) => rows
                .into_iter()
                .map(|row| Prepared {
                    row,
                    context: Err(Delivery::Retry(e.to_string())),
                    read_at,
                })
                .collect(),
        }
    }

    /// Delivers one claimed message (or records why not), then stops renewing its claim.
    async fn handle(&self, message: Prepared) {
        let id = message.row.id;
        self.settle(message).await;
        self.claims.let_go(id);
    }

    async fn settle(&self, message: Prepared) {
        let Prepared {
            row,
            context,
            read_at,
        } = message;
        let (id, attempts) = (row.id, row.attempts);
        // Deliveries before this one were slow: what the message says is read again, so that
        // it is checked just before it goes.
        let context = if read_at.elapsed() > STILL_FRESH {
            match self.prepare(vec![row.clone()]).await.pop() {
                Some(fresh) => fresh.context,
                None => context,
            }
        } else {
            context
        };
        // A claim whose renewals have been failing may soon be another worker's: rather than
        // risk sending the message twice, give it back (with the attempt its claim counted)
        // for the next claim.
        if context.is_ok() && !self.claims.may_start(&row, self.clock.now()) {
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
        let outcome = match context {
            Ok((notice, context)) => tokio::select! {
                outcome = self.deliver(&row, notice, context) => outcome,
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
    async fn deliver(&self, row: &OutboxRow, notice: Notice, context: NoticeContext) -> Delivery {
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

/// A claimed message with what it will say, or why it will not be sent after all.
struct Prepared {
    row: OutboxRow,
    context: Result<(Notice, NoticeContext), Delivery>,
    read_at: std::time::Instant,
}

/// A message whose context was read longer ago than this is read again before it is sent.
const STILL_FRESH: Duration = Duration::from_secs(1);

/// What one claimed message will say, or what to record instead of sending it. A connection
/// cut by the database is the one error returned: the whole read is then made again on
/// another (see `Db::read_blocking`).
fn context_for(
    conn: &mut DbConn,
    row: &OutboxRow,
    subjects: &HashMap<RegistrationId, registrations::MailSubject>,
    links: &Links,
    key: &SecretKey,
    now: chrono::NaiveDateTime,
    organizer: &(String, String),
) -> Result<Result<(Notice, NoticeContext), Delivery>, AppError> {
    let Some(notice) = Notice::parse(&row.kind) else {
        return Ok(Err(Delivery::Failed(format!(
            "unknown message kind `{}`",
            row.kind
        ))));
    };
    let built = match (row.registration_id, notice) {
        (Some(id), _) => match subjects.get(&id) {
            Some(subject) => build_context(
                conn,
                notice,
                subject,
                &row.payload,
                links,
                key,
                now,
                organizer,
            ),
            None => Ok(Err("the registration no longer exists".into())),
        },
        (None, Notice::LeadLink) => lead_context(conn, &row.payload, links, key),
        (None, _) => Ok(Err("the message names no registration".into())),
    };
    match built {
        Ok(Ok(context)) => Ok(Ok((notice, context))),
        Ok(Err(why)) => Ok(Err(Delivery::Skipped(why))),
        Err(AppError::NotFound(what)) => Ok(Err(Delivery::Skipped(what))),
        Err(e @ AppError::Unavailable(_)) => Err(e),
        Err(e) => Ok(Err(Delivery::Retry(e.to_string()))),
    }
}

/// A lead's link to their project's board, unless the lead was removed since.
fn lead_context(
    conn: &mut DbConn,
    payload: &str,
    links: &Links,
    key: &SecretKey,
) -> Result<Result<NoticeContext, String>, AppError> {
    let payload: Payload = serde_json::from_str(payload).unwrap_or_default();
    let Some(id) = payload.lead_link_id else {
        return Ok(Err("the message names no lead".into()));
    };
    let link = match board::find_lead_link(conn, id) {
        Ok(link) => link,
        Err(AppError::NotFound(_)) => return Ok(Err("no longer a lead".into())),
        Err(e) => return Err(e),
    };
    let project = projects::find(conn, link.project_id)?;
    let event = events::find(conn, project.event_id)?;
    Ok(Ok(NoticeContext {
        name: link.name.clone(),
        email: link.email.clone(),
        event_title: event.title.clone(),
        when: event.window()?.human(),
        event_url: links.event(&event.slug),
        project_name: project.name.clone(),
        lead_url: links.lead(&link.token(key)),
        board_url: links.board(&event.slug),
        ..NoticeContext::default()
    }))
}

/// The context of one message, or why it no longer applies.
#[expect(
    clippy::too_many_arguments,
    reason = "everything a message may mention, gathered in one read"
)]
fn build_context(
    conn: &mut DbConn,
    notice: Notice,
    subject: &registrations::MailSubject,
    payload: &str,
    links: &Links,
    key: &SecretKey,
    now: chrono::NaiveDateTime,
    organizer: &(String, String),
) -> Result<Result<NoticeContext, String>, AppError> {
    let payload: Payload = serde_json::from_str(payload).unwrap_or_default();
    let registrations::MailSubject {
        view,
        event,
        attendee,
    } = subject;
    let r = &view.registration;
    let status = r.status();
    let scheduled = event.status() == EventStatus::Scheduled;
    let why_not = match notice {
        Notice::Promoted if status != RegistrationStatus::Going => Some("no longer going"),
        Notice::Reminder if status != RegistrationStatus::Going => Some("not going"),
        Notice::Reminder if !scheduled => Some("the event is cancelled"),
        Notice::Reminder if payload.starts_at != Some(event.starts_at) => {
            Some("the event moved; a new reminder follows")
        }
        Notice::Reminder if now >= event.starts_at => Some("the event has started"),
        Notice::EventChanged | Notice::EventCancelled | Notice::OrganizerMessage
            if status == RegistrationStatus::Cancelled =>
        {
            Some("the registration is cancelled")
        }
        Notice::SlotMoved if status != RegistrationStatus::Going => Some("not going"),
        Notice::SlotMoved if !scheduled => Some("the event is cancelled"),
        n if n.is_bulk() && r.muted => Some("the attendee opted out"),
        _ => None,
    };
    let slot = match (notice, payload.slot_id) {
        (Notice::SlotMoved, Some(id)) => match board::find_slot_by_id(conn, id)? {
            Some(slot) => Some((projects::find(conn, slot.project_id)?, slot)),
            None => return Ok(Err("the slot was removed".into())),
        },
        _ => None,
    };
    if let Some(why) = why_not {
        return Ok(Err(why.into()));
    }
    let window = event.window()?;
    let feed_url = attendee
        .as_ref()
        .map(|a| links.personal_feed(&a.feed_token(key)));
    let place = crate::domain::text::comma_joined(&[&event.venue, &event.address]);
    Ok(Ok(NoticeContext {
        name: r.name.clone(),
        email: r.email.clone(),
        event_title: event.title.clone(),
        when: window.human(),
        place,
        online_url: event.online_url.clone(),
        event_url: links.event(&event.slug),
        manage_url: links.manage(&r.manage_token(key)),
        feed_url,
        unsubscribe_url: notice
            .is_bulk()
            .then(|| links.unsubscribe(&r.unsubscribe_token(key))),
        going: status == RegistrationStatus::Going,
        waitlist_position: view.waitlist_position.unwrap_or(0),
        projects: view
            .projects
            .iter()
            .map(|p| ProjectLine {
                name: p.name.clone(),
                location: p.location.clone(),
                notes_url: p.notes_url.clone(),
            })
            .collect(),
        changes: payload
            .changes
            .into_iter()
            .map(|c| Change {
                what: c.what,
                before: c.before,
                after: c.after,
            })
            .collect(),
        reminder_in: ReminderOffsets::describe(chrono::Duration::minutes(payload.offset_minutes)),
        message_subject: payload.subject,
        message_body: payload.body,
        message_project: payload.project,
        calendar: match &slot {
            Some((project, slot)) => Some(slot_attachment(
                event,
                project,
                slot,
                links,
                organizer.clone(),
            )),
            None => notice.attaches_event().then(|| {
                email_attachment(
                    event,
                    links,
                    status == RegistrationStatus::Waitlisted,
                    organizer.clone(),
                )
            }),
        },
        project_name: slot
            .as_ref()
            .map(|(p, _)| p.name.clone())
            .unwrap_or_default(),
        board_url: links.board(&event.slug),
        slot_title: slot
            .as_ref()
            .map(|(_, s)| s.title.clone())
            .unwrap_or_default(),
        slot_room: slot
            .as_ref()
            .map(|(_, s)| s.room.clone())
            .unwrap_or_default(),
        slot_when: slot
            .as_ref()
            .map(|(_, s)| {
                format!(
                    "{} – {} ({})",
                    crate::domain::time::local_label(s.starts_at, &event.timezone),
                    crate::domain::time::local_naive(s.ends_at, &event.timezone)
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    event.timezone
                )
            })
            .unwrap_or_default(),
        lead_url: String::new(),
    }))
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
