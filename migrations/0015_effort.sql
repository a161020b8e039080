-- The effort read model (projection `effort`): every time entry with its state.
CREATE TABLE time_entries (
    entry_id    uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL,
    week_start  date        NOT NULL,
    date        date        NOT NULL,
    minutes     integer     NOT NULL,
    description text        NOT NULL,
    billable    boolean     NOT NULL,
    project_id  uuid        NOT NULL,
    task_id     uuid,
    state       text        NOT NULL,
    reason      text,
    reverses    uuid,
    decided_by  uuid,
    logged_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX ON time_entries (user_id, week_start);
CREATE INDEX ON time_entries (project_id, state, date);
CREATE INDEX ON time_entries (state, week_start) WHERE state = 'submitted';
