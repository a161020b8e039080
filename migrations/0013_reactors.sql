-- Reactors: consumers of the log that react to events with commands or side effects.
-- They keep their checkpoints beside the projections' (the same notices and the same
-- read-your-writes wait serve both); `kind` tells them apart, and `attempts` counts the
-- failures of a reactor's next event.
ALTER TABLE projection_checkpoints
    ADD COLUMN kind text NOT NULL DEFAULT 'projection' CHECK (kind IN ('projection', 'reactor')),
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

-- Events a reactor gave up on after its attempts, until an admin retries or skips them
-- (each decision is also an event of the reactor's stream).
CREATE TABLE reactor_parked (
    reactor          text        NOT NULL,
    event_id         uuid        NOT NULL,
    global_position  bigint      NOT NULL,
    aggregate_type   text        NOT NULL,
    event_type       text        NOT NULL,
    attempts         integer     NOT NULL,
    last_error       text        NOT NULL,
    parked_at        timestamptz NOT NULL DEFAULT now(),
    resolution       text        CHECK (resolution IN ('retried', 'skipped')),
    resolved_by      uuid,
    resolved_at      timestamptz,
    PRIMARY KEY (reactor, event_id)
);
CREATE INDEX ON reactor_parked (parked_at) WHERE resolution IS NULL;

-- A reaction's command names its cause on the first event it appends
-- (`metadata.reaction` = reactor/event id/step). Unique: a reaction lands once, whatever
-- crashed between its append and its reactor's checkpoint, or ran on two replicas.
CREATE UNIQUE INDEX events_reaction_key ON events ((metadata->>'reaction'))
    WHERE metadata ? 'reaction';

-- The notification emails reactor reads an event's notifications.
CREATE INDEX ON notifications (event_id);
