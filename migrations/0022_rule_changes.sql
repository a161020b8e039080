-- Rule changes (projection `rule_changes`): drafts of a template's next version through
-- review to publication, and each step of the way.
CREATE TABLE rule_changes (
    id                uuid        PRIMARY KEY,
    template_id       uuid        NOT NULL,
    base_version      integer     NOT NULL,
    guidance_id       uuid,
    title             text        NOT NULL,
    status            text        NOT NULL,
    stages            jsonb       NOT NULL,
    author_id         uuid        NOT NULL,
    drafted_at        timestamptz NOT NULL,
    published_version integer,
    effective_on      date,
    published_by      uuid,
    published_at      timestamptz,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX ON rule_changes (status, updated_at DESC, id);
CREATE INDEX ON rule_changes (template_id, updated_at DESC, id);
CREATE INDEX ON rule_changes (guidance_id);

CREATE TABLE rule_change_steps (
    rule_change_id uuid        NOT NULL,
    sequence       bigint      NOT NULL,
    step           text        NOT NULL,   -- drafted, revised, submitted, approved, returned, published
    by_user        uuid        NOT NULL,
    at             timestamptz NOT NULL,
    comment        text,
    PRIMARY KEY (rule_change_id, sequence)
);

-- Which rule change published a version, and when it takes effect (none for seeded ones).
ALTER TABLE template_versions
    ADD COLUMN rule_change_id uuid,
    ADD COLUMN effective_on   date;
