//! The event store the command bus uses: postgres-es for loading events, one
//! `INSERT ... RETURNING` of our own for appending them (postgres-es's append takes a
//! transaction of three or more round trips and reports no position, which then cost a
//! fourth query), and optional snapshots of long streams kept in `aggregate_snapshots`.
//!
//! cqrs-es 0.5 has a snapshot store of its own, but it cannot be used: its `EventSink::write`
//! applies each new event to the loaded aggregate, and its commit then applies the same
//! events again before serialising the snapshot, so every snapshot holds the triggering
//! command's events twice (our snapshot test caught it as a duplicated lead note). Here the
//! aggregate handed to `commit` is taken as it is: it already includes the new events.
//!
//! Each appended event gets its own id in its metadata (`event_id`, copied into the
//! `event_id` column by a trigger). An event that is a consequence of the one before it in
//! the same append (a roll-up, a stage move caused by an approval) gets that event's id as
//! its `causation_id`, so history shows the chain.
//!
//! A snapshot is a cache. It is written after the events commit, only ever moves forward,
//! and one that no longer deserialises (the aggregate's shape changed) is ignored in favour
//! of a full replay.

use std::cell::Cell;
use std::collections::HashMap;
use std::marker::PhantomData;

use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventEnvelope, EventStore};
use domain::Consequence;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use uuid::Uuid;

use crate::Appended;

/// How long an append whose connection broke keeps trying to learn its fate.
const REAPPEND_FOR: std::time::Duration = std::time::Duration::from_secs(3);
/// The first pause before trying again.
const REAPPEND_FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

tokio::task_local! {
    /// Where the last commit of a command attempt landed (see [`SnapshotStore::append`]).
    pub(crate) static APPENDED: Cell<Option<Appended>>;
}

/// What an append did.
enum Landed {
    /// The events are stored; the last one is here.
    Stored(Appended),
    /// The reaction these events carry was already in the log: nothing was stored.
    Repeated,
}

/// Where the last of the rows `(transaction, position)` an append returned landed.
fn latest(rows: Vec<(i64, i64)>) -> Appended {
    rows.into_iter()
        .map(|(tx, position)| Appended { tx, position })
        .max()
        .unwrap_or_default()
}

/// The sequences of `events`, as stored.
fn sequences(events: &[SerializedEvent]) -> Vec<i64> {
    events
        .iter()
        .map(|e| i64::try_from(e.sequence).unwrap_or(i64::MAX))
        .collect()
}

/// An event store with snapshots every `every` events (never when `None`).
pub(crate) struct SnapshotStore<A: Aggregate> {
    repo: PostgresEventRepository,
    pool: PgPool,
    every: Option<usize>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> SnapshotStore<A> {
    /// A store over `pool`.
    pub(crate) fn new(pool: PgPool, every: Option<usize>) -> Self {
        Self {
            repo: PostgresEventRepository::new(pool.clone()),
            pool,
            every,
            aggregate: PhantomData,
        }
    }

    async fn snapshot(&self, aggregate_id: &str) -> Option<(usize, A)> {
        self.every?;
        let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
            "SELECT last_sequence, payload FROM aggregate_snapshots
             WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .inspect_err(|error| tracing::warn!(%error, "snapshot not readable; replaying"))
        .ok()
        .flatten();
        let (sequence, payload) = row?;
        let aggregate = serde_json::from_value(payload)
            .inspect_err(|error| tracing::info!(%error, aggregate = A::TYPE, "stale snapshot shape; replaying"))
            .ok()?;
        Some((usize::try_from(sequence).ok()?, aggregate))
    }

    /// Appends `events` in one statement (atomic on its own, so no BEGIN and COMMIT round
    /// trips) and says where the last one landed. Another writer's event at one of these
    /// sequences is an optimistic-concurrency conflict; a reaction already in the log
    /// appends nothing.
    ///
    /// A connection that breaks while the statement is on its way leaves its fate unknown:
    /// the database may have stored the events and lost only the answer. The same events
    /// (the same ids) are then sent again, for a few seconds: the unique sequence decides.
    /// An earlier attempt still running holds the new one back until it ends; one that
    /// stored them makes the new one conflict, and finding our own event ids there answers
    /// them as stored, once; otherwise the new attempt stores them. Only when the database
    /// stays out of reach for the whole time is the outcome unknown, and said so.
    async fn append(
        &self,
        aggregate_id: &str,
        events: &[SerializedEvent],
    ) -> Result<Landed, AggregateError<A::Error>> {
        let started = std::time::Instant::now();
        let mut pause = REAPPEND_FIRST_PAUSE;
        // Whether an attempt so far may have stored the events.
        let mut unknown = false;
        loop {
            // A first attempt takes what it takes; one that is only learning the fate of
            // an earlier one is bounded with it.
            let attempt = if unknown {
                let left = REAPPEND_FOR.saturating_sub(started.elapsed()).max(pause);
                tokio::time::timeout(left, self.insert(aggregate_id, events)).await
            } else {
                Ok(self.insert(aggregate_id, events).await)
            };
            let mut error = match attempt {
                Ok(Ok(landed)) => return Ok(Landed::Stored(latest(landed))),
                Ok(Err(error)) => error,
                // Given up on while it may have been on its way.
                Err(_) => {
                    unknown = true;
                    sqlx::Error::PoolTimedOut
                }
            };
            let constraint = match &error {
                sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
                _ => None,
            };
            match constraint.as_deref() {
                Some("events_reaction_key") => return Ok(Landed::Repeated),
                Some("events_pkey") if !unknown => return Err(AggregateError::AggregateConflict),
                // Stored by an earlier attempt of ours, or by another writer.
                Some("events_pkey") => match self.landed(aggregate_id, events).await {
                    Ok(Some(appended)) => return Ok(Landed::Stored(appended)),
                    Ok(None) => return Err(AggregateError::AggregateConflict),
                    Err(asking) => error = asking,
                },
                _ => {}
            }
            if !crate::error::unreachable(&error) {
                return Err(AggregateError::UnexpectedError(Box::new(error)));
            }
            // The server answered that it ended the session, or nothing was sent: an
            // attempt that failed so is known to have stored nothing.
            unknown |= matches!(
                error,
                sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed
            );
            if !unknown {
                return Err(AggregateError::DatabaseConnectionError(Box::new(error)));
            }
            if started.elapsed() >= REAPPEND_FOR {
                tracing::error!(%error, aggregate = A::TYPE, aggregate_id, "the connection broke while storing events and the database stayed out of reach: whether they were stored is unknown");
                return Err(AggregateError::UnexpectedError(
                    "the connection to the database broke while the change was being stored, and whether it was stored could not be learnt".into(),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(REAPPEND_FOR / 4);
        }
    }

    /// One attempt at storing `events`: the positions they landed at.
    async fn insert(
        &self,
        aggregate_id: &str,
        events: &[SerializedEvent],
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        let sequences = sequences(events);
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let versions: Vec<&str> = events.iter().map(|e| e.event_version.as_str()).collect();
        let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
        let metadata: Vec<&serde_json::Value> = events.iter().map(|e| &e.metadata).collect();
        sqlx::query_as(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload, e.metadata \
               FROM unnest($3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[]) \
                    AS e(sequence, event_type, event_version, payload, metadata) \
             RETURNING transaction_id::text::bigint, global_position",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(sequences)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .fetch_all(&self.pool)
        .await
    }

    /// Where `events` landed, if these very events (by their ids) are in the log.
    async fn landed(
        &self,
        aggregate_id: &str,
        events: &[SerializedEvent],
    ) -> Result<Option<Appended>, sqlx::Error> {
        let ids: Vec<Uuid> = events
            .iter()
            .filter_map(|e| e.metadata.get("event_id")?.as_str()?.parse().ok())
            .collect();
        let sequences = sequences(events);
        let found: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position FROM events \
              WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = ANY($3) \
                AND event_id = ANY($4)",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(&sequences)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok((found.len() == events.len()).then(|| latest(found)))
    }

    async fn save_snapshot(&self, aggregate_id: &str, sequence: usize, payload: serde_json::Value) {
        let saved = sqlx::query(
            "INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, last_sequence, payload)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                SET last_sequence = excluded.last_sequence, payload = excluded.payload,
                    taken_at = now()
              WHERE aggregate_snapshots.last_sequence < excluded.last_sequence",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(sequence as i64)
        .bind(payload)
        .execute(&self.pool)
        .await;
        if let Err(error) = saved {
            // The events are committed; a missing snapshot only costs a longer load.
            tracing::warn!(%error, aggregate = A::TYPE, "snapshot not saved");
        }
    }
}

impl<A> EventStore<A> for SnapshotStore<A>
where
    A: Aggregate,
    A::Event: Consequence,
{
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.repo
            .get_events::<A>(aggregate_id)
            .await?
            .into_iter()
            .map(|event| Ok(EventEnvelope::try_from(event)?))
            .collect()
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        let (current_sequence, aggregate) = self.snapshot(aggregate_id).await.unwrap_or_default();
        let mut context = EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate,
            current_sequence,
            current_snapshot: None,
        };
        let newer = self
            .repo
            .get_last_events::<A>(aggregate_id, current_sequence)
            .await?;
        for serialized in newer {
            let envelope = EventEnvelope::<A>::try_from(serialized)?;
            context.current_sequence = envelope.sequence;
            context.aggregate.apply(envelope.payload);
        }
        Ok(context)
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let aggregate_id = context.aggregate_id.clone();
        let before = context.current_sequence;
        let after = before + events.len();
        // `context.aggregate` already has `events` applied (the sink did it), so it is the
        // state at `after`.
        let snapshot = match self.every {
            Some(every) if after / every > before / every => {
                Some(serde_json::to_value(&context.aggregate)?)
            }
            _ => None,
        };
        let mut serialized = Vec::with_capacity(events.len());
        let mut envelopes = Vec::with_capacity(events.len());
        let mut previous: Option<Uuid> = None;
        for (event, sequence) in events.into_iter().zip(before + 1..) {
            let event_id = Uuid::now_v7();
            let mut event_metadata = metadata.clone();
            event_metadata.insert("event_id".into(), event_id.to_string());
            if let (true, Some(cause)) = (event.is_consequence(), previous) {
                event_metadata.insert("causation_id".into(), cause.to_string());
            }
            // The reaction key is unique in the log: it marks the append, on its first event.
            if previous.is_some() {
                event_metadata.remove("reaction");
            }
            previous = Some(event_id);
            serialized.push(SerializedEvent {
                aggregate_id: aggregate_id.clone(),
                sequence,
                aggregate_type: A::TYPE.to_owned(),
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_value(&event)?,
                metadata: serde_json::to_value(&event_metadata)?,
            });
            envelopes.push(EventEnvelope {
                aggregate_id: aggregate_id.clone(),
                sequence,
                payload: event,
                metadata: event_metadata,
            });
        }
        let appended = match self.append(&aggregate_id, &serialized).await? {
            Landed::Stored(appended) => appended,
            // The state the decision saw lacks the stored reaction; nothing to snapshot.
            Landed::Repeated => return Ok(envelopes),
        };
        // cqrs-es's `execute` returns nothing, so the position goes back through the
        // task-local the bus scopes around each attempt (outside one, nobody asks).
        let _ = APPENDED.try_with(|slot| slot.set(Some(appended)));
        if let Some(payload) = snapshot {
            self.save_snapshot(&aggregate_id, after, payload).await;
        }
        Ok(envelopes)
    }
}
