DROP TABLE outbox;
DROP TABLE api_tokens;
DROP TABLE organizers;
DROP TABLE registration_projects;
DROP TABLE registrations;
DROP TABLE project_leads;
DROP TABLE projects;
DROP TABLE events;
