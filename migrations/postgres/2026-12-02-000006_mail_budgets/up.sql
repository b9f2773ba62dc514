-- Signup mails per mailbox (the address in lower case, without a +tag) in the current hour
-- and day, so that strangers cannot flood one inbox through the signup form. A row whose
-- day has ended is removed by the next signup.
CREATE TABLE mail_budgets (
    mailbox TEXT PRIMARY KEY NOT NULL,
    hour_started_at TIMESTAMP NOT NULL,
    hour_count INTEGER NOT NULL,
    day_started_at TIMESTAMP NOT NULL,
    day_count INTEGER NOT NULL
);
CREATE INDEX mail_budgets_day ON mail_budgets (day_started_at);
