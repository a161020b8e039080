//! Per-projection status: position, lag in events and in time, last error.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The state of one projection.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectionStatus {
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
    /// The open transaction it is waiting on, when it has events to fold and one holds the
    /// horizon back.
    #[sqlx(skip)]
    pub waiting_on: Option<HorizonHolder>,
}

/// The transaction that holds the workers' horizon back: the oldest one still open that
/// has an id, in any database of the cluster (transaction ids and so the horizon are
/// cluster-wide). Events committed after it began are not read until it ends.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HorizonHolder {
    /// Its database (another application's, often).
    pub database: Option<String>,
    /// Its backend's process id (`pg_terminate_backend` takes it).
    pub pid: i32,
    /// Seconds since it began.
    pub age_seconds: f64,
    /// Its backend's state (`idle in transaction`, `active`, ...).
    pub state: Option<String>,
    /// Its client's `application_name`.
    pub application: Option<String>,
}

/// The transaction holding the horizon, if one is open. Another role's backends show their
/// database, pid, start and transaction id in `pg_stat_activity`, the state only to the
/// same role or `pg_read_all_stats`.
pub async fn horizon_holder(pool: &PgPool) -> Result<Option<HorizonHolder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.datname AS database, a.pid, \
                EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8 AS age_seconds, \
                a.state, a.application_name AS application \
           FROM pg_stat_activity a \
          WHERE a.pid <> pg_backend_pid() \
            AND a.backend_xid::text::bigint \
                = (pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296) \
          ORDER BY a.xact_start LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

impl ProjectionStatus {
    /// A projection is stalled when it is failing, or has lagged for more than a minute.
    pub fn stalled(&self) -> bool {
        self.failing_since.is_some() || (self.lag_events > 0 && self.lag_seconds > 60.0)
    }
}

/// Status of every registered projection, each behind naming what it waits on.
pub async fn all(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let mut statuses: Vec<ProjectionStatus> = sqlx::query_as(
        "SELECT c.name, c.last_position AS position, c.events_seen, \
                (SELECT count(*) FROM events e \
                  WHERE (e.transaction_id, e.global_position) > (c.last_tx, c.last_position)) AS lag_events, \
                COALESCE(EXTRACT(EPOCH FROM ( \
                    (SELECT max(recorded_at) FROM events) - COALESCE(c.last_event_at, \
                    (SELECT min(recorded_at) FROM events))))::float8, 0) AS lag_seconds, \
                c.last_error, c.failing_since, c.updated_at \
           FROM projection_checkpoints c WHERE c.kind = 'projection' ORDER BY c.name",
    )
    .fetch_all(pool)
    .await?;
    if statuses.iter().any(|s| s.lag_events > 0) {
        let holder = horizon_holder(pool).await?;
        for status in statuses.iter_mut().filter(|s| s.lag_events > 0) {
            status.waiting_on.clone_from(&holder);
        }
    }
    Ok(statuses)
}
