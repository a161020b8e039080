-- Every published version of each template (projection `templates`), beside the latest in
-- template_view: what templateVersions and templateDiff read.
CREATE TABLE template_versions (
    template_id  uuid        NOT NULL,
    version      integer     NOT NULL,
    stages       jsonb       NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- Versions published before this table existed, from the log (the projection folds only
-- what comes after its checkpoint).
INSERT INTO template_versions (template_id, version, stages, published_at)
SELECT aggregate_id::uuid,
       (payload->'TemplateVersionPublished'->>'version')::int,
       payload->'TemplateVersionPublished'->'stages',
       -- microseconds, truncated as the server stores instants
       regexp_replace(payload->'TemplateVersionPublished'->>'at', '(\.\d{6})\d+', '\1')::timestamptz
  FROM events
 WHERE aggregate_type = 'WorkflowTemplate' AND event_type = 'TemplateVersionPublished'
ON CONFLICT DO NOTHING;
