DROP TABLE checkins;
DROP TABLE slots;
DROP TABLE lead_links;
ALTER TABLE projects DROP COLUMN board_updated_at;
ALTER TABLE projects DROP COLUMN next_line;
ALTER TABLE projects DROP COLUMN now_line;
