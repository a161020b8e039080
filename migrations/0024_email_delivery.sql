-- Email delivery: each outbox message's status, its attempts and when it is tried next.
-- status: queued, sending (claimed by a sender until claimed_at + the lease), sent, failed,
-- cancelled.
ALTER TABLE email_outbox
    ADD COLUMN status          text        NOT NULL DEFAULT 'queued',
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN claimed_at      timestamptz,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN decided_by      uuid;
UPDATE email_outbox SET status = 'sent' WHERE sent_at IS NOT NULL;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX ON email_outbox (status, created_at DESC, id);
CREATE INDEX ON email_outbox (lower(to_address), created_at DESC, id);

-- Senders wake when a message is queued.
CREATE FUNCTION email_outbox_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zippcrm_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER email_outbox_queued AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_queued();
