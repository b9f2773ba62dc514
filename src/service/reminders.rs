//! Reminders: when a reminder's moment has come, one outbox row per (registration, offset,
//! event start) is inserted under a unique key, so any number of instances scheduling at once
//! produce one message. A moved event has a new start, hence new keys: reminders for the new
//! time go out, and the worker drops any unsent one for the old time. The mail worker looks
//! for due reminders now and then (`jobs::outbox`).

use chrono::{Duration, NaiveDateTime};

use super::Service;
use crate::db::outbox::{self, NewMessage};
use crate::db::{DbConn, events, registrations};
use crate::domain::reminders::MAX_OFFSET_DAYS;
use crate::domain::{Notice, ReminderOffsets};
use crate::error::AppError;

/// The start of every reminder's key: `reminder:{registration}:{offset minutes}:{start}`.
const KEY_PREFIX: &str = "reminder:";

/// What one scan for due reminders did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scheduled {
    /// Registrations the database found without their reminder (read from it).
    pub found: usize,
    /// Reminders inserted: `found`, less those another instance inserted meanwhile.
    pub added: usize,
}

/// Queues the reminders that are due now (once each, however many workers run), `defaults`
/// for events without offsets of their own. Someone who signed up after a reminder's moment
/// does not get that one (a late signup 2 hours before gets the 1-hour reminder only). A scan
/// that finds every reminder already in place reads no registration.
pub async fn queue_due(
    service: &Service,
    defaults: ReminderOffsets,
) -> Result<Scheduled, AppError> {
    let now = service.clock.now();
    // Pages and feeds never show reminders: their kept reads stay valid, and the worker that
    // asks is the one to send them, so nobody is woken.
    service
        .db
        .write_outbox(move |conn| queue_due_in(conn, &defaults, now))
        .await
}

/// Queues the reminders due at `now` inside a transaction.
fn queue_due_in(
    conn: &mut DbConn,
    defaults: &ReminderOffsets,
    now: NaiveDateTime,
) -> Result<Scheduled, AppError> {
    let mut scheduled = Scheduled::default();
    for event in events::starting_between(conn, now, now + Duration::days(MAX_OFFSET_DAYS))? {
        let offsets = match event.reminder_offsets.as_deref() {
            Some(own) => ReminderOffsets::parse(own).unwrap_or_else(|_| defaults.clone()),
            None => defaults.clone(),
        };
        let due: Vec<Duration> = offsets
            .offsets()
            .iter()
            .copied()
            .filter(|o| event.starts_at - *o <= now)
            .collect();
        if due.is_empty() {
            continue;
        }
        // Only the nearest reminder whose moment has come: after downtime, a late promotion or
        // an event moved earlier, nobody gets "in 24 hours" half an hour before the start.
        let Some(&offset) = due.iter().min() else {
            continue;
        };
        let moment = event.starts_at - offset;
        let key_suffix = format!(
            ":{}:{}",
            offset.num_minutes(),
            event.starts_at.and_utc().timestamp()
        );
        let missing =
            registrations::missing_reminder(conn, event.id, moment, (KEY_PREFIX, &key_suffix))?;
        scheduled.found += missing.len();
        for registration in missing {
            let key = format!("{KEY_PREFIX}{}{key_suffix}", registration.id);
            let message = NewMessage {
                notice: Notice::Reminder {
                    offset_minutes: offset.num_minutes(),
                    starts_at: event.starts_at,
                },
                event_id: event.id,
                registration_id: registration.id,
                recipient: &registration.email,
            };
            // Another instance may have added it since the read: then this adds nothing.
            if outbox::enqueue_once(conn, message, &key, now)? {
                scheduled.added += 1;
            }
        }
    }
    Ok(scheduled)
}
