-- Changes proposed while a project is closed pending updates (projection "projects").
CREATE TABLE project_change_proposals (
    project_id  uuid        NOT NULL,
    number      bigint      NOT NULL,
    kind        text        NOT NULL,   -- liaison_entry, licence
    summary     text        NOT NULL,
    proposed_by uuid        NOT NULL,
    proposed_at timestamptz NOT NULL,
    decision    text        NOT NULL,   -- pending, approved, refused
    decided_by  uuid,
    decided_at  timestamptz,
    reason      text,
    PRIMARY KEY (project_id, number)
);
