-- An event is a draft until it is published: not on the public pages, not in feeds, no
-- signups, no mail. Every event that exists already counts as published when it was created.
ALTER TABLE events ADD COLUMN published_at TIMESTAMP;
UPDATE events SET published_at = created_at;
