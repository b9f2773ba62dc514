-- Calendar feeds: stable UIDs for events and projects, a revision for projects (their
-- room or table is part of the project feed), and attendees' personal feed tokens.

ALTER TABLE events ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE events SET uid = md5(random()::text || id::text || clock_timestamp()::text);
ALTER TABLE events ALTER COLUMN uid DROP DEFAULT;
CREATE UNIQUE INDEX events_uid ON events (uid);

ALTER TABLE projects ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE projects SET uid = md5(random()::text || id::text || clock_timestamp()::text);
ALTER TABLE projects ALTER COLUMN uid DROP DEFAULT;
CREATE UNIQUE INDEX projects_uid ON projects (uid);
ALTER TABLE projects ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- One row per attendee address: the secret behind their personal feed link.
CREATE TABLE attendees (
    id BIGSERIAL PRIMARY KEY,
    email_normalized TEXT NOT NULL UNIQUE,
    feed_nonce TEXT NOT NULL,
    feed_token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX registrations_email ON registrations (email_normalized);
