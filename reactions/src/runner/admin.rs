//! What admins see of the reactors and decide about them: each reactor's position and
//! failures, its parked events, and a parked event retried or skipped.

use projections::event::{StoredEvent, EVENT_COLUMNS};
use sqlx::PgPool;
use uuid::Uuid;

use super::{ReactionError, Reactor};

/// A parked event, for the admin status.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Parked {
    pub reactor: String,
    pub event_id: Uuid,
    pub global_position: i64,
    pub aggregate_type: String,
    pub event_type: String,
    pub attempts: i32,
    pub last_error: String,
    pub parked_at: chrono::DateTime<chrono::Utc>,
    /// `retried` or `skipped` once an admin decided.
    pub resolution: Option<String>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
}

const PARKED_COLUMNS: &str = "reactor, event_id, global_position, aggregate_type, event_type, \
     attempts, last_error, parked_at, resolution, resolved_by, resolved_at";

/// Parked events, unresolved first, newest first.
pub async fn parked(pool: &PgPool, reactor: Option<&str>) -> Result<Vec<Parked>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PARKED_COLUMNS} FROM reactor_parked WHERE ($1::text IS NULL OR reactor = $1) \
          ORDER BY resolution IS NOT NULL, parked_at DESC, event_id LIMIT 500"
    ))
    .bind(reactor)
    .fetch_all(pool)
    .await
}

/// One parked event, if `reactor` parked it.
pub async fn parked_event(
    pool: &PgPool,
    reactor: &str,
    event_id: Uuid,
) -> Result<Option<Parked>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PARKED_COLUMNS} FROM reactor_parked WHERE reactor = $1 AND event_id = $2"
    ))
    .bind(reactor)
    .bind(event_id)
    .fetch_optional(pool)
    .await
}

/// Reacts to a parked event again, now. On success it is marked retried by `by`; on failure
/// its attempts and error are updated and it stays parked. Either way the answer says what
/// happened; the caller records the decision.
pub async fn retry_parked(
    pool: &PgPool,
    reactor: &dyn Reactor,
    event_id: Uuid,
    by: Option<Uuid>,
) -> Result<Result<(), ReactionError>, sqlx::Error> {
    let event: StoredEvent = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = $1"
    ))
    .bind(event_id)
    .fetch_one(pool)
    .await?;
    let outcome = reactor.react(&event).await;
    match &outcome {
        Ok(()) => resolve(pool, reactor.name(), event_id, "retried", by).await?,
        Err(error) => {
            sqlx::query(
                "UPDATE reactor_parked SET attempts = attempts + 1, last_error = $3, parked_at = now() \
                  WHERE reactor = $1 AND event_id = $2",
            )
            .bind(reactor.name())
            .bind(event_id)
            .bind(error.to_string())
            .execute(pool)
            .await?;
        }
    }
    Ok(outcome)
}

/// Marks a parked event resolved (`retried` or `skipped`) by `by`.
pub async fn resolve(
    pool: &PgPool,
    reactor: &str,
    event_id: Uuid,
    resolution: &str,
    by: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reactor_parked SET resolution = $3, resolved_by = $4, resolved_at = now() \
          WHERE reactor = $1 AND event_id = $2",
    )
    .bind(reactor)
    .bind(event_id)
    .bind(resolution)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}

/// The state of one reactor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReactorStatus {
    pub name: String,
    /// Global position of the last event passed.
    pub position: i64,
    /// Events passed since it started.
    pub events_seen: i64,
    /// Events in the log after its checkpoint.
    pub lag_events: i64,
    /// Failed attempts at its next event.
    pub attempts: i32,
    /// That event's last error.
    pub last_error: Option<String>,
    /// Since when it has been failing.
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Parked events not settled yet.
    pub parked: i64,
}

/// Status of every registered reactor.
pub async fn status(pool: &PgPool) -> Result<Vec<ReactorStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.name, c.last_position AS position, c.events_seen, \
                (SELECT count(*) FROM events e \
                  WHERE (e.transaction_id, e.global_position) > (c.last_tx, c.last_position)) AS lag_events, \
                c.attempts, c.last_error, c.failing_since, \
                (SELECT count(*) FROM reactor_parked p \
                  WHERE p.reactor = c.name AND p.resolution IS NULL) AS parked \
           FROM projection_checkpoints c WHERE c.kind = 'reactor' ORDER BY c.name",
    )
    .fetch_all(pool)
    .await
}
