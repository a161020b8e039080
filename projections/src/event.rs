//! Events as stored in the log, with their global coordinates.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A point in the global order: `(transaction_id, global_position)`.
///
/// Events are totally ordered by this pair. Once every transaction below a horizon has
/// finished, no new event can sort before it, which is what makes checkpoints safe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Position {
    /// The appending transaction's id (`xid8`, as a signed integer; real ids are < 2^63).
    pub tx: i64,
    /// The event's global position.
    pub position: i64,
}

impl Position {
    /// Before every event.
    pub const START: Position = Position { tx: 0, position: 0 };
    /// After every event.
    pub const END: Position = Position {
        tx: i64::MAX,
        position: i64::MAX,
    };
}

/// One row of the `events` table.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Transaction id (xid8 as a signed integer).
    pub tx: i64,
    pub global_position: i64,
    /// Unique event id.
    pub event_id: Uuid,
    /// Aggregate type (`Lead`, `Project`, ...).
    pub aggregate_type: String,
    /// Aggregate id (a UUID as text).
    pub aggregate_id: String,
    /// Sequence within the stream, from 1.
    pub sequence: i64,
    /// Event type name.
    pub event_type: String,
    pub event_version: String,
    /// Payload, externally tagged by event type, as JSON text (`null` when the reader did
    /// not ask for it). Decoded straight into the event type: a JSON tree in between cost
    /// as much again.
    pub payload: String,
    /// `metadata.actor_id`: the acting user's id, or `system`. The rest of the metadata
    /// (role, correlation, causation, request) is for the audit API, which reads it itself;
    /// the whole document is larger than most payloads.
    pub actor: Option<String>,
    /// Commit-time clock.
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// This event's place in the global order.
    pub fn position(&self) -> Position {
        Position {
            tx: self.tx,
            position: self.global_position,
        }
    }

    /// Decodes the payload as the aggregate's event enum.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }

    /// The aggregate id as a UUID.
    pub fn aggregate_uuid(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.aggregate_id).ok()
    }

    /// The acting user recorded in the metadata, if any.
    pub fn actor_id(&self) -> Option<Uuid> {
        self.actor.as_deref().and_then(|s| Uuid::parse_str(s).ok())
    }
}

/// Column list matching [`StoredEvent`], in the order its `FromRow` reads them, for
/// `SELECT`s over `events`. `transaction_id` goes as it is: an `xid8` travels as its 8-byte
/// integer, so it decodes as an `i64` without the `::text::bigint` casts the other
/// statements use (real ids are below 2^63).
pub const EVENT_COLUMNS: &str = "transaction_id AS tx, global_position, event_id, aggregate_type, \
     aggregate_id, sequence, event_type, event_version, payload::text AS payload, \
     metadata->>'actor_id' AS actor, recorded_at";

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for StoredEvent {
    /// By position, in [`EVENT_COLUMNS`]' order, without sqlx's per-value type check: sqlx's
    /// derive looks each column up by name and checks its type, a large share of a
    /// rebuild's own CPU. The columns and their types are the `events` table's, fixed by
    /// migration 0001; the tests fold every event they append.
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            tx: row.try_get_unchecked(0)?,
            global_position: row.try_get_unchecked(1)?,
            event_id: row.try_get_unchecked(2)?,
            aggregate_type: row.try_get_unchecked(3)?,
            aggregate_id: row.try_get_unchecked(4)?,
            sequence: row.try_get_unchecked(5)?,
            event_type: row.try_get_unchecked(6)?,
            event_version: row.try_get_unchecked(7)?,
            payload: row.try_get_unchecked(8)?,
            actor: row.try_get_unchecked(9)?,
            recorded_at: row.try_get_unchecked(10)?,
        })
    }
}
