-- Lead lists sort by score as COALESCE(score, -1) (unscored last when descending); the plain
-- (score, id) index could not serve that order. Measured by zippcrm-bench (read scenario).
DROP INDEX IF EXISTS lead_view_score_id_idx;
CREATE INDEX lead_view_score_sort_idx ON lead_view ((COALESCE(score, -1)), id);
CREATE INDEX lead_view_owner_score_sort_idx ON lead_view (owner_id, (COALESCE(score, -1)), id);
