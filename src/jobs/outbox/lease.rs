//! The claims of one worker: how long each holds, their renewal every quarter lease, and
//! whether a delivery may start or must be cut off (see [`Lease`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::db::Db;
use crate::db::outbox::{self, OutboxRow};

/// What a worker's claims look like from the outside. A claim holds for `lease` after the claim
/// or its latest renewal; the worker renews all its claims every quarter lease, starts a
/// delivery only while at least half a lease is left, and abandons one still in flight when
/// less than a quarter is left. So a dead worker's messages go out from another within one
/// lease, and a live one never sends a message whose claim may already be another's.
#[derive(Clone)]
pub(super) struct Lease {
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
    pub(super) fn new(length: chrono::Duration) -> Self {
        Self {
            length,
            renewals: watch::channel(0).0,
            held: Default::default(),
        }
    }

    pub(super) fn hold(&self, rows: &[OutboxRow]) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.extend(rows.iter().map(|r| (r.id, Hold::Claimed)));
    }

    pub(super) fn let_go(&self, id: i64) {
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
    pub(super) fn may_start(&self, row: &OutboxRow, now: chrono::NaiveDateTime) -> bool {
        self.holds_until(row)
            .is_some_and(|until| until - now >= self.length / 2)
    }

    /// Resolves when less than a quarter of a lease is left of the claim on `row`; renewals
    /// push that moment back.
    pub(super) async fn running_out(&self, row: &OutboxRow, clock: &Clock) {
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

/// Renews this worker's claims every quarter lease until `stop` turns true.
pub(super) async fn renew_claims(
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
