-- Login throttling as one counter row per key (an account's email, or a client address),
-- bumped and read in one statement: the row lock makes "count and decide" atomic, so
-- parallel guesses cannot all pass a check made before any of them was counted.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    key           text        PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    attempts      integer     NOT NULL
);

-- Per-user access-token version: a token carries the version it was issued under and is
-- refused once the user's version has moved on (role change, deactivation, logout,
-- password change). Every replica keeps the table in memory, told of changes by NOTIFY on
-- zippcrm_sessions.
CREATE TABLE token_versions (
    user_id  uuid   PRIMARY KEY,
    version  bigint NOT NULL
);

-- Idempotency keys of mutations (the Idempotency-Key header), per caller: claimed before
-- the mutation runs, its answer stored after; a repeat answers the stored answer.
CREATE TABLE idempotency_keys (
    caller       uuid        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    answer       bytea,
    status       smallint,
    content_type text,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
