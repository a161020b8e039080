-- The append notice names the aggregate types appended ("Lead", "Project Client", ...), so a
-- projection worker wakes only for events it folds; the others move their checkpoints on
-- their slow poll. Measured by zippcrm-bench (write and freshness scenarios).
CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kinds text;
BEGIN
    SELECT string_agg(DISTINCT aggregate_type, ' ') INTO kinds FROM appended;
    PERFORM pg_notify('zippcrm_events', coalesce(kinds, ''));
    RETURN NULL;
END $$;
DROP TRIGGER events_notify_after_insert ON events;
CREATE TRIGGER events_notify_after_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();
