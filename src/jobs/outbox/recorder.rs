//! Records deliveries the SMTP server accepted, as soon as it can and several in one commit:
//! until its record is committed a delivered message would go out again after a crash.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::db::Db;
use crate::db::outbox;
use crate::metrics::Metrics;

/// A delivery the SMTP server accepted, waiting for its record.
pub(super) struct Accepted {
    pub(super) id: i64,
    pub(super) at: std::time::Instant,
    pub(super) recorded: oneshot::Sender<()>,
}

/// The most deliveries one statement records.
const RECORD_BATCH: usize = 256;

/// Records accepted deliveries as they come, all those waiting in one statement, and tells
/// each delivery once its record is committed. A record that fails is tried again: the
/// message was delivered, and only its record keeps it from going out a second time.
pub(super) async fn record_deliveries(
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
