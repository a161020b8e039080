-- WhatsApp: the kinds each recipient opted into and their number (projection
-- `notifications`), and the messages the senders hand to the BSP (write side, drained like
-- the email outbox). status: queued, sending, sent, failed, cancelled.
ALTER TABLE notification_recipients
    ADD COLUMN whatsapp        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN whatsapp_number text;

CREATE TABLE whatsapp_outbox (
    id                  uuid        PRIMARY KEY,
    kind                text        NOT NULL,
    user_id             uuid        NOT NULL,
    to_number           text        NOT NULL,
    body                text        NOT NULL,
    -- event id:user:kind, as the notification's email.
    dedupe_key          text        NOT NULL UNIQUE,
    status              text        NOT NULL DEFAULT 'queued',
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    claimed_at          timestamptz,
    last_error          text,
    -- The BSP's id of the message, once it took it.
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    decided_by          uuid
);
CREATE INDEX whatsapp_outbox_due ON whatsapp_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX ON whatsapp_outbox (status, created_at DESC, id);

-- Couriers wake when a message is queued: one trigger function for every queue, the
-- channel its argument (it replaces the email and webhook queues' own).
CREATE FUNCTION courier_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END $$;
DROP TRIGGER email_outbox_queued ON email_outbox;
DROP FUNCTION email_outbox_queued();
CREATE TRIGGER email_outbox_queued AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION courier_queued('zippcrm_outbox');
DROP TRIGGER webhook_delivery_queued ON webhook_deliveries;
DROP FUNCTION webhook_delivery_queued();
CREATE TRIGGER webhook_delivery_queued AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION courier_queued('zippcrm_webhooks');
CREATE TRIGGER whatsapp_outbox_queued AFTER INSERT ON whatsapp_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION courier_queued('zippcrm_whatsapp');
