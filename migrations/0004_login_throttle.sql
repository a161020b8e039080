-- Failed logins per email, for throttling password guessing (RATE_LIMITED).
-- Kept in the database, not in process memory, so the limit holds across replicas.
CREATE TABLE login_failures (
    email_key text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON login_failures (email_key, failed_at);
