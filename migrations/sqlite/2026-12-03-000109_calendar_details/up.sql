-- What calendars show beside the time: who organizes an event (the ORGANIZER of its calendar
-- entries, where replies go), where it is on a map, and the alarm a person wants in their own
-- calendar feed (none unless they choose one).
ALTER TABLE events ADD COLUMN contact_name TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN contact_email TEXT;
ALTER TABLE events ADD COLUMN latitude REAL CHECK (latitude BETWEEN -90 AND 90);
ALTER TABLE events ADD COLUMN longitude REAL CHECK (longitude BETWEEN -180 AND 180);
ALTER TABLE attendees ADD COLUMN feed_alarm_minutes INTEGER
    CHECK (feed_alarm_minutes BETWEEN 0 AND 10080);
