DROP INDEX registrations_email;
DROP TABLE attendees;
DROP INDEX projects_uid;
ALTER TABLE projects DROP COLUMN revision;
ALTER TABLE projects DROP COLUMN uid;
DROP INDEX events_uid;
ALTER TABLE events DROP COLUMN uid;
