-- The regulatory library read model (projection `guidance`): guidance items and the
-- templates their latest assessment touches.
CREATE TABLE guidance_view (
    id            uuid        PRIMARY KEY,
    regulator     text        NOT NULL,
    circular_ref  text        NOT NULL,
    title         text        NOT NULL,
    issued_on     date        NOT NULL,
    effective_on  date,
    summary       text        NOT NULL,
    families      text[]      NOT NULL,
    status        text        NOT NULL,
    severity      text,
    narrative     text,
    status_reason text,
    assessed_by   uuid,
    assessed_at   timestamptz,
    recorded_by   uuid        NOT NULL,
    recorded_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX ON guidance_view (issued_on DESC, id);
CREATE INDEX ON guidance_view (regulator, status);

CREATE TABLE guidance_impacts (
    guidance_id uuid   NOT NULL,
    template_id uuid   NOT NULL,
    stages      text[] NOT NULL,
    items       text[] NOT NULL,
    PRIMARY KEY (guidance_id, template_id)
);
CREATE INDEX ON guidance_impacts (template_id);
