-- An API key stands for an integration (a platform): keys of one integration share its
-- namespace of external ids. Keys made before keys named theirs share one integration,
-- `domain::integration::SHARED_INTEGRATION`, as the fold gives them on a rebuild.
ALTER TABLE api_keys
    ADD COLUMN integration_id uuid NOT NULL DEFAULT '6ba7b812-9dad-11d1-80b4-00c04fd430c8';
ALTER TABLE api_keys ALTER COLUMN integration_id DROP DEFAULT;
CREATE INDEX ON api_keys (integration_id);
