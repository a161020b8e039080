//! Read your writes: wait until projections have passed a position.

use std::time::Duration;

use sqlx::PgPool;
use tokio::time::Instant;

use crate::event::Position;
use crate::notices::{Notice, Notices};

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
/// answers that the read model is still catching up). One query finds which projections are
/// behind; after that, checkpoint notices carry the position each one reached, so waiting
/// costs no further queries. A lagged receiver, a bare notice or the slow poll re-query.
pub async fn wait_for(
    pool: &PgPool,
    notices: &Notices,
    names: &[&str],
    target: Position,
    timeout: Duration,
) -> Result<bool, sqlx::Error> {
    let mut receiver = notices.subscribe();
    let deadline = Instant::now() + timeout;
    let mut pending = behind(pool, names, target).await?;
    while !pending.is_empty() {
        let poll = (Instant::now() + Duration::from_millis(250)).min(deadline);
        let requery = tokio::select! {
            notice = receiver.recv() => match notice {
                Ok(Notice::Checkpoint { name, position: Some(at) }) => {
                    if at >= target {
                        pending.retain(|n| *n != name);
                    }
                    false
                }
                Ok(Notice::Checkpoint { name, position: None }) => pending.contains(&name),
                Ok(_) => false,
                Err(_) => true,
            },
            _ = tokio::time::sleep_until(poll) => {
                if Instant::now() >= deadline {
                    return Ok(behind(pool, names, target).await?.is_empty());
                }
                true
            }
        };
        if requery {
            pending = behind(pool, names, target).await?;
        }
    }
    Ok(true)
}

/// The position of the newest event in the log, if any.
pub async fn log_head(pool: &PgPool) -> Result<Option<Position>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events \
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
