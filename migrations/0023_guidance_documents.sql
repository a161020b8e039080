-- Source documents of guidance items (projection `guidance`); the bytes are in the file store.
CREATE TABLE guidance_documents (
    id          uuid        PRIMARY KEY,
    guidance_id uuid        NOT NULL,
    file_name   text        NOT NULL,
    size_bytes  bigint      NOT NULL,
    media_type  text        NOT NULL,
    sha256      text        NOT NULL,
    storage_key text        NOT NULL,
    attached_by uuid        NOT NULL,
    attached_at timestamptz NOT NULL
);
CREATE INDEX ON guidance_documents (guidance_id, attached_at);
