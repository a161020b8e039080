-- Write-side tables that are not events: uniqueness reservations, secrets, outbox.

-- One row per user email: the uniqueness constraint an event log cannot express.
CREATE TABLE email_registry (
    email       text        PRIMARY KEY,
    user_id     uuid        NOT NULL UNIQUE,
    reserved_at timestamptz NOT NULL DEFAULT now()
);

-- Password hashes stay out of the immutable log.
CREATE TABLE user_credentials (
    user_id       uuid        PRIMARY KEY,
    password_hash text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Rotating refresh tokens, stored hashed; a family is one login's chain of rotations.
CREATE TABLE refresh_tokens (
    id          uuid        PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    token_hash  text        NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX ON refresh_tokens (family_id);

-- One-time set-password tokens (portal invitations), stored hashed.
CREATE TABLE password_tokens (
    token_hash  text        PRIMARY KEY,
    user_id     uuid        NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Messages waiting to be sent; a sender drains it (not yet built).
CREATE TABLE email_outbox (
    id          uuid        PRIMARY KEY,
    kind        text        NOT NULL,
    to_address  text        NOT NULL,
    subject     text        NOT NULL,
    body        text        NOT NULL,
    user_id     uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX ON email_outbox (created_at) WHERE sent_at IS NULL;
