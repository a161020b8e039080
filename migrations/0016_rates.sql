-- The rates read model (projection `rates`): the firm's rate card, one row per scope.
CREATE TABLE rate_card (
    scope        jsonb       PRIMARY KEY,
    hourly_minor bigint      NOT NULL,
    currency     text        NOT NULL,
    updated_at   timestamptz NOT NULL
);
