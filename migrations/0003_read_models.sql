-- Projection checkpoints and read models.
-- Read-model indexes are created WITHOUT explicit names on purpose: a blue/green rebuild
-- copies each table with LIKE ... INCLUDING ALL into a fresh schema and moves it back, and
-- PostgreSQL then gives the copies the same generated names.

CREATE TABLE projection_checkpoints (
    name          text        PRIMARY KEY,
    last_tx       xid8        NOT NULL DEFAULT '0',
    last_position bigint      NOT NULL DEFAULT 0,
    events_seen   bigint      NOT NULL DEFAULT 0,
    last_event_at timestamptz,
    last_error    text,
    failing_since timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lead_view (
    id               uuid        PRIMARY KEY,
    company          text        NOT NULL,
    contact_name     text        NOT NULL,
    email            text        NOT NULL,
    phone            text,
    source           text        NOT NULL,
    service_interest text        NOT NULL,
    owner_id         uuid,
    score            integer,
    stage            text        NOT NULL,
    lost_reason      text,
    client_id        uuid,
    project_id       uuid,
    next_follow_up   date,
    note_count       integer     NOT NULL DEFAULT 0,
    activity_count   integer     NOT NULL DEFAULT 0,
    captured_at      timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_sequence    bigint      NOT NULL
);
CREATE INDEX ON lead_view (captured_at, id);
CREATE INDEX ON lead_view (updated_at, id);
CREATE INDEX ON lead_view (stage, updated_at, id);
CREATE INDEX ON lead_view (owner_id, updated_at, id);
CREATE INDEX ON lead_view (score, id);
CREATE INDEX ON lead_view (lower(company), id);

CREATE TABLE lead_notes (
    id        uuid        PRIMARY KEY,
    lead_id   uuid        NOT NULL,
    body      text        NOT NULL,
    author_id uuid,
    at        timestamptz NOT NULL
);
CREATE INDEX ON lead_notes (lead_id, at);

CREATE TABLE lead_activities (
    id           uuid        PRIMARY KEY,
    lead_id      uuid        NOT NULL,
    kind         text        NOT NULL,
    summary      text        NOT NULL,
    follow_up_on date,
    author_id    uuid,
    at           timestamptz NOT NULL
);
CREATE INDEX ON lead_activities (lead_id, at);

CREATE TABLE client_view (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    lead_id       uuid,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_sequence bigint      NOT NULL
);
CREATE INDEX ON client_view (created_at, id);
CREATE INDEX ON client_view (lower(name), id);

CREATE TABLE client_contacts (
    id         uuid    PRIMARY KEY,
    client_id  uuid    NOT NULL,
    name       text    NOT NULL,
    email      text    NOT NULL,
    phone      text,
    is_primary boolean NOT NULL
);
CREATE INDEX ON client_contacts (client_id);

CREATE TABLE project_view (
    id               uuid        PRIMARY KEY,
    client_id        uuid        NOT NULL,
    name             text        NOT NULL,
    template_id      uuid        NOT NULL,
    family           text        NOT NULL,
    template_version integer     NOT NULL,
    status           text        NOT NULL,
    current_stage    text        NOT NULL,
    stage_started_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_sequence    bigint      NOT NULL
);
CREATE INDEX ON project_view (client_id, created_at, id);
CREATE INDEX ON project_view (created_at, id);
CREATE INDEX ON project_view (updated_at, id);
CREATE INDEX ON project_view (status, updated_at, id);

CREATE TABLE project_stages (
    project_id uuid    NOT NULL,
    stage      text    NOT NULL,
    position   integer NOT NULL,
    sla_days   integer,
    PRIMARY KEY (project_id, stage)
);

CREATE TABLE project_checklist_items (
    project_id        uuid    NOT NULL,
    stage             text    NOT NULL,
    key               text    NOT NULL,
    position          integer NOT NULL,
    title             text    NOT NULL,
    mandatory         boolean NOT NULL,
    evidence_required boolean NOT NULL,
    responsible_role  text    NOT NULL,
    status            text    NOT NULL,
    PRIMARY KEY (project_id, stage, key)
);

CREATE TABLE user_view (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL,
    display_name  text        NOT NULL,
    role          text        NOT NULL,
    client_id     uuid,
    active        boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_sequence bigint      NOT NULL
);
CREATE INDEX ON user_view (lower(display_name), id);
CREATE INDEX ON user_view (client_id);

CREATE TABLE template_view (
    id             uuid        PRIMARY KEY,
    family         text        NOT NULL,
    name           text        NOT NULL,
    latest_version integer     NOT NULL,
    stages         jsonb       NOT NULL,
    published_at   timestamptz NOT NULL,
    last_sequence  bigint      NOT NULL
);
CREATE INDEX ON template_view (family);
