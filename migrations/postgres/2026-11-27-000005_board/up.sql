-- The sprint board: what each project is doing now and next, its leads' secret links, the
-- room slots it booked, and who is checked in at its table.
ALTER TABLE projects ADD COLUMN now_line TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN next_line TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN board_updated_at TIMESTAMP;

-- One secret link per lead (by address) and project; only the nonce and the hash are kept.
CREATE TABLE lead_links (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    name TEXT NOT NULL,
    nonce TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (project_id, email_normalized)
);

CREATE TABLE slots (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    uid TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    room TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX slots_event ON slots (event_id, starts_at);

CREATE TABLE checkins (
    id BIGSERIAL PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    checked_in_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    checked_out_at TIMESTAMP
);
CREATE INDEX checkins_project ON checkins (project_id, expires_at);
CREATE INDEX checkins_registration ON checkins (registration_id);
