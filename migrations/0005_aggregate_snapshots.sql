-- Snapshots are written by ZippCRM's own store (commands/src/snapshots.rs), one row per
-- stream, instead of cqrs-es 0.5's snapshot store: that store re-applies a command's events
-- to an aggregate its EventSink has already applied them to, so its snapshots hold every
-- new event twice. The old table never held anything trustworthy and goes away.
DROP TABLE snapshots;

CREATE TABLE aggregate_snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    last_sequence  bigint      NOT NULL CHECK (last_sequence > 0),
    payload        jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);
