-- How notifications reach each recipient besides the app (projection `notifications`):
-- kinds never emailed, and a daily digest instead of single emails.
ALTER TABLE notification_recipients
    ADD COLUMN email_muted text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN digest      boolean NOT NULL DEFAULT false;
