-- Who's going: a person may have their name shown on the event page (off unless they say so).
ALTER TABLE registrations ADD COLUMN show_name BOOLEAN NOT NULL DEFAULT 0;
