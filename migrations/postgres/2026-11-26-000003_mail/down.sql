DROP INDEX outbox_event;
ALTER TABLE outbox DROP COLUMN skipped_at;
ALTER TABLE registrations DROP COLUMN muted;
ALTER TABLE events DROP COLUMN reminder_offsets;
