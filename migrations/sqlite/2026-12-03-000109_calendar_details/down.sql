ALTER TABLE attendees DROP COLUMN feed_alarm_minutes;
ALTER TABLE events DROP COLUMN longitude;
ALTER TABLE events DROP COLUMN latitude;
ALTER TABLE events DROP COLUMN contact_email;
ALTER TABLE events DROP COLUMN contact_name;
