//! Draining a queue of outbound messages: the one lease-and-backoff machinery under the
//! email senders ([`crate::mail`]), the webhook deliverers ([`crate::webhooks`]) and the
//! WhatsApp senders ([`crate::whatsapp`]) (ADR 0012, ADR 0013).
//!
//! A queue is a table whose rows carry `id`, `status` (`queued`, `sending`, `sent`,
//! `failed`, `cancelled`), `attempts`, `next_attempt_at`, `claimed_at`, `last_error`,
//! `sent_at` and `updated_at`, and whose inserts `pg_notify` a channel. A courier claims due
//! rows with `FOR UPDATE SKIP LOCKED` (so every replica can run one) by marking them
//! `sending` with the time, delivers each, and records the outcome: `sent`, back to
//! `queued` after a doubling backoff while attempts remain, or `failed`. A courier that
//! dies mid-delivery leaves its claims `sending`; once the lease is over they are claimed
//! again and delivered under the same key (at-least-once).

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

/// How a courier retries and how much it does at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// Attempts before a message that keeps failing transiently fails.
    pub attempts: u32,
    /// Wait after the first transient failure, doubled after each further one, up to an
    /// hour.
    pub backoff: Duration,
    /// How long a claim lasts before another courier takes the message again.
    pub lease: Duration,
    /// Polling fallback when no notification arrives.
    pub poll: Duration,
    /// Messages claimed at once.
    pub batch: i64,
    /// Messages delivered at once by one courier.
    pub concurrency: usize,
}

impl Drain {
    /// The defaults: 8 attempts, 30 s doubling, a 5 minute lease, 32 claimed and 8 sent at
    /// once.
    pub const DEFAULT: Drain = Drain {
        attempts: 8,
        backoff: Duration::from_secs(30),
        lease: Duration::from_secs(300),
        poll: Duration::from_secs(1),
        batch: 32,
        concurrency: 8,
    };

    /// The wait after the `attempts`-th transient failure.
    pub fn backoff_after(&self, attempts: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)));
        doubled.min(Duration::from_secs(3600).max(self.backoff))
    }
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again later, unless the attempts are used up.
    Transient(String),
    Permanent(String),
}

/// The SQL shape of a queue.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    /// The table, aliased `o` in [`Queue::returning`].
    pub table: &'static str,
    /// The channel its inserts notify.
    pub channel: &'static str,
    /// An extra condition on the rows that may be claimed (`q` is the table).
    pub ready: &'static str,
    /// A `FROM` list joined to each claimed row, with its condition (`o` is the row).
    pub join: Option<(&'static str, &'static str)>,
    /// The claimed rows' columns, as the courier's item reads them.
    pub returning: &'static str,
}

/// A claimed message.
pub trait Claimed {
    fn id(&self) -> Uuid;
    /// Attempts so far, this one included.
    fn attempts(&self) -> i32;
}

/// Something that delivers the messages of a queue.
#[async_trait]
pub trait Courier: Send + Sync + 'static {
    type Item: for<'r> FromRow<'r, PgRow> + Claimed + Send + Sync + Unpin;
    /// What it delivers, for logs.
    const WHAT: &'static str;
    fn queue(&self) -> &Queue;
    fn drain(&self) -> &Drain;
    /// One attempt at delivering `item`.
    async fn deliver(&self, item: &Self::Item) -> Outcome;
}

/// Claims up to `batch` messages that are due, or whose courier's claim ran out.
async fn claim<C: Courier>(courier: &C, pool: &PgPool) -> Result<Vec<C::Item>, sqlx::Error> {
    let queue = courier.queue();
    let (from, on) = queue.join.unwrap_or(("", "true"));
    let from = if from.is_empty() {
        String::new()
    } else {
        format!("FROM {from}")
    };
    let sql = format!(
        "UPDATE {table} o SET status = 'sending', claimed_at = now(), attempts = o.attempts + 1, \
                updated_at = now() {from} \
          WHERE o.id IN (SELECT q.id FROM {table} q \
                          WHERE ((q.status = 'queued' AND q.next_attempt_at <= now()) \
                             OR (q.status = 'sending' AND q.claimed_at < now() - make_interval(secs => $2))) \
                            AND {ready} \
                          ORDER BY q.next_attempt_at LIMIT $1 FOR UPDATE OF q SKIP LOCKED) AND {on} \
         RETURNING {returning}",
        table = queue.table,
        ready = queue.ready,
        returning = queue.returning,
    );
    sqlx::query_as(&sql)
        .bind(courier.drain().batch)
        .bind(courier.drain().lease.as_secs_f64())
        .fetch_all(pool)
        .await
}

/// Records what an attempt came to.
async fn settle<C: Courier>(
    courier: &C,
    pool: &PgPool,
    item: &C::Item,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let table = courier.queue().table;
    let drain = courier.drain();
    let attempts = u32::try_from(item.attempts()).unwrap_or(u32::MAX);
    let (status, error, retry_in) = match outcome {
        Outcome::Sent => ("sent", None, 0.0),
        Outcome::Transient(error) if attempts < drain.attempts => {
            tracing::warn!(what = C::WHAT, id = %item.id(), attempts, %error, "not delivered; will retry");
            (
                "queued",
                Some(error),
                drain.backoff_after(attempts).as_secs_f64(),
            )
        }
        Outcome::Transient(error) | Outcome::Permanent(error) => {
            tracing::warn!(what = C::WHAT, id = %item.id(), attempts, %error, "delivery failed");
            ("failed", Some(error), 0.0)
        }
    };
    sqlx::query(&format!(
        "UPDATE {table} SET status = $2, last_error = $3, updated_at = now(), \
                sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END, \
                next_attempt_at = now() + make_interval(secs => $4) \
          WHERE id = $1 AND status = 'sending'"
    ))
    .bind(item.id())
    .bind(status)
    .bind(error)
    .bind(retry_in)
    .execute(pool)
    .await?;
    Ok(())
}

/// Drains `courier`'s queue until `shutdown`: wakes on every insert (its channel) and at
/// least every poll; a database that went away is waited for.
pub async fn run<C: Courier>(courier: C, pool: PgPool, mut shutdown: watch::Receiver<bool>) {
    let queue = *courier.queue();
    let drain = *courier.drain();
    let mut listener = loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(queue.channel).await {
                Ok(()) => break listener,
                Err(error) => tracing::warn!(what = C::WHAT, %error, "courier: could not listen"),
            },
            Err(error) => tracing::warn!(what = C::WHAT, %error, "courier: could not connect"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(drain.poll) => {}
        }
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed = match claim(&courier, &pool).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(what = C::WHAT, %error, "could not claim messages");
                Vec::new()
            }
        };
        let full = i64::try_from(claimed.len()).unwrap_or(0) == drain.batch;
        futures::stream::iter(claimed)
            .for_each_concurrent(drain.concurrency, |item| {
                let (pool, courier) = (&pool, &courier);
                async move {
                    let outcome = courier.deliver(&item).await;
                    if let Err(error) = settle(courier, pool, &item, outcome).await {
                        // Left `sending`: taken again once the lease is over.
                        tracing::warn!(what = C::WHAT, id = %item.id(), %error, "could not record an outcome");
                    }
                }
            })
            .await;
        if full {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            received = listener.recv() => {
                if received.is_err() {
                    // The connection is gone; the next recv reconnects.
                    tokio::time::sleep(drain.poll).await;
                }
            }
            () = tokio::time::sleep(drain.poll) => {}
        }
    }
}

/// Why an admin's action on a message did nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    /// The message's status, which the action does not apply to.
    Status(String),
}

/// Wakes the couriers of `queue` (after an admin queued a message again).
pub async fn wake(pool: &PgPool, queue: &Queue) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(queue.channel)
        .execute(pool)
        .await?;
    Ok(())
}

/// An admin's action on message `id` of `queue`: `set` when its status is one of `from`.
pub async fn decide(
    pool: &PgPool,
    queue: &Queue,
    id: Uuid,
    by: Uuid,
    set: &str,
    from: &[&str],
) -> Result<Result<(), Refusal>, sqlx::Error> {
    let table = queue.table;
    let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let changed = sqlx::query(&format!(
        "UPDATE {table} SET {set}, decided_by = $2, updated_at = now() \
          WHERE id = $1 AND status = ANY($3)"
    ))
    .bind(id)
    .bind(by)
    .bind(&from)
    .execute(pool)
    .await?;
    if changed.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let status: Option<String> =
        sqlx::query_scalar(&format!("SELECT status FROM {table} WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(Err(status.map_or(Refusal::NotFound, Refusal::Status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        let drain = Drain::DEFAULT;
        assert_eq!(drain.backoff_after(1), Duration::from_secs(30));
        assert_eq!(drain.backoff_after(3), Duration::from_secs(120));
        assert_eq!(drain.backoff_after(30), Duration::from_secs(3600));
    }
}
