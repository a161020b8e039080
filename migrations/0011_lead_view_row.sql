-- A row of lead_view as one value: the leads fold writes a batch as one array of these
-- (`unnest($1::lead_view_row[])`) instead of nineteen arrays, one per column, which
-- PostgreSQL unnests into nineteen buffers and zips back together (PERFORMANCE.md,
-- item 39). The attributes are lead_view's columns in the fold's order
-- (`projections::leads::fold::ViewRow`); a column added to lead_view is added here too.
-- A type of its own, not lead_view's row type: a rebuild replaces the lead_view table, and
-- with it that type's oid, which every pooled connection has cached.
CREATE TYPE lead_view_row AS (
    id               uuid,
    company          text,
    contact_name     text,
    email            text,
    phone            text,
    source           text,
    service_interest text,
    owner_id         uuid,
    score            integer,
    stage            text,
    lost_reason      text,
    client_id        uuid,
    project_id       uuid,
    next_follow_up   date,
    note_count       integer,
    activity_count   integer,
    captured_at      timestamptz,
    updated_at       timestamptz,
    last_sequence    bigint
);
