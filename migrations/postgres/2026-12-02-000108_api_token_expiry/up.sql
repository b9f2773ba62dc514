-- API tokens may expire, and remember roughly when they were last used (to the hour, so that
-- a busy script does not write on every request). Revoking a token deletes its row.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMP;
CREATE INDEX api_tokens_organizer ON api_tokens (organizer_id);
