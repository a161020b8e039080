//! Blue/green rebuilds and verification of read models.
//!
//! A rebuild folds the whole log into copies of a projection's tables in a private schema
//! (`rebuild_<name>`), with `search_path` pointing there so the very same fold code writes
//! the copies, while the live tables keep serving. When the copy has caught up, one
//! transaction locks the live checkpoint (pausing the live worker), folds the last few
//! events, drops the live tables, moves the copies into `public` and sets the checkpoint:
//! readers see the old model or the new one, never a mix.
//!
//! Rebuild writes run on their own connection, detached from the pool and closed
//! afterwards: sqlx caches prepared statements per connection and PostgreSQL re-plans a
//! cached statement with the `search_path` it was prepared under, so a pooled connection
//! that had folded into the shadow schema would later send live writes there. The log is
//! read one batch ahead on a pooled connection, which only reads `events` and never
//! changes its `search_path`.
//!
//! `verify` builds the same copies up to exactly the live checkpoint and diffs them row by
//! row against the live tables, then throws them away.

use sqlx::{PgConnection, PgPool};

use crate::event::{Position, StoredEvent};
use crate::runner::{apply_all, fetch, horizon, Projection, ProjectionError, Scope};

/// Events per rebuild transaction.
const BATCH: i64 = 5_000;

/// Progress callback: events folded so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub table: String,
    /// Rows in the live table missing from the rebuilt one.
    pub only_live: i64,
    /// Rows in the rebuilt table missing from the live one.
    pub only_rebuilt: i64,
}

/// Events in the log.
pub async fn event_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
}

/// Events a rebuild of `projection` folds (for progress bars).
pub async fn events_of(pool: &PgPool, projection: &dyn Projection) -> Result<i64, sqlx::Error> {
    let types: Vec<&str> = projection.aggregate_types().to_vec();
    sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = ANY($1)")
        .bind(types)
        .fetch_one(pool)
        .await
}

/// `projections` with the count of events each rebuild folds, largest first: the order to
/// start [`rebuild_all`] in, so that concurrent rebuilds finish close together. One pass
/// over the log counts every type (a count per projection was a pass each: 0.6 s of the
/// 1M-event bench, before any rebuild could start).
pub async fn largest_first(
    pool: &PgPool,
    projections: Vec<std::sync::Arc<dyn Projection>>,
) -> Result<Vec<(i64, std::sync::Arc<dyn Projection>)>, sqlx::Error> {
    let counts: std::collections::HashMap<String, i64> =
        sqlx::query_as("SELECT aggregate_type, count(*) FROM events GROUP BY aggregate_type")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut sized: Vec<_> = projections
        .into_iter()
        .map(|projection| {
            let total = projection
                .aggregate_types()
                .iter()
                .filter_map(|t| counts.get(*t))
                .sum();
            (total, projection)
        })
        .collect();
    sized.sort_by_key(|(total, _)| std::cmp::Reverse(*total));
    Ok(sized)
}

/// Creates the shadow copies of `projection`'s tables: columns, defaults, checks,
/// constraints and indexes, except the non-unique indexes of
/// [`Projection::indexed_after_fold`], which [`finish_schema`] builds after the fold: one
/// sorted build per index instead of an index update per row written. Every index and
/// constraint keeps its live name, so after the swap the tables look exactly as the
/// migrations left them.
async fn prepare_schema(
    conn: &mut PgConnection,
    schema: &str,
    projection: &dyn Projection,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *conn)
        .await?;
    let mut deferred = Vec::new();
    for table in projection.tables() {
        sqlx::query(&format!(
            "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)"
        ))
        .execute(&mut *conn)
        .await?;
        // Constraints backed by an index (primary key, unique), then the other indexes.
        let constraints: Vec<(String, String)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
              WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname",
        )
        .bind(format!("public.{table}"))
        .fetch_all(&mut *conn)
        .await?;
        for (name, definition) in constraints {
            sqlx::query(&format!(
                "ALTER TABLE {schema}.{table} ADD CONSTRAINT {name} {definition}"
            ))
            .execute(&mut *conn)
            .await?;
        }
        let indexes: Vec<(bool, String)> = sqlx::query_as(
            "SELECT i.indisunique, pg_get_indexdef(i.indexrelid) FROM pg_index i \
              WHERE i.indrelid = $1::regclass \
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) \
              ORDER BY i.indexrelid::regclass::text",
        )
        .bind(format!("public.{table}"))
        .fetch_all(&mut *conn)
        .await?;
        let live = format!(" ON public.{table} USING ");
        let shadow = format!(" ON {schema}.{table} USING ");
        for (unique, definition) in indexes {
            let definition = definition.replacen(&live, &shadow, 1);
            if !unique && projection.indexed_after_fold().contains(table) {
                deferred.push(definition);
            } else {
                sqlx::query(&definition).execute(&mut *conn).await?;
            }
        }
    }
    Ok(deferred)
}

/// Builds the indexes [`prepare_schema`] deferred and gathers planner statistics, so the
/// swapped-in tables serve queries with their usual plans at once (a table without
/// statistics waits for autovacuum, and until then gets plans such as a bitmap AND of two
/// indexes sorting every match where one ordered index scan reads fifty rows).
async fn finish_schema(
    conn: &mut PgConnection,
    schema: &str,
    projection: &dyn Projection,
    deferred: &[String],
) -> Result<(), sqlx::Error> {
    for definition in deferred {
        sqlx::query(definition).execute(&mut *conn).await?;
    }
    for table in projection.tables() {
        sqlx::query(&format!("ANALYZE {schema}.{table}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Folds events after `from` up to `upto` (and below the horizon) into the tables found on
/// `search_path` first (the shadow schema). Returns the new position and the count folded.
///
/// The log is read on a second connection from `pool`, one batch ahead: while `conn` folds
/// and writes a batch, the next is already being read, so PostgreSQL's reading and writing
/// and this process's decoding and folding overlap instead of taking turns.
async fn fold_into(
    pool: &PgPool,
    conn: &mut PgConnection,
    schema: &str,
    projection: &dyn Projection,
    (from, upto): (Position, Position),
    progress: Progress<'_>,
    folded: &mut u64,
) -> Result<Position, ProjectionError> {
    let (batches, mut next) = tokio::sync::mpsc::channel::<Vec<StoredEvent>>(1);
    let types = projection.aggregate_types();
    let read = async move {
        let mut reader = pool.acquire().await?;
        let mut at = from;
        loop {
            let horizon = horizon(&mut reader).await?;
            let events = fetch(&mut reader, Scope::Own, types, (at, upto), horizon, BATCH).await?;
            let Some(last) = events.last() else {
                return Ok::<_, ProjectionError>(());
            };
            at = last.position();
            if batches.send(events).await.is_err() {
                return Ok(());
            }
        }
    };
    let fold = async {
        let mut at = from;
        while let Some(events) = next.recv().await {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::query(&format!("SET LOCAL search_path = {schema}, public"))
                .execute(&mut *tx)
                .await?;
            apply_all(projection, &mut tx, &events, false).await?;
            tx.commit().await?;
            at = events.last().map_or(at, StoredEvent::position);
            *folded += events.len() as u64;
            progress(*folded);
        }
        Ok::<_, ProjectionError>(at)
    };
    let ((), at) = tokio::try_join!(read, fold)?;
    Ok(at)
}

async fn live_checkpoint(
    conn: &mut PgConnection,
    name: &str,
    lock: bool,
) -> Result<(Position, i64), sqlx::Error> {
    let sql = format!(
        "SELECT last_tx::text::bigint, last_position, events_seen FROM projection_checkpoints WHERE name = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: Option<(i64, i64, i64)> = sqlx::query_as(&sql).bind(name).fetch_optional(conn).await?;
    let (tx, position, seen) = row.unwrap_or((0, 0, 0));
    Ok((Position { tx, position }, seen))
}

/// The last event below `horizon` (or `at`, if later) and the count of events up to it.
async fn log_end(
    conn: &mut PgConnection,
    horizon: i64,
    at: Position,
) -> Result<(Position, i64), sqlx::Error> {
    let end: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint AS tx, global_position FROM events \
          WHERE transaction_id < $1::text::xid8 \
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .bind(horizon.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let end = end.map_or(at, |(tx, position)| at.max(Position { tx, position }));
    let seen: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE (transaction_id, global_position) <= ($1::text::xid8, $2)",
    )
    .bind(end.tx.to_string())
    .bind(end.position)
    .fetch_one(conn)
    .await?;
    Ok((end, seen))
}

/// Rebuilds `projection` from position zero and swaps it in atomically. Returns the count
/// of the projection's own events folded.
pub async fn rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    progress: Progress<'_>,
) -> Result<u64, ProjectionError> {
    let schema = format!("rebuild_{}", projection.name());
    let mut conn = pool.acquire().await?.detach();
    let deferred = prepare_schema(&mut conn, &schema, projection).await?;
    let mut folded = 0;
    let caught_up = fold_into(
        pool,
        &mut conn,
        &schema,
        projection,
        (Position::START, Position::END),
        progress,
        &mut folded,
    )
    .await?;
    // Before the swap transaction, so the live worker is not paused while indexes build.
    finish_schema(&mut conn, &schema, projection, &deferred).await?;

    let mut tx = sqlx::Connection::begin(&mut conn).await?;
    let horizon = horizon(&mut tx).await?;
    // Pauses the live worker until the swap commits.
    live_checkpoint(&mut tx, projection.name(), true).await?;
    sqlx::query(&format!("SET LOCAL search_path = {schema}, public"))
        .execute(&mut *tx)
        .await?;
    let mut at = caught_up;
    loop {
        let events = fetch(
            &mut tx,
            Scope::Own,
            projection.aggregate_types(),
            (at, Position::END),
            horizon,
            BATCH,
        )
        .await?;
        let Some(last) = events.last() else { break };
        at = last.position();
        apply_all(projection, &mut tx, &events, false).await?;
        folded += events.len() as u64;
    }
    // Only the projection's own events were read; the checkpoint moves past the others too,
    // to the last event below the horizon, so the live worker does not walk them again.
    let (at, seen) = log_end(&mut tx, horizon, at).await?;
    sqlx::query("SET LOCAL search_path = public")
        .execute(&mut *tx)
        .await?;
    for table in projection.tables() {
        sqlx::query(&format!("DROP TABLE public.{table}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("ALTER TABLE {schema}.{table} SET SCHEMA public"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(&format!("DROP SCHEMA {schema}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE projection_checkpoints SET last_tx = $2::text::xid8, last_position = $3, events_seen = $4, \
                last_error = NULL, failing_since = NULL, updated_at = clock_timestamp(), \
                last_event_at = (SELECT recorded_at FROM events WHERE global_position = $3) \
          WHERE name = $1",
    )
    .bind(projection.name())
    .bind(at.tx.to_string())
    .bind(at.position)
    .bind(seen)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify('zippcrm_checkpoint', $1)")
        .bind(crate::notices::checkpoint_payload(projection.name(), at))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let _ = sqlx::Connection::close(conn).await;
    progress(folded);
    Ok(folded)
}

/// How many projections [`rebuild_all`] folds at a time unless told otherwise. A fold
/// alternates between this process and the database and waits on each round trip, so on
/// two cores a third job fills the gaps (four were slower again; ADR 0006).
pub const DEFAULT_JOBS: usize = 3;

/// Rebuilds `projections`, `jobs` at a time, starting them in the order given
/// ([`largest_first`] gives a good one). Each has its own connections (a writer and a
/// reader), shadow schema and swap, so they share nothing but the log they read. `progress` gets each projection's
/// count folded so far. Returns each projection's name, events folded and seconds, in the
/// order they finished. Stops at the first failure; a rebuild cut off with it swapped
/// completely or not at all (an open swap transaction rolls back with its connection),
/// and the next rebuild drops any shadow schema left behind.
pub async fn rebuild_all(
    pool: &PgPool,
    projections: &[std::sync::Arc<dyn Projection>],
    jobs: usize,
    progress: &(dyn Fn(&'static str, u64) + Sync),
) -> Result<Vec<(&'static str, u64, f64)>, ProjectionError> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(projections.iter().map(|projection| async move {
        let started = std::time::Instant::now();
        let name = projection.name();
        let folded = rebuild(pool, projection.as_ref(), &|n| progress(name, n)).await?;
        Ok((name, folded, started.elapsed().as_secs_f64()))
    }))
    .buffer_unordered(jobs.max(1))
    .try_collect()
    .await
}

/// Rebuilds `projection` into shadow tables up to the live checkpoint and diffs them.
pub async fn verify(
    pool: &PgPool,
    projection: &dyn Projection,
    progress: Progress<'_>,
) -> Result<Vec<Difference>, ProjectionError> {
    let schema = format!("verify_{}", projection.name());
    let mut conn = pool.acquire().await?.detach();
    // The deferred indexes serve only queries; the diff needs none of them.
    prepare_schema(&mut conn, &schema, projection).await?;
    let (target, _) = live_checkpoint(&mut conn, projection.name(), false).await?;
    let mut folded = 0;
    let reached = fold_into(
        pool,
        &mut conn,
        &schema,
        projection,
        (Position::START, target),
        progress,
        &mut folded,
    )
    .await?;

    let mut tx = sqlx::Connection::begin(&mut conn).await?;
    // Holding the checkpoint lock keeps the live tables still while we compare.
    let (target, _) = live_checkpoint(&mut tx, projection.name(), true).await?;
    sqlx::query(&format!("SET LOCAL search_path = {schema}, public"))
        .execute(&mut *tx)
        .await?;
    let mut at = reached;
    loop {
        let events = fetch(
            &mut tx,
            Scope::Own,
            projection.aggregate_types(),
            (at, target),
            i64::MAX,
            BATCH,
        )
        .await?;
        let Some(last) = events.last() else { break };
        at = last.position();
        apply_all(projection, &mut tx, &events, false).await?;
    }
    let mut differences = Vec::new();
    for table in projection.tables() {
        let (only_live, only_rebuilt): (i64, i64) = sqlx::query_as(&format!(
            "SELECT (SELECT count(*) FROM (SELECT * FROM public.{table} EXCEPT ALL SELECT * FROM {schema}.{table}) a), \
                    (SELECT count(*) FROM (SELECT * FROM {schema}.{table} EXCEPT ALL SELECT * FROM public.{table}) b)"
        ))
        .fetch_one(&mut *tx)
        .await?;
        if only_live != 0 || only_rebuilt != 0 {
            differences.push(Difference {
                table: (*table).to_owned(),
                only_live,
                only_rebuilt,
            });
        }
    }
    tx.rollback().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut conn)
        .await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(differences)
}
