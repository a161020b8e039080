//! Audit: a record's history and its state as of an instant, read from the log itself.

use chrono::{DateTime, Utc};
use domain::Aggregate;
use sqlx::PgPool;

use crate::event::{StoredEvent, EVENT_COLUMNS};

/// The aggregate types that have a history, with their persisted names.
pub const AGGREGATE_TYPES: [&str; 5] = ["Lead", "Client", "Project", "User", "WorkflowTemplate"];

/// Why an audit read failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Database failure.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored event did not decode.
    #[error("event {position} did not decode: {source}")]
    Decode {
        /// Global position.
        position: i64,
        /// Cause.
        source: serde_json::Error,
    },
}

/// Events of one record in stream order, optionally only those recorded at or before `upto`.
pub async fn history(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    upto: Option<DateTime<Utc>>,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events \
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND ($3::timestamptz IS NULL OR recorded_at <= $3) \
          ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(upto)
    .fetch_all(pool)
    .await
}

/// The state of aggregate `A` with id `aggregate_id` as of `at`, or `None` if it did not exist yet.
pub async fn state_as_of<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<A>, AuditError> {
    let events = history(pool, A::TYPE, aggregate_id, Some(at)).await?;
    if events.is_empty() {
        return Ok(None);
    }
    let decoded = events
        .iter()
        .map(|e| {
            e.decode::<A::Event>().map_err(|source| AuditError::Decode {
                position: e.global_position,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(domain::replay::<A>(decoded)))
}
