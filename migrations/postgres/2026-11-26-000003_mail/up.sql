-- Email: per-event reminder offsets chosen by the organizer (NULL: the service default), and
-- a per-registration opt-out from reminders and organizer messages (one-click unsubscribe).
ALTER TABLE events ADD COLUMN reminder_offsets TEXT;
ALTER TABLE registrations ADD COLUMN muted BOOLEAN NOT NULL DEFAULT FALSE;
-- A message that no longer applied when its turn came (the registration was cancelled,
-- the event moved): neither sent nor failed.
ALTER TABLE outbox ADD COLUMN skipped_at TIMESTAMP;
CREATE INDEX outbox_event ON outbox (event_id, id);
-- The worker claims the oldest undelivered messages: an index of exactly those, in order.
DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (id) WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL;
