-- The service desk read model (projection `service_desk`): standalone work for a client,
-- its current assignees, every routing, and internal notes.
CREATE TABLE service_items (
    id            uuid        PRIMARY KEY,
    client_id     uuid        NOT NULL,
    team_id       uuid        NOT NULL,
    category      text        NOT NULL,
    title         text        NOT NULL,
    description   text        NOT NULL,
    priority      text        NOT NULL,
    due_on        date,
    status        text        NOT NULL,
    cancel_reason text,
    opened_by     uuid        NOT NULL,
    opened_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX ON service_items (team_id, status);
CREATE INDEX ON service_items (client_id, status);
CREATE INDEX ON service_items (due_on) WHERE status NOT IN ('done', 'cancelled');

CREATE TABLE service_assignees (
    item_id        uuid        NOT NULL,
    user_id        uuid        NOT NULL,
    budget_minutes integer,
    routed_at      timestamptz NOT NULL,
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX ON service_assignees (user_id);

CREATE TABLE service_routings (
    item_id   uuid        NOT NULL,
    sequence  bigint      NOT NULL,
    assignees jsonb       NOT NULL,   -- [{"user_id": ..., "budget_minutes": ...}]
    note      text,
    routed_by uuid        NOT NULL,
    routed_at timestamptz NOT NULL,
    PRIMARY KEY (item_id, sequence)
);

CREATE TABLE service_notes (
    id       uuid        PRIMARY KEY,
    item_id  uuid        NOT NULL,
    body     text        NOT NULL,
    by_user  uuid        NOT NULL,
    added_at timestamptz NOT NULL
);
CREATE INDEX ON service_notes (item_id, added_at);

-- Time is logged on a matter: a project (and maybe one of its tasks) or a service item.
ALTER TABLE time_entries
    ALTER COLUMN project_id DROP NOT NULL,
    ADD COLUMN service_item_id uuid,
    ADD COLUMN matter_id uuid GENERATED ALWAYS AS (COALESCE(project_id, service_item_id)) STORED;
CREATE INDEX ON time_entries (matter_id, state, date);
ALTER TABLE statement_lines RENAME COLUMN project_id TO matter_id;

-- Notifications about a service item name no project.
ALTER TABLE notification_subjects ALTER COLUMN project_id DROP NOT NULL;
