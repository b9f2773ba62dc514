//! Live sprint boards: whoever watches an event's board gets its new state as soon as
//! something on it changes. A write of `service` marks the board changed in its `Effects`,
//! which calls `db::board::notify` inside the transaction and `BoardHub::changed` after it. On SQLite (one instance) the hub refreshes right away; on
//! PostgreSQL the change goes out as `NOTIFY convene_board` on commit, and every instance,
//! this one included, hears it on a connection of its own that `LISTEN`s, then refreshes its
//! watchers. The board state is read once per change and shared by every stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tokio::sync::{broadcast, mpsc};

use crate::clock::Clock;
use crate::db::{Backend, Db};
use crate::domain::EventId;

use crate::db::board::CHANNEL;
/// Board states kept per event for slow watchers; a watcher that falls behind skips to the
/// latest.
const BACKLOG: usize = 4;
/// Check-ins end by themselves: watched boards are refreshed this often even without writes.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct BoardHub {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Clock,
    channels: Mutex<HashMap<EventId, broadcast::Sender<Arc<str>>>>,
    refresh: mpsc::UnboundedSender<EventId>,
}

impl BoardHub {
    /// Starts the hub's refresher (and, on PostgreSQL, its listener). Needs a Tokio runtime.
    pub fn start(db: Db, clock: Clock, database_url: Option<String>) -> Self {
        let (refresh, mut requests) = mpsc::unbounded_channel::<EventId>();
        let hub = BoardHub {
            inner: Arc::new(Inner {
                db: db.clone(),
                clock,
                channels: Mutex::new(HashMap::new()),
                refresh: refresh.clone(),
            }),
        };
        let worker = hub.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.tick().await;
            loop {
                tokio::select! {
                    request = requests.recv() => {
                        let Some(first) = request else { break };
                        // Several changes in a burst: each board is read once.
                        let mut events = vec![first];
                        while let Ok(more) = requests.try_recv() {
                            if !events.contains(&more) {
                                events.push(more);
                            }
                        }
                        for event_id in events {
                            worker.publish(event_id).await;
                        }
                    }
                    _ = tick.tick() => {
                        for event_id in worker.watched() {
                            worker.publish(event_id).await;
                        }
                    }
                }
            }
        });
        if let (Backend::Postgres, Some(url)) = (db.backend(), database_url) {
            let sender = refresh;
            std::thread::Builder::new()
                .name("board-listener".into())
                .spawn(move || listen(&url, &sender))
                .expect("a thread for the board listener");
        }
        hub
    }

    /// A stream of the event's board states (JSON), from the next change on.
    pub fn subscribe(&self, event_id: EventId) -> broadcast::Receiver<Arc<str>> {
        let mut channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels
            .entry(event_id)
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe()
    }

    /// After a write to the event's board has committed.
    pub fn changed(&self, event_id: EventId) {
        // On PostgreSQL the NOTIFY sent with the commit reaches every instance, this one too.
        if self.inner.db.backend() == Backend::Sqlite {
            let _ = self.inner.refresh.send(event_id);
        }
    }

    fn watched(&self) -> Vec<EventId> {
        let channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        channels
            .iter()
            .filter(|(_, s)| s.receiver_count() > 0)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Reads the board once and sends it to every watcher of the event.
    async fn publish(&self, event_id: EventId) {
        let sender = {
            let channels = self
                .inner
                .channels
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match channels.get(&event_id) {
                Some(s) if s.receiver_count() > 0 => s.clone(),
                _ => return,
            }
        };
        let now = self.inner.clock.now();
        let state = self
            .inner
            .db
            .read(move |conn| super::state::board_state_by_id(conn, event_id, now))
            .await;
        match state.and_then(|s| {
            serde_json::to_string(&s).map_err(|e| crate::error::AppError::Internal(e.into()))
        }) {
            Ok(json) => {
                let _ = sender.send(Arc::from(json));
            }
            Err(e) => {
                tracing::warn!(event = event_id.get(), error = %e, "could not read a board to publish")
            }
        }
    }
}

/// Holds a connection that `LISTEN`s, and passes on each event id it hears; reconnects after
/// an error, waiting a little longer each time (at most 10 s).
fn listen(url: &str, refresh: &mpsc::UnboundedSender<EventId>) {
    let mut wait = Duration::from_millis(200);
    loop {
        if refresh.is_closed() {
            return;
        }
        match PgConnection::establish(url) {
            Ok(mut conn) => {
                if let Err(e) = conn.batch_execute(&format!("LISTEN {CHANNEL}")) {
                    tracing::warn!(error = %e, "cannot LISTEN for board changes");
                } else {
                    wait = Duration::from_millis(200);
                    'poll: loop {
                        for notification in conn.notifications_iter() {
                            match notification {
                                Ok(n) => {
                                    if let Ok(id) = n.payload.parse::<EventId>()
                                        && refresh.send(id).is_err()
                                    {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "board listener lost its connection");
                                    break 'poll;
                                }
                            }
                        }
                        if refresh.is_closed() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "board listener cannot connect"),
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}
