-- The statements read model (projection `statements`): issued monthly effort statements
-- and their frozen lines.
CREATE TABLE statement_view (
    id           uuid        PRIMARY KEY,
    client_id    uuid        NOT NULL,
    month        text        NOT NULL,
    revision     integer     NOT NULL,
    closed       boolean     NOT NULL,
    issued_by    uuid        NOT NULL,
    issued_at    timestamptz NOT NULL,
    reopened_reason text,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX ON statement_view (client_id, month);

CREATE TABLE statement_lines (
    entry_id     uuid        PRIMARY KEY,
    statement_id uuid        NOT NULL,
    revision     integer     NOT NULL,
    date         date        NOT NULL,
    user_id      uuid        NOT NULL,
    project_id   uuid        NOT NULL,
    task_id      uuid,
    minutes      integer     NOT NULL,
    billable     boolean     NOT NULL,
    hourly_minor bigint,
    amount_minor bigint,
    currency     text,
    carried_over boolean     NOT NULL
);
CREATE INDEX ON statement_lines (statement_id, date, entry_id);
