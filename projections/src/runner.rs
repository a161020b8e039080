//! The projection runner: catch-up workers over the global log.
//!
//! One [`step`] is one transaction: lock the projection's checkpoint row
//! (`FOR UPDATE SKIP LOCKED`, so one replica works a projection at a time), read the next
//! batch of events strictly below the `pg_snapshot_xmin` horizon in
//! `(transaction_id, global_position)` order, fold them, move the checkpoint, commit. A crash
//! anywhere rolls the whole batch back, read model and checkpoint together, so the effect on
//! the read model is exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

use crate::event::{Position, StoredEvent, EVENT_COLUMNS};
use crate::notices::{Notice, Notices};

/// Why a fold failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database refused a read-model write.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored payload did not decode.
    #[error("event {event_type} at position {position} did not decode: {source}")]
    Decode {
        event_type: String,
        /// Global position.
        position: i64,
        /// Cause.
        source: serde_json::Error,
    },
}

/// A read model (or side-effect consumer) fed by the runner.
///
/// `apply` must be deterministic (no clock, no randomness, no outbound calls) and idempotent:
/// applying an event a second time leaves the read model unchanged.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Persisted name (the checkpoint row's key).
    fn name(&self) -> &'static str;
    /// The tables this projection owns, rebuilt together.
    fn tables(&self) -> &'static [&'static str];
    /// Those of [`Self::tables`] whose non-unique indexes serve only queries: the fold
    /// reaches their rows by primary key (or unique key) alone. A rebuild builds these
    /// indexes once after the fold instead of updating them row by row.
    fn indexed_after_fold(&self) -> &'static [&'static str] {
        &[]
    }
    /// The aggregate types whose events it folds; other events only move the checkpoint.
    fn aggregate_types(&self) -> &'static [&'static str];
    /// Folds a batch of this projection's events, in log order, inside the transaction that
    /// moves its checkpoint. The result must not depend on where batches are cut (the
    /// rebuild-equality test folds live a command at a time and rebuilds in large batches).
    /// `live` is false during rebuilds, when no change notices are sent.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        live: bool,
    ) -> Result<(), ProjectionError>;
}

/// A projection whose events are few enough to fold one at a time, a statement each. It is a
/// [`Projection`] through the implementation below: its name, tables and aggregate types
/// are constants, and its batch is its events folded one after another.
#[async_trait]
pub trait FoldEach: Send + Sync + 'static {
    /// Persisted name (the checkpoint row's key).
    const NAME: &'static str;
    /// The tables it owns, rebuilt together.
    const TABLES: &'static [&'static str];
    /// The aggregate types whose events it folds.
    const AGGREGATE_TYPES: &'static [&'static str];
    /// Folds one event.
    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError>;
}

#[async_trait]
impl<T: FoldEach> Projection for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        T::TABLES
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        T::AGGREGATE_TYPES
    }

    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        _live: bool,
    ) -> Result<(), ProjectionError> {
        for event in events {
            self.fold(conn, event).await?;
        }
        Ok(())
    }
}

/// Decodes an event's payload or reports which one failed.
pub fn decode<E: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<E, ProjectionError> {
    event.decode().map_err(|source| ProjectionError::Decode {
        event_type: event.event_type.clone(),
        position: event.global_position,
        source,
    })
}

/// Which events a batch read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every event, so the checkpoint passes over the others; payloads of aggregate types
    /// the projection ignores are not transferred. What live workers read.
    All,
    /// Only the projection's own aggregate types. What rebuilds read: a projection that
    /// folds a small part of the log does not walk the rest in batches.
    Own,
}

/// A batch's events decoded as `E`, with their aggregate ids, in log order.
#[derive(Debug)]
pub struct Decoded<'a, E> {
    /// `(aggregate id, stored event, payload)`; events whose id is not a UUID are left out.
    pub events: Vec<(Uuid, &'a StoredEvent, E)>,
    /// The distinct aggregate ids, sorted (for one `= ANY($1)` load).
    pub ids: Vec<Uuid>,
}

/// Decodes a batch for a set-based fold, or reports the first event that did not decode.
pub fn decode_batch<'a, E: serde::de::DeserializeOwned>(
    events: &[&'a StoredEvent],
) -> Result<Decoded<'a, E>, ProjectionError> {
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        if let Some(id) = event.aggregate_uuid() {
            decoded.push((id, *event, decode::<E>(event)?));
        }
    }
    let mut ids: Vec<Uuid> = decoded.iter().map(|(id, _, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(Decoded {
        events: decoded,
        ids,
    })
}

/// Reads the batch after `after`, below the horizon and at most `upto`.
pub async fn fetch_batch(
    conn: &mut PgConnection,
    types: &[&str],
    after: Position,
    upto: Position,
    horizon: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    fetch(conn, Scope::All, types, (after, upto), horizon, limit).await
}

/// Reads the batch of `scope` after `range.0`, below the horizon and at most `range.1`.
pub async fn fetch(
    conn: &mut PgConnection,
    scope: Scope,
    types: &[&str],
    (after, upto): (Position, Position),
    horizon: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    const RANGE: &str = "(transaction_id, global_position) > ($1::text::xid8, $2) \
         AND (transaction_id, global_position) <= ($3::text::xid8, $4) \
         AND transaction_id < $5::text::xid8";
    const ORDER: &str = "ORDER BY transaction_id, global_position LIMIT $6";
    let sql = match scope {
        Scope::All => format!(
            "SELECT {} FROM events WHERE {RANGE} {ORDER}",
            EVENT_COLUMNS.replace(
                "payload::text AS payload,",
                "CASE WHEN aggregate_type = ANY($7) THEN payload::text ELSE 'null' END AS payload,",
            )
        ),
        // Each type as a plain equality: the order index has the type as its third column
        // and skips the other types' events itself (migration 0010); `= ANY` it cannot, and
        // would fetch every other event from the heap to discard it (the notifications
        // rebuild read every lead event between two project events). Several types are one
        // ordered scan each, merged, and planned with the types' values each time (below):
        // a generic plan cannot tell a rare type from a common one, and scanned the order
        // index to its end for the rare type on every batch, where the planner that sees
        // `'User'` reads its few events by the primary key.
        Scope::Own if types.len() <= 1 => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {RANGE} AND aggregate_type = ($7::text[])[1] {ORDER}"
        ),
        Scope::Own => {
            let arms: Vec<String> = (1..=types.len())
                .map(|i| {
                    format!(
                        "(SELECT * FROM events WHERE {RANGE} AND aggregate_type = ($7::text[])[{i}] {ORDER})"
                    )
                })
                .collect();
            format!(
                "SELECT {EVENT_COLUMNS} FROM ({}) events {ORDER}",
                arms.join(" UNION ALL ")
            )
        }
    };
    let custom_plan = matches!(scope, Scope::Own) && types.len() > 1;
    let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
    sqlx::query_as::<_, StoredEvent>(&sql)
        .persistent(!custom_plan)
        .bind(after.tx.to_string())
        .bind(after.position)
        .bind(upto.tx.to_string())
        .bind(upto.position)
        .bind(horizon.to_string())
        .bind(limit)
        .bind(types)
        .fetch_all(conn)
        .await
}

/// The oldest transaction id still in flight: everything below it has finished.
pub async fn horizon(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        .fetch_one(conn)
        .await
}

/// Folds the events of `projection`'s aggregate types; other events are passed over.
pub async fn apply_all(
    projection: &dyn Projection,
    conn: &mut PgConnection,
    events: &[StoredEvent],
    live: bool,
) -> Result<(), ProjectionError> {
    let types = projection.aggregate_types();
    let own: Vec<&StoredEvent> = events
        .iter()
        .filter(|event| types.contains(&event.aggregate_type.as_str()))
        .collect();
    if own.is_empty() {
        return Ok(());
    }
    projection.apply_batch(conn, &own, live).await
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Another worker holds the checkpoint.
    Locked,
    /// Folded this many events (0: caught up).
    Applied(usize),
}

/// Ensures a checkpoint row exists for every projection.
pub async fn register(
    pool: &PgPool,
    projections: &[Arc<dyn Projection>],
) -> Result<(), sqlx::Error> {
    for projection in projections {
        sqlx::query("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(projection.name())
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Runs one batch of `projection` in one transaction.
pub async fn step(
    pool: &PgPool,
    projection: &dyn Projection,
    batch: i64,
) -> Result<Step, ProjectionError> {
    let mut tx = pool.begin().await?;
    // Taken before this transaction holds an xid, so it does not hold its own horizon back.
    let horizon = horizon(&mut tx).await?;
    let checkpoint: Option<(i64, i64)> = sqlx::query_as(
        "SELECT last_tx::text::bigint, last_position FROM projection_checkpoints \
          WHERE name = $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(projection.name())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((last_tx, last_position)) = checkpoint else {
        return Ok(Step::Locked);
    };
    let after = Position {
        tx: last_tx,
        position: last_position,
    };
    let events = fetch_batch(
        &mut tx,
        projection.aggregate_types(),
        after,
        Position::END,
        horizon,
        batch,
    )
    .await?;
    let Some(last) = events.last() else {
        return Ok(Step::Applied(0));
    };
    apply_all(projection, &mut tx, &events, true).await?;
    sqlx::query(
        "UPDATE projection_checkpoints SET last_tx = $2::text::xid8, last_position = $3, \
                events_seen = events_seen + $4, last_event_at = $5, last_error = NULL, \
                failing_since = NULL, updated_at = clock_timestamp() \
          WHERE name = $1",
    )
    .bind(projection.name())
    .bind(last.tx.to_string())
    .bind(last.global_position)
    .bind(i64::try_from(events.len()).unwrap_or(i64::MAX))
    .bind(last.recorded_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify('zippcrm_checkpoint', $1)")
        .bind(crate::notices::checkpoint_payload(
            projection.name(),
            last.position(),
        ))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let types = projection.aggregate_types();
    crate::lag::record(
        projection.name(),
        chrono::Utc::now(),
        events
            .iter()
            .filter(|e| types.contains(&e.aggregate_type.as_str()))
            .map(|e| e.recorded_at),
    );
    Ok(Step::Applied(events.len()))
}

/// Records a failure on the checkpoint row (outside the rolled-back batch).
async fn record_failure(pool: &PgPool, name: &str, error: &ProjectionError) {
    let result = sqlx::query(
        "UPDATE projection_checkpoints SET last_error = $2, \
                failing_since = COALESCE(failing_since, clock_timestamp()) WHERE name = $1",
    )
    .bind(name)
    .bind(error.to_string())
    .execute(pool)
    .await;
    if let Err(db_error) = result {
        tracing::warn!(%db_error, projection = name, "could not record projection failure");
    }
}

/// Settings of the workers.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// Events per transaction.
    pub batch: i64,
    /// Polling fallback when no notification arrives.
    pub poll: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch: 500,
            poll: Duration::from_millis(500),
        }
    }
}

/// Runs one worker per projection until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    projections: Vec<Arc<dyn Projection>>,
    notices: Notices,
    config: RunnerConfig,
    shutdown: watch::Receiver<bool>,
) {
    run_each(projections, |projection| {
        worker(
            pool.clone(),
            projection,
            notices.clone(),
            config,
            shutdown.clone(),
        )
    })
    .await;
}

/// Runs `work` for each of `items` as a task of its own, until every one has ended.
pub async fn run_each<T, W>(items: Vec<T>, work: impl Fn(T) -> W)
where
    W: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = items
        .into_iter()
        .map(|item| tokio::spawn(work(item)))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

async fn worker(
    pool: PgPool,
    projection: Arc<dyn Projection>,
    notices: Notices,
    config: RunnerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wake = notices.subscribe();
    let mut failures: u32 = 0;
    while !*shutdown.borrow() {
        let idle = match step(&pool, projection.as_ref(), config.batch).await {
            Ok(Step::Applied(n)) => {
                failures = 0;
                // A full batch means more is waiting; anything less means caught up.
                n < usize::try_from(config.batch).unwrap_or(usize::MAX)
            }
            Ok(Step::Locked) => true,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(projection = projection.name(), %error, "projection batch failed; will retry");
                record_failure(&pool, projection.name(), &error).await;
                let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(7)));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
        };
        if idle {
            tokio::select! {
                _ = appended(&mut wake, projection.aggregate_types()) => {}
                _ = tokio::time::sleep(config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Resolves when events of `types` were appended (or notices were missed, which may hide an
/// append).
async fn appended(wake: &mut tokio::sync::broadcast::Receiver<Notice>, types: &[&str]) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match wake.recv().await {
            Ok(Notice::EventsAppended { types: appended })
                if appended.is_empty() || appended.iter().any(|t| types.contains(&t.as_str())) =>
            {
                return
            }
            Err(RecvError::Lagged(_)) => return,
            Ok(_) => {}
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}
