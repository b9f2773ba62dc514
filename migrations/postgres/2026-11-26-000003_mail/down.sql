DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (available_at) WHERE sent_at IS NULL AND failed_at IS NULL;
DROP INDEX outbox_event;
ALTER TABLE outbox DROP COLUMN skipped_at;
ALTER TABLE registrations DROP COLUMN muted;
ALTER TABLE events DROP COLUMN reminder_offsets;
