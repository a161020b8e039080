//! Audit: a record's history and its state as of an instant, read from the log itself.

use chrono::{DateTime, Utc};
use domain::Aggregate;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::page::{select_list, Columns, Page};

/// The aggregate types that have a history, with their persisted names.
pub const AGGREGATE_TYPES: [&str; 18] = [
    "Lead",
    "Client",
    "Project",
    "User",
    "WorkflowTemplate",
    "Reactor",
    "Department",
    "Team",
    "Timesheet",
    "RateCard",
    "Statement",
    "ServiceItem",
    "ApiKey",
    "ExternalEntry",
    "ExternalMappings",
    "Guidance",
    "RuleChange",
    "WebhookEndpoint",
];

/// Why an audit read failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Database failure.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored event did not decode.
    #[error("event {position} did not decode: {source}")]
    Decode {
        /// Global position.
        position: i64,
        /// Cause.
        source: serde_json::Error,
    },
}

/// JSON text that PostgreSQL printed from a `jsonb` column: the API copies it into an answer
/// as it is, so only a read from the store constructs one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct StoredJson(String);

impl StoredJson {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for StoredJson {
    /// What a row that did not read the column holds: JSON's `null`, never unread text.
    fn default() -> Self {
        StoredJson("null".to_owned())
    }
}

/// One event of a record's history as the audit API shows it. The metadata fields shown
/// are picked out in SQL: the metadata document is larger than most payloads, and reading
/// it whole cost more than the payloads did. Only the fields a reader asks for are read
/// (see [`HISTORY_COLUMNS`]); the others keep their defaults.
#[derive(Debug, Clone, Default)]
pub struct HistoryEntry {
    /// Unique event id.
    pub event_id: Uuid,
    pub global_position: i64,
    /// Sequence within the stream, from 1.
    pub sequence: i64,
    /// Event type name.
    pub event_type: String,
    pub event_version: String,
    /// Payload, externally tagged by event type, as PostgreSQL printed it.
    pub payload: StoredJson,
    /// `metadata.actor_id`.
    pub actor_id: Option<String>,
    /// `metadata.actor_role`.
    pub actor_role: Option<String>,
    /// `metadata.correlation_id`.
    pub correlation_id: Option<String>,
    /// `metadata.causation_id`.
    pub causation_id: Option<String>,
    /// `metadata.request_id`.
    pub request_id: Option<String>,
    /// Commit-time clock.
    pub recorded_at: DateTime<Utc>,
}

column_fields!(HistoryField for HistoryEntry {
    sequence,
    event_id,
    global_position,
    event_type,
    event_version,
    payload,
    actor_id,
    actor_role,
    correlation_id,
    causation_id,
    request_id,
    recorded_at,
});

/// The fields of a [`HistoryEntry`] with the SQL that reads each; `sequence` is always read.
pub const HISTORY_COLUMNS: &Columns = &[
    ("event_id", "event_id"),
    ("global_position", "global_position"),
    ("event_type", "event_type"),
    ("event_version", "event_version"),
    ("payload", "payload::text AS payload"),
    ("actor_id", "metadata->>'actor_id' AS actor_id"),
    ("actor_role", "metadata->>'actor_role' AS actor_role"),
    (
        "correlation_id",
        "metadata->>'correlation_id' AS correlation_id",
    ),
    ("causation_id", "metadata->>'causation_id' AS causation_id"),
    ("request_id", "metadata->>'request_id' AS request_id"),
    ("recorded_at", "recorded_at"),
];

/// Which of a record's events a history page shows.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only these event types (any when `None`).
    pub event_types: Option<Vec<String>>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub until: Option<DateTime<Utc>>,
}

/// A page of a record's events in stream order: at most `first` after sequence `after`,
/// matching `filter`, as [`HistoryEntry`]s with the fields `wanted` names (by their names in
/// [`HISTORY_COLUMNS`]) read and the others left at their defaults.
///
/// The metadata and payload columns nobody asked for are most of the statement's cost, so
/// only the selected ones are read; the stream's `(aggregate_type, aggregate_id, sequence)`
/// key orders and bounds the page.
pub async fn history(
    pool: &PgPool,
    stream: (&str, &str),
    filter: &HistoryFilter,
    after: Option<i64>,
    first: i64,
    wanted: impl Fn(&str) -> bool,
) -> Result<Page<HistoryEntry>, sqlx::Error> {
    let columns = select_list("sequence", HISTORY_COLUMNS, wanted);
    let mut qb = QueryBuilder::new(format!("SELECT {columns}"));
    push_stream(&mut qb, stream, filter);
    if let Some(after) = after {
        qb.push(" AND sequence > ").push_bind(after);
    }
    // The limit is written, not bound, as in `page::push_order`.
    qb.push(format_args!(" ORDER BY sequence LIMIT {}", first + 1));
    let rows = qb.build().fetch_all(pool).await?;
    let entries = crate::columns::read_all::<HistoryEntry, HistoryField>(&rows)?;
    Ok(crate::page::finish(entries, first))
}

/// How many of a record's events match `filter`.
pub async fn history_count(
    pool: &PgPool,
    stream: (&str, &str),
    filter: &HistoryFilter,
) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT count(*)");
    push_stream(&mut qb, stream, filter);
    qb.build_query_scalar().fetch_one(pool).await
}

fn push_stream(
    qb: &mut QueryBuilder<'_, Postgres>,
    (aggregate_type, aggregate_id): (&str, &str),
    filter: &HistoryFilter,
) {
    qb.push(" FROM events WHERE aggregate_type = ")
        .push_bind(aggregate_type.to_owned())
        .push(" AND aggregate_id = ")
        .push_bind(aggregate_id.to_owned());
    if let Some(types) = &filter.event_types {
        qb.push(" AND event_type = ANY(")
            .push_bind(types.clone())
            .push(")");
    }
    if let Some(from) = filter.from {
        qb.push(" AND recorded_at >= ").push_bind(from);
    }
    if let Some(until) = filter.until {
        qb.push(" AND recorded_at < ").push_bind(until);
    }
}

/// The whole history of each of the streams `ids` of aggregate `A`, each in order (streams
/// without events are left out): for replays such as a rule change's dry run.
pub async fn histories<A: Aggregate>(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Vec<A::Event>)>, AuditError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT aggregate_id, global_position, payload::text FROM events \
          WHERE aggregate_type = $1 AND aggregate_id = ANY($2) ORDER BY aggregate_id, sequence",
    )
    .bind(A::TYPE)
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(Uuid, Vec<A::Event>)> = Vec::new();
    for (aggregate_id, position, payload) in rows {
        let event = serde_json::from_str::<A::Event>(&payload)
            .map_err(|source| AuditError::Decode { position, source })?;
        let Ok(id) = Uuid::parse_str(&aggregate_id) else {
            continue;
        };
        match out.last_mut() {
            Some((last, events)) if *last == id => events.push(event),
            _ => out.push((id, vec![event])),
        }
    }
    Ok(out)
}

/// The state of aggregate `A` with id `aggregate_id` as of `at`, or `None` if it did not exist yet.
///
/// Reads only the payloads, as text, and decodes each straight into `A::Event` (no
/// intermediate JSON tree).
pub async fn state_as_of<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<A>, AuditError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT global_position, payload::text FROM events \
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3 ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(aggregate_id)
    .bind(at)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let decoded = rows
        .iter()
        .map(|(position, payload)| {
            serde_json::from_str::<A::Event>(payload).map_err(|source| AuditError::Decode {
                position: *position,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(domain::replay::<A>(decoded)))
}
