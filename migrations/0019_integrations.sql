-- Integrations: API keys, time entries from the productivity platform, saved mappings.

-- Write side: the hash of each API key's secret (never in the log, like passwords).
-- Revoking a key deletes its row, so it stops working before any read model moves.
CREATE TABLE api_key_secrets (
    key_id      uuid        PRIMARY KEY,
    secret_hash text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The integrations read model (projection `integrations`).
CREATE TABLE api_keys (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    scopes     text[]      NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE external_entries (
    id              uuid        PRIMARY KEY,
    external_id     text        NOT NULL,
    key_id          uuid,
    user_ref        text        NOT NULL,
    matter_ref      text        NOT NULL,
    date            date        NOT NULL,
    minutes         integer     NOT NULL,
    description     text        NOT NULL,
    billable        boolean     NOT NULL,
    status          text        NOT NULL,
    reason          text,
    user_id         uuid,
    project_id      uuid,
    task_id         uuid,
    service_item_id uuid,
    decided_by      uuid,
    received_at     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX ON external_entries (received_at, id) WHERE status IN ('unmapped', 'refused');

CREATE TABLE external_mappings (
    kind            text        NOT NULL CHECK (kind IN ('user', 'matter')),
    external        text        NOT NULL,
    user_id         uuid,
    project_id      uuid,
    task_id         uuid,
    service_item_id uuid,
    updated_by      uuid        NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (kind, external)
);

-- A time entry that came from the platform carries its id there.
ALTER TABLE time_entries ADD COLUMN external_id text;
