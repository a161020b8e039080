-- Delivery engine read models (issue #3): stage gates, tasks, the document loop, the liaison
-- log, milestones, licences, notifications; plus the write-side tables of the document loop.

ALTER TABLE project_view
    ADD COLUMN progress           integer NOT NULL DEFAULT 0,
    ADD COLUMN stages_complete    boolean NOT NULL DEFAULT false,
    ADD COLUMN auto_complete_tasks boolean NOT NULL DEFAULT false,
    ADD COLUMN licence_number     text,
    ADD COLUMN licence_issued_on  date,
    ADD COLUMN licence_expires_on date;
CREATE INDEX ON project_view (licence_expires_on) WHERE licence_expires_on IS NOT NULL;

ALTER TABLE project_stages
    ADD COLUMN sla_extension_days integer,
    ADD COLUMN extended_days      integer,
    ADD COLUMN started_at         timestamptz,
    ADD COLUMN completed_at       timestamptz;

ALTER TABLE project_checklist_items
    ADD COLUMN reason     text,
    ADD COLUMN updated_by uuid,
    ADD COLUMN updated_at timestamptz;

CREATE TABLE project_advance_requests (
    id           uuid        PRIMARY KEY,
    project_id   uuid        NOT NULL,
    from_stage   text        NOT NULL,
    to_stage     text,
    requested_by uuid        NOT NULL,
    requested_at timestamptz NOT NULL,
    decision     text        NOT NULL,   -- pending, approved, refused
    decided_by   uuid,
    decided_at   timestamptz,
    reason       text
);
CREATE INDEX ON project_advance_requests (project_id, requested_at);
CREATE INDEX ON project_advance_requests (decision, requested_at) WHERE decision = 'pending';

CREATE TABLE project_liaison_entries (
    id          uuid        PRIMARY KEY,
    project_id  uuid        NOT NULL,
    date        date        NOT NULL,
    regulator   text        NOT NULL,
    direction   text        NOT NULL,
    summary     text        NOT NULL,
    attachments text[]      NOT NULL,
    recorded_by uuid        NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX ON project_liaison_entries (project_id, date, id);

CREATE TABLE project_milestones (
    id           uuid        PRIMARY KEY,
    project_id   uuid        NOT NULL,
    stage        text        NOT NULL,
    title        text        NOT NULL,
    amount_minor bigint      NOT NULL,
    currency     text        NOT NULL,
    created_at   timestamptz NOT NULL,
    billable_at  timestamptz
);
CREATE INDEX ON project_milestones (project_id, created_at);

CREATE TABLE project_alerts (
    project_id uuid        NOT NULL,
    days_ahead integer     NOT NULL,
    expires_on date        NOT NULL,
    raised_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, days_ahead)
);

-- Tasks and subtasks (parent_id set) in one table.
CREATE TABLE project_tasks (
    id             uuid        PRIMARY KEY,
    project_id     uuid        NOT NULL,
    parent_id      uuid,
    stage          text,
    title          text        NOT NULL,
    assignee       uuid,
    priority       text        NOT NULL,
    due_on         date,
    estimate_hours double precision,
    status         text        NOT NULL,
    progress       integer     NOT NULL,
    position       bigint      NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX ON project_tasks (project_id, parent_id, position);
CREATE INDEX ON project_tasks (assignee, status) WHERE assignee IS NOT NULL;

CREATE TABLE document_requests (
    id           uuid        PRIMARY KEY,
    project_id   uuid        NOT NULL,
    client_id    uuid        NOT NULL,
    stage        text        NOT NULL,
    item_key     text        NOT NULL,
    item_title   text        NOT NULL,
    instructions text        NOT NULL,
    due_on       date,
    status       text        NOT NULL,   -- open, submitted, accepted, rejected
    raised_by    uuid        NOT NULL,
    raised_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX ON document_requests (client_id, status, raised_at, id);
CREATE INDEX ON document_requests (project_id, raised_at);
CREATE INDEX ON document_requests (status, due_on) WHERE status IN ('open', 'rejected');

CREATE TABLE document_uploads (
    id           uuid        PRIMARY KEY,
    request_id   uuid        NOT NULL,
    project_id   uuid        NOT NULL,
    client_id    uuid        NOT NULL,
    version      integer     NOT NULL,
    file_name    text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    media_type   text        NOT NULL,
    sha256       text        NOT NULL,
    storage_key  text        NOT NULL,
    state        text        NOT NULL,   -- submitted, accepted, rejected
    reason       text,
    uploaded_by  uuid        NOT NULL,
    uploaded_at  timestamptz NOT NULL,
    reviewed_by  uuid,
    reviewed_at  timestamptz
);
CREATE INDEX ON document_uploads (request_id, version);
CREATE INDEX ON document_uploads (state, uploaded_at) WHERE state = 'submitted';

-- The notifications projection keeps its own view of who belongs to which client and who
-- raised which request, so it never reads another projection's tables.
CREATE TABLE notification_recipients (
    user_id   uuid    PRIMARY KEY,
    email     text    NOT NULL,
    client_id uuid,
    active    boolean NOT NULL
);
CREATE INDEX ON notification_recipients (client_id) WHERE client_id IS NOT NULL;

CREATE TABLE notification_subjects (
    id         uuid PRIMARY KEY,   -- a request or a project
    project_id uuid NOT NULL,
    client_id  uuid NOT NULL,
    owner_id   uuid,               -- who raised the request
    title      text NOT NULL
);

CREATE TABLE notifications (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    kind       text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    project_id uuid,
    subject_id uuid,
    event_id   uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    read_at    timestamptz,
    UNIQUE (event_id, user_id, kind)
);
CREATE INDEX ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX ON notifications (user_id) WHERE read_at IS NULL;

-- Email outbox entries produced by events carry a dedupe key, so that a worker that
-- re-processes a batch after a crash never queues the same message twice.
ALTER TABLE email_outbox ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX ON email_outbox (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- Events can name their own id in their metadata (the store sets `event_id` so that a
-- consequence's `causation_id` can point at the event that caused it in the same append).
CREATE FUNCTION events_take_event_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.metadata ? 'event_id' THEN
        NEW.event_id := (NEW.metadata->>'event_id')::uuid;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_take_event_id BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_take_event_id();
