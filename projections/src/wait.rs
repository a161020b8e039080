//! Read your writes: wait until projections have passed a position.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::event::Position;
use crate::notices::Notices;

/// Which of `names` have not yet passed `target`.
async fn behind(
    pool: &PgPool,
    names: &[&str],
    target: Position,
) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sqlx::query_scalar(
        "SELECT name FROM projection_checkpoints \
          WHERE name = ANY($1) AND (last_tx, last_position) < ($2::text::xid8, $3)",
    )
    .bind(names)
    .bind(target.tx.to_string())
    .bind(target.position)
    .fetch_all(pool)
    .await
}

/// Waits until every projection in `names` has folded the event at `target`.
///
/// Returns `Ok(true)` when they have, `Ok(false)` when `timeout` passed first (the caller
/// answers that the read model is still catching up). Checkpoint notices settle the wait:
/// a projection whose notice already reported `target` or later costs nothing, and one
/// heard from at an older position is waited for on its watch without a query. Only a
/// projection never heard from, a notice without a position, or the 250 ms fallback poll
/// (for a lost notice) asks the database.
pub async fn wait_for(
    pool: &PgPool,
    notices: &Notices,
    names: &[&str],
    target: Position,
    timeout: Duration,
) -> Result<bool, sqlx::Error> {
    let passed = |heard: Option<Position>| heard.is_some_and(|at| at >= target);
    // Watch first, then look: a checkpoint that moves in between is seen either way.
    let mut pending: Vec<(&str, watch::Receiver<Option<Position>>)> = names
        .iter()
        .map(|name| (*name, notices.checkpoint(name)))
        .filter(|(_, heard)| !passed(*heard.borrow()))
        .collect();
    if pending.is_empty() {
        return Ok(true);
    }
    let deadline = Instant::now() + timeout;
    // A checkpoint heard from before moves on only with a notice, so waiting for that needs
    // no query; one never heard from (start-up, no listener) is looked up.
    let mut requery = pending.iter().any(|(_, heard)| heard.borrow().is_none());
    loop {
        if requery {
            let names: Vec<&str> = pending.iter().map(|(name, _)| *name).collect();
            let still = behind(pool, &names, target).await?;
            pending.retain(|(name, _)| still.iter().any(|s| s == name));
        }
        if pending.is_empty() {
            return Ok(true);
        }
        let poll = (Instant::now() + Duration::from_millis(250)).min(deadline);
        let moved = futures::future::select_all(
            pending
                .iter_mut()
                .map(|(_, heard)| Box::pin(heard.changed())),
        );
        // `changed` marks the value it woke for as seen, so every watch is read below.
        let fired = tokio::select! {
            (_, index, _) = moved => Some(index),
            _ = tokio::time::sleep_until(poll) => None,
        };
        requery = fired.is_none();
        if requery && Instant::now() >= deadline {
            let names: Vec<&str> = pending.iter().map(|(name, _)| *name).collect();
            return Ok(behind(pool, &names, target).await?.is_empty());
        }
        let mut index = 0;
        pending.retain_mut(|(_, heard)| {
            let at = *heard.borrow_and_update();
            // A notice without a position moved this checkpoint somewhere: look it up.
            if at.is_none() && fired == Some(index) {
                requery = true;
            }
            index += 1;
            !passed(at)
        });
    }
}

/// The position of the newest event in the log, if any.
pub async fn log_head(pool: &PgPool) -> Result<Option<Position>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint AS tx, global_position FROM events \
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(tx, position)| Position { tx, position }))
}

/// The position of the newest event of one stream (what a command just appended).
pub async fn stream_head(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Option<Position>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events \
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(tx, position)| Position { tx, position }))
}
