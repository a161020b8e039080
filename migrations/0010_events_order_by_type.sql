-- The log's order index carries the aggregate type as a third key column, so a rebuild that
-- reads one aggregate type (`aggregate_type = $1`) skips the other types' events inside the
-- index instead of fetching each from the heap and filtering it there. Every reader of the
-- order (live workers, horizons, log heads) uses the first two columns as before. Measured
-- by zippcrm-bench (rebuild scenario): see docs/PERFORMANCE.md.
CREATE INDEX events_transaction_position_type_idx ON events (transaction_id, global_position, aggregate_type);
DROP INDEX events_transaction_position_idx;
