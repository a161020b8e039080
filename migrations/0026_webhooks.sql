-- Outbound webhooks (ADR 0013).

-- Write side: each endpoint's signing secrets. Never in the log (they sign; the log is read
-- by auditors). A rotated secret keeps signing beside the new one until retired_at.
CREATE TABLE webhook_secrets (
    id          uuid        PRIMARY KEY,
    endpoint_id uuid        NOT NULL,
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE INDEX ON webhook_secrets (endpoint_id, created_at);

-- Read model of the WebhookEndpoint aggregate (projection `webhook_endpoints`).
CREATE TABLE webhook_endpoints (
    id                  uuid        PRIMARY KEY,
    url                 text        NOT NULL,
    description         text        NOT NULL,
    -- Documented event types; empty: every type the role may receive.
    event_types         text[]      NOT NULL,
    role                text        NOT NULL,
    enabled             boolean     NOT NULL,
    disabled_reason     text,
    -- The registration's place in the log: events before it are not delivered to it.
    registered_position bigint      NOT NULL,
    created_by          uuid,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

-- Operational: one delivery per endpoint and event (its id is the webhook-id), drained by
-- the deliverers like the email outbox. status: queued, sending, sent, failed, cancelled.
CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY,
    endpoint_id     uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    event_position  bigint      NOT NULL,
    event_type      text        NOT NULL,
    payload         jsonb       NOT NULL,
    committed_at    timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'queued',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    decided_by      uuid,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('queued', 'sending');
CREATE INDEX ON webhook_deliveries (endpoint_id, status, created_at DESC, id);

-- Every attempt of a delivery: what the receiver answered and how long it took.
CREATE TABLE webhook_attempts (
    delivery_id      uuid        NOT NULL,
    attempt          integer     NOT NULL,
    at               timestamptz NOT NULL,
    status_code      integer,
    latency_ms       integer     NOT NULL,
    error            text,
    response_excerpt text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Operational: since when an endpoint has failed without a success in between.
CREATE TABLE webhook_endpoint_health (
    endpoint_id     uuid        PRIMARY KEY,
    failing_since   timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz
);

-- Deliverers wake when a delivery is queued (redeliver and replay notify themselves).
CREATE FUNCTION webhook_delivery_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zippcrm_webhooks', '');
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_delivery_queued AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_delivery_queued();
