//! Per-projection status: position, lag in events and in time, last error.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The state of one projection.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectionStatus {
    /// Name.
    pub name: String,
    /// Global position of the last folded event.
    pub position: i64,
    /// Events folded since position zero (all event types).
    pub events_seen: i64,
    /// Events in the log after the checkpoint.
    pub lag_events: i64,
    /// Seconds between the newest event in the log and the last folded one.
    pub lag_seconds: f64,
    /// Last error, if the worker is failing.
    pub last_error: Option<String>,
    /// Since when it has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// Last checkpoint move.
    pub updated_at: DateTime<Utc>,
}

impl ProjectionStatus {
    /// A projection is stalled when it is failing, or has lagged for more than a minute.
    pub fn stalled(&self) -> bool {
        self.failing_since.is_some() || (self.lag_events > 0 && self.lag_seconds > 60.0)
    }
}

/// Status of every registered projection.
pub async fn all(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.name, c.last_position AS position, c.events_seen, \
                (SELECT count(*) FROM events e \
                  WHERE (e.transaction_id, e.global_position) > (c.last_tx, c.last_position)) AS lag_events, \
                COALESCE(EXTRACT(EPOCH FROM ( \
                    (SELECT max(recorded_at) FROM events) - COALESCE(c.last_event_at, \
                    (SELECT min(recorded_at) FROM events))))::float8, 0) AS lag_seconds, \
                c.last_error, c.failing_since, c.updated_at \
           FROM projection_checkpoints c ORDER BY c.name",
    )
    .fetch_all(pool)
    .await
}
