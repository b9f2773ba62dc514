ALTER TABLE registrations DROP COLUMN show_name;
