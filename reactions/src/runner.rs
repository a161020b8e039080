//! Reactors: whatever happens *because* an event happened (ADR 0008).
//!
//! A reactor reads the global log in the projections' order and below their horizon, from a
//! checkpoint of its own in `projection_checkpoints` (`kind = 'reactor'`, so the checkpoint
//! notices and the read-your-writes wait serve it too). It reacts to one event at a time by
//! issuing commands (which land once: see `CommandContext::reacting_to`) or by a side effect
//! keyed by the event, so that running a reaction again is harmless; the checkpoint then
//! moves past the event in its own short statement.
//!
//! Unlike a projection, a reactor cannot react inside the transaction that moves its
//! checkpoint: its commands append in transactions of their own, and a transaction held
//! open across them would hold an xid, and with it every worker's horizon, back. One
//! active worker per reactor across replicas comes from a session advisory lock, held on a
//! connection of its own, instead of a row lock.
//!
//! A failing event is retried with exponential backoff, its attempts and error shown on the
//! checkpoint row; after [`ReactorConfig::attempts`] it is parked in `reactor_parked` and
//! the reactor moves on. An admin retries or skips a parked event ([`retry_parked`]).
//! Reactors are never rebuilt: a rebuild replays projections only.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::watch;
use uuid::Uuid;

use commands::{CommandContext, CommandError};
use projections::event::{Position, StoredEvent};
use projections::notices::Notices;
use projections::runner::{fetch_batch, horizon, run_each, ProjectionError};

mod admin;
pub use admin::{parked, parked_event, resolve, retry_parked, status, Parked, ReactorStatus};

/// Why a reaction failed; shown to admins on the status and the parked event.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReactionError(pub String);

impl From<sqlx::Error> for ReactionError {
    fn from(error: sqlx::Error) -> Self {
        ReactionError(format!("database error: {error}"))
    }
}

impl From<CommandError> for ReactionError {
    fn from(error: CommandError) -> Self {
        ReactionError(error.to_string())
    }
}

impl From<ProjectionError> for ReactionError {
    fn from(error: ProjectionError) -> Self {
        ReactionError(error.to_string())
    }
}

/// Something done because an event happened.
#[async_trait]
pub trait Reactor: Send + Sync + std::fmt::Debug + 'static {
    /// Persisted name (its checkpoint row's key, and part of every reaction key).
    fn name(&self) -> &'static str;
    /// The aggregate types whose events it reacts to; other events only move the checkpoint.
    fn aggregate_types(&self) -> &'static [&'static str];
    /// Projections whose read models [`Self::react`] reads: the reactor sees an event only
    /// once all of them have folded it.
    fn after(&self) -> &'static [&'static str] {
        &[]
    }
    /// Reacts to one event. Called at least once per event (again after a crash, a failure
    /// or an admin's retry), so the effect must be keyed by the event: commands through
    /// `CommandContext::reacting_to`, side effects under a key derived from `event_id`.
    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError>;
    /// Events of one partition are reacted to in log order, events of different partitions
    /// at the same time (up to [`PARTITIONS_AT_ONCE`]). By default there is one partition:
    /// strictly in order.
    fn partition(&self, _event: &StoredEvent) -> u128 {
        0
    }
}

/// Partitions of one batch reacted to at the same time.
pub const PARTITIONS_AT_ONCE: usize = 8;

/// Settings of the reactor workers.
#[derive(Debug, Clone, Copy)]
pub struct ReactorConfig {
    /// Events read per batch.
    pub batch: i64,
    /// Polling fallback when no notification arrives (also how often a replica without the
    /// lock tries to take it).
    pub poll: Duration,
    /// Attempts at one event before it is parked.
    pub attempts: u32,
    /// Wait after the first failure; doubled after each further one, up to a minute.
    pub backoff: Duration,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            poll: Duration::from_millis(500),
            attempts: 5,
            backoff: Duration::from_secs(1),
        }
    }
}

impl ReactorConfig {
    fn backoff_after(&self, attempts: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)));
        doubled.min(Duration::from_secs(60).max(self.backoff))
    }
}

/// Ensures a checkpoint row for every reactor. A reactor new to this database starts at the
/// log's head: everything committed below the horizon is taken as already handled, so
/// adding a reactor never reacts to the past. [`start_at`] moves one elsewhere.
pub async fn register(pool: &PgPool, reactors: &[Arc<dyn Reactor>]) -> Result<(), sqlx::Error> {
    for reactor in reactors {
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, kind, last_tx, last_position) \
             SELECT $1, 'reactor', COALESCE(head.transaction_id, '0'), COALESCE(head.global_position, 0) \
               FROM (SELECT 1) one LEFT JOIN LATERAL ( \
                    SELECT transaction_id, global_position FROM events \
                     WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
                     ORDER BY transaction_id DESC, global_position DESC LIMIT 1) head ON true \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(reactor.name())
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Moves a reactor's checkpoint to just before `position` (0: the start of the log), so it
/// reacts to every event from there on. For operators; a reaction already made is not made
/// again.
pub async fn start_at(pool: &PgPool, name: &str, position: i64) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE projection_checkpoints c SET \
                last_tx = COALESCE((SELECT e.transaction_id FROM events e \
                                     WHERE e.global_position < $2 \
                                     ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1), '0'), \
                last_position = COALESCE((SELECT e.global_position FROM events e \
                                     WHERE e.global_position < $2 \
                                     ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1), 0), \
                attempts = 0, last_error = NULL, failing_since = NULL, updated_at = clock_timestamp() \
          WHERE c.name = $1 AND c.kind = 'reactor'",
    )
    .bind(name)
    .bind(position)
    .execute(pool)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Passed this many events (0: caught up).
    Passed(usize),
    /// An event failed (for the `attempts`-th time) and will be retried.
    Failed {
        /// Failures of that event so far.
        attempts: u32,
    },
}

struct Checkpoint {
    at: Position,
    attempts: u32,
}

async fn checkpoint(pool: &PgPool, name: &str) -> Result<Checkpoint, sqlx::Error> {
    let (tx, position, attempts): (i64, i64, i32) = sqlx::query_as(
        "SELECT last_tx::text::bigint, last_position, attempts FROM projection_checkpoints \
          WHERE name = $1",
    )
    .bind(name)
    .fetch_one(pool)
    .await?;
    Ok(Checkpoint {
        at: Position { tx, position },
        attempts: u32::try_from(attempts).unwrap_or(0),
    })
}

/// Each projection's name and the aggregate types it folds.
static FOLDED_TYPES: std::sync::LazyLock<Vec<(&'static str, &'static [&'static str])>> =
    std::sync::LazyLock::new(|| {
        projections::all()
            .iter()
            .map(|p| (p.name(), p.aggregate_types()))
            .collect()
    });

/// How far `reactor` may read below `horizon`: no further than the projections it reads
/// from. A projection with none of its own events left to fold below the horizon holds
/// nothing back, wherever its checkpoint is: it moves only when its own events are appended
/// (or on its poll), and a reactor waiting for it would wait for that poll.
async fn bound(
    pool: &PgPool,
    reactor: &dyn Reactor,
    horizon: i64,
) -> Result<Position, sqlx::Error> {
    let mut lowest = Position::END;
    for name in reactor.after() {
        let types: &[&str] = FOLDED_TYPES
            .iter()
            .find(|(projection, _)| projection == name)
            .map_or(&[], |(_, types)| types);
        let checkpoint: Option<(i64, i64, bool)> = sqlx::query_as(
            "SELECT c.last_tx::text::bigint, c.last_position, \
                    EXISTS (SELECT 1 FROM events e WHERE e.aggregate_type = ANY($2) \
                               AND (e.transaction_id, e.global_position) > (c.last_tx, c.last_position) \
                               AND e.transaction_id < $3::text::xid8) \
               FROM projection_checkpoints c WHERE c.name = $1",
        )
        .bind(name)
        .bind(types)
        .bind(horizon.to_string())
        .fetch_optional(pool)
        .await?;
        let at = match checkpoint {
            None => Position::START,
            Some((tx, position, true)) => Position { tx, position },
            // Everything below the horizon that it folds is folded.
            Some((_, _, false)) => Position {
                tx: horizon.saturating_sub(1),
                position: i64::MAX,
            },
        };
        lowest = lowest.min(at);
    }
    Ok(lowest)
}

async fn advance(
    pool: &PgPool,
    name: &str,
    to: &StoredEvent,
    passed: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints SET last_tx = $2::text::xid8, last_position = $3, \
                events_seen = events_seen + $4, last_event_at = $5, attempts = 0, \
                last_error = NULL, failing_since = NULL, updated_at = clock_timestamp() \
          WHERE name = $1",
    )
    .bind(name)
    .bind(to.tx.to_string())
    .bind(to.global_position)
    .bind(i64::try_from(passed).unwrap_or(i64::MAX))
    .bind(to.recorded_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Reacts to `events` (those of the reactor's types), each partition in order and the
/// partitions side by side; the earliest failure by log position, if any.
async fn react_all(
    reactor: &dyn Reactor,
    events: &[StoredEvent],
) -> Option<(usize, ReactionError)> {
    use futures::StreamExt as _;
    let types = reactor.aggregate_types();
    let mut partitions: std::collections::BTreeMap<u128, Vec<usize>> = Default::default();
    for (index, event) in events.iter().enumerate() {
        if types.contains(&event.aggregate_type.as_str()) {
            partitions
                .entry(reactor.partition(event))
                .or_default()
                .push(index);
        }
    }
    futures::stream::iter(partitions.into_values())
        .map(|indexes| async move {
            for index in indexes {
                if let Err(error) = reactor.react(&events[index]).await {
                    return Some((index, error));
                }
            }
            None
        })
        .buffer_unordered(PARTITIONS_AT_ONCE)
        .filter_map(|failed| async move { failed })
        .fold(
            None,
            |earliest: Option<(usize, ReactionError)>, failed| async move {
                match earliest {
                    Some(e) if e.0 < failed.0 => Some(e),
                    _ => Some(failed),
                }
            },
        )
        .await
}

/// Runs one batch of `reactor`: reacts to its events (see [`Reactor::partition`]) and moves
/// the checkpoint past them, or to just before the earliest one that failed. Events after a
/// failure that did succeed are reacted to again with the next batch: their effects are
/// keyed by the event, so that lands nothing twice.
pub async fn step(
    pool: &PgPool,
    reactor: &dyn Reactor,
    config: &ReactorConfig,
) -> Result<Step, sqlx::Error> {
    let name = reactor.name();
    let mut conn = pool.acquire().await?;
    let horizon = horizon(&mut conn).await?;
    let start = checkpoint(pool, name).await?;
    let upto = bound(pool, reactor, horizon).await?;
    let events = fetch_batch(
        &mut conn,
        reactor.aggregate_types(),
        start.at,
        upto,
        horizon,
        config.batch,
    )
    .await?;
    drop(conn);
    let mut attempts = start.attempts;
    let mut from = 0;
    while from < events.len() {
        let Some((index, error)) = react_all(reactor, &events[from..]).await else {
            if let Some(last) = events.last() {
                advance(pool, name, last, events.len() - from).await?;
            }
            break;
        };
        let index = from + index;
        let event = &events[index];
        attempts += 1;
        if attempts < config.attempts {
            tracing::warn!(reactor = name, event_id = %event.event_id, attempts, %error, "reaction failed; will retry");
            if index > from {
                advance(pool, name, &events[index - 1], index - from).await?;
            }
            sqlx::query(
                "UPDATE projection_checkpoints SET attempts = $2, last_error = $3, \
                        failing_since = COALESCE(failing_since, clock_timestamp()) \
                  WHERE name = $1",
            )
            .bind(name)
            .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
            .bind(error.to_string())
            .execute(pool)
            .await?;
            return Ok(Step::Failed { attempts });
        }
        tracing::error!(reactor = name, event_id = %event.event_id, attempts, %error, "reaction parked");
        park(pool, name, event, attempts, &error).await?;
        advance(pool, name, event, index + 1 - from).await?;
        attempts = 0;
        from = index + 1;
    }
    if let Some(last) = events.last() {
        sqlx::query("SELECT pg_notify('zippcrm_checkpoint', $1)")
            .bind(projections::notices::checkpoint_payload(
                name,
                last.position(),
            ))
            .execute(pool)
            .await?;
    }
    Ok(Step::Passed(events.len()))
}

async fn park(
    pool: &PgPool,
    name: &str,
    event: &StoredEvent,
    attempts: u32,
    error: &ReactionError,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reactor_parked (reactor, event_id, global_position, aggregate_type, event_type, attempts, last_error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (reactor, event_id) DO UPDATE SET attempts = EXCLUDED.attempts, \
                last_error = EXCLUDED.last_error, parked_at = now(), resolution = NULL, \
                resolved_by = NULL, resolved_at = NULL",
    )
    .bind(name)
    .bind(event.event_id)
    .bind(event.global_position)
    .bind(&event.aggregate_type)
    .bind(&event.event_type)
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .bind(error.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

/// The key of the session advisory lock that makes one worker per reactor active.
fn lock_key(name: &str) -> String {
    format!("zippcrm-reactor:{name}")
}

/// Takes `name`'s lock on a connection of its own, or says another worker holds it.
async fn lock(pool: &PgPool, name: &str) -> Result<Option<PoolConnection<Postgres>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(lock_key(name))
        .fetch_one(&mut *conn)
        .await?;
    if taken {
        Ok(Some(conn))
    } else {
        Ok(None)
    }
}

/// Runs one worker per reactor until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    reactors: Vec<Arc<dyn Reactor>>,
    notices: Notices,
    config: ReactorConfig,
    shutdown: watch::Receiver<bool>,
) {
    run_each(reactors, |reactor| {
        worker(
            pool.clone(),
            reactor,
            notices.clone(),
            config,
            shutdown.clone(),
        )
    })
    .await;
}

async fn worker(
    pool: PgPool,
    reactor: Arc<dyn Reactor>,
    notices: Notices,
    config: ReactorConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = reactor.name();
    let mut wake = notices.subscribe();
    let mut held: Option<PoolConnection<Postgres>> = None;
    while !*shutdown.borrow() {
        // The lock lives as long as its connection: a ping before each step notices a
        // connection lost with PostgreSQL (and the lock with it), and takes it again.
        if let Some(conn) = held.as_mut() {
            if sqlx::Connection::ping(&mut **conn).await.is_err() {
                if let Some(conn) = held.take() {
                    conn.detach();
                }
            }
        }
        if held.is_none() {
            match lock(&pool, name).await {
                Ok(Some(conn)) => held = Some(conn),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(reactor = name, %error, "could not take the reactor lock")
                }
            }
        }
        let pause = if held.is_none() {
            Some(config.poll)
        } else {
            match step(&pool, reactor.as_ref(), &config).await {
                Ok(Step::Passed(n)) if n as i64 >= config.batch => None,
                Ok(Step::Passed(_)) => Some(config.poll),
                Ok(Step::Failed { attempts }) => {
                    let backoff = config.backoff_after(attempts);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    None
                }
                Err(error) => {
                    tracing::error!(reactor = name, %error, "reactor step failed; will retry");
                    Some(config.poll)
                }
            }
        };
        if let Some(poll) = pause {
            tokio::select! {
                _ = woken(&mut wake, reactor.as_ref()) => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    if let Some(conn) = held {
        // Closing the connection releases the lock; back in the pool it would keep it.
        conn.detach();
    }
}

/// Resolves when there may be more for `reactor` to read: events of its types were appended
/// (or, for one that reads projections, one of them moved on), or notices were missed.
async fn woken(
    wake: &mut tokio::sync::broadcast::Receiver<projections::notices::Notice>,
    reactor: &dyn Reactor,
) {
    use projections::notices::Notice;
    use tokio::sync::broadcast::error::RecvError;
    let (types, after) = (reactor.aggregate_types(), reactor.after());
    loop {
        match wake.recv().await {
            Ok(Notice::EventsAppended { types: appended })
                if appended.is_empty() || appended.iter().any(|t| types.contains(&t.as_str())) =>
            {
                return
            }
            Ok(Notice::Checkpoint { name, .. }) if after.contains(&name.as_str()) => return,
            Err(RecvError::Lagged(_)) => return,
            Ok(_) => {}
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// The context of `reactor`'s command `step` for `event`: caused by it, in its user
/// action's correlation, landing once.
pub async fn reaction_context(
    pool: &PgPool,
    reactor: &str,
    event: &StoredEvent,
    step: &str,
) -> Result<CommandContext, ReactionError> {
    let correlation: Option<String> =
        sqlx::query_scalar("SELECT metadata->>'correlation_id' FROM events WHERE event_id = $1")
            .bind(event.event_id)
            .fetch_optional(pool)
            .await?
            .flatten();
    let correlation_id = correlation
        .and_then(|c| Uuid::parse_str(&c).ok())
        .unwrap_or(event.event_id);
    Ok(CommandContext::reacting_to(
        reactor,
        event.event_id,
        correlation_id,
        step,
    ))
}
