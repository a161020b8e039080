//! Outbound webhooks' read side (ADR 0013): the `webhook_endpoints` read model, the
//! `webhook-fanout` reactor that turns each documented event into one delivery per endpoint
//! that receives it, and the payloads, a versioned public shape per type.
//!
//! A delivery's id is derived from its endpoint and event ([`delivery_id`]): it is the
//! `webhook-id` receivers deduplicate on, the same on every attempt, redelivery and replay.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::ProjectEvent;
use domain::timesheet::TimesheetEvent;
use domain::webhook::{EventType, WebhookEvent};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::page::{self, Cursor, Page, Sort};
use crate::reactor::{ReactionError, Reactor};
use crate::runner::{decode, fold_each, FoldEach, Projection, ProjectionError};
use crate::StoredEvent;

/// The delivery of event `event_id` to endpoint `endpoint_id`: its `webhook-id` is
/// `msg_` followed by this id without dashes.
pub fn delivery_id(endpoint_id: Uuid, event_id: Uuid) -> Uuid {
    Uuid::new_v5(&endpoint_id, event_id.as_bytes())
}

/// The `webhook-id` header of a delivery.
pub fn webhook_id(delivery_id: Uuid) -> String {
    format!("msg_{}", delivery_id.simple())
}

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct WebhookEndpointsProjection;

#[async_trait]
impl Projection for WebhookEndpointsProjection {
    fn name(&self) -> &'static str {
        "webhook_endpoints"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["webhook_endpoints"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["WebhookEndpoint"]
    }

    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        _live: bool,
    ) -> Result<(), ProjectionError> {
        fold_each(self, conn, events).await
    }
}

/// One statement per event.
#[async_trait]
impl FoldEach for WebhookEndpointsProjection {
    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let query = match decode(event)? {
            WebhookEvent::WebhookEndpointRegistered { spec, by, at, .. } => sqlx::query(
                "INSERT INTO webhook_endpoints (id, url, description, event_types, role, enabled, \
                        registered_position, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(spec.url)
            .bind(spec.description)
            .bind(spec.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .bind(spec.role.as_str())
            .bind(event.global_position)
            .bind(by)
            .bind(at),
            WebhookEvent::WebhookEndpointUpdated { spec, at, .. } => sqlx::query(
                "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, role = $5, \
                        updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(spec.url)
            .bind(spec.description)
            .bind(spec.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .bind(spec.role.as_str())
            .bind(at),
            WebhookEvent::WebhookEndpointDisabled { reason, at, .. } => sqlx::query(
                "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3 \
                  WHERE id = $1",
            )
            .bind(id)
            .bind(reason)
            .bind(at),
            WebhookEvent::WebhookEndpointEnabled { at, .. } => sqlx::query(
                "UPDATE webhook_endpoints SET enabled = true, disabled_reason = NULL, updated_at = $2 \
                  WHERE id = $1",
            )
            .bind(id)
            .bind(at),
            WebhookEvent::WebhookSecretRotated { at, .. } => {
                sqlx::query("UPDATE webhook_endpoints SET updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
            }
        };
        query.execute(conn).await?;
        Ok(())
    }
}

/// A documented event: its type and the `data` of its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub event_type: EventType,
    pub data: Value,
}

impl Outgoing {
    /// The body receivers get: `{type, version, timestamp, data}`, the timestamp being
    /// when the event was recorded.
    pub fn payload(&self, recorded_at: DateTime<Utc>) -> Value {
        json!({
            "type": self.event_type.as_str(),
            "version": self.event_type.version(),
            "timestamp": recorded_at,
            "data": self.data,
        })
    }
}

/// An approved entry as `time_entries.approved` lists it.
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
struct ApprovedEntry {
    entry_id: Uuid,
    user_id: Uuid,
    date: NaiveDate,
    minutes: i32,
    billable: bool,
    description: String,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    service_item_id: Option<Uuid>,
}

/// The documented event `event` is, if it is one. Reads the effort read model for the
/// entries an approval names (the reactor runs after it).
pub async fn outgoing(
    pool: &PgPool,
    event: &StoredEvent,
) -> Result<Option<Outgoing>, ReactionError> {
    let Some(id) = event.aggregate_uuid() else {
        return Ok(None);
    };
    let (event_type, data) = match event.aggregate_type.as_str() {
        "Project" => match decode(event)? {
            ProjectEvent::ProjectCreated {
                client_id,
                name,
                template,
                ..
            } => (
                EventType::ProjectCreated,
                json!({
                    "project_id": id,
                    "client_id": client_id,
                    "name": name,
                    "template_id": template.template_id,
                    "template_version": template.version,
                }),
            ),
            ProjectEvent::TaskAdded {
                task_id,
                stage,
                title,
                assignee,
                priority,
                due_on,
                estimate_hours,
                ..
            } => (
                EventType::TaskCreated,
                json!({
                    "project_id": id,
                    "task_id": task_id,
                    "stage": stage,
                    "title": title,
                    "assignee_id": assignee,
                    "priority": priority,
                    "due_on": due_on,
                    "estimate_hours": estimate_hours,
                }),
            ),
            ProjectEvent::TaskAssigned {
                task_id,
                subtask_id,
                assignee,
                ..
            } => (
                EventType::TaskAssigned,
                json!({
                    "project_id": id,
                    "task_id": task_id,
                    "subtask_id": subtask_id,
                    "assignee_id": assignee,
                }),
            ),
            ProjectEvent::TaskStatusChanged {
                task_id, status, ..
            } => (
                EventType::TaskStatusChanged,
                json!({"project_id": id, "task_id": task_id, "subtask_id": null, "status": status}),
            ),
            ProjectEvent::SubtaskStatusChanged {
                task_id,
                subtask_id,
                status,
                ..
            } => (
                EventType::TaskStatusChanged,
                json!({"project_id": id, "task_id": task_id, "subtask_id": subtask_id, "status": status}),
            ),
            _ => return Ok(None),
        },
        "Timesheet" => match decode(event)? {
            TimesheetEvent::TimesheetApproved { entry_ids, by, .. } => {
                let entries: Vec<ApprovedEntry> = sqlx::query_as(
                    "SELECT entry_id, user_id, date, minutes, billable, description, project_id, task_id, \
                            service_item_id FROM time_entries WHERE entry_id = ANY($1) ORDER BY date, entry_id",
                )
                .bind(&entry_ids)
                .fetch_all(pool)
                .await?;
                (
                    EventType::TimeEntriesApproved,
                    json!({"approved_by": by, "entries": entries}),
                )
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Outgoing { event_type, data }))
}

/// Who gets an event's deliveries.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Every enabled endpoint that receives its type and was registered before it; a
    /// delivery made before stays as it is.
    Subscribers,
    /// One endpoint replaying the log, if it receives the type: queued again if it was
    /// delivered before, under the same id.
    Replay(Uuid),
}

/// Queues the deliveries of `event` to `target`. Returns how many were queued.
pub async fn queue(
    pool: &PgPool,
    event: &StoredEvent,
    outgoing: &Outgoing,
    target: Target,
) -> Result<u64, sqlx::Error> {
    let (replay, endpoint) = match target {
        Target::Subscribers => (false, None),
        Target::Replay(endpoint) => (true, Some(endpoint)),
    };
    let endpoints: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM webhook_endpoints \
          WHERE enabled AND ($4 OR registered_position < $1) AND role = ANY($2) \
            AND (cardinality(event_types) = 0 OR $3 = ANY(event_types)) \
            AND ($5::uuid IS NULL OR id = $5)",
    )
    .bind(event.global_position)
    .bind(outgoing.event_type.roles())
    .bind(outgoing.event_type.as_str())
    .bind(replay)
    .bind(endpoint)
    .fetch_all(pool)
    .await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = endpoints
        .iter()
        .map(|endpoint| delivery_id(*endpoint, event.event_id))
        .collect();
    let on_conflict = if replay {
        "DO UPDATE SET status = 'queued', attempts = 0, next_attempt_at = now(), claimed_at = NULL, \
                       updated_at = now() WHERE webhook_deliveries.status <> 'sending'"
    } else {
        "DO NOTHING"
    };
    let queued = sqlx::query(&format!(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_position, event_type, payload, committed_at) \
         SELECT id, endpoint_id, $3, $4, $5, $6, $7 FROM UNNEST($1::uuid[], $2::uuid[]) AS d(id, endpoint_id) \
         ON CONFLICT (endpoint_id, event_id) {on_conflict}"
    ))
    .bind(&ids)
    .bind(&endpoints)
    .bind(event.event_id)
    .bind(event.global_position)
    .bind(outgoing.event_type.as_str())
    .bind(outgoing.payload(event.recorded_at))
    .bind(event.recorded_at)
    .execute(pool)
    .await?;
    Ok(queued.rows_affected())
}

/// The stored event types that become documented ones.
const DOCUMENTED: [&str; 6] = [
    "ProjectCreated",
    "TaskAdded",
    "TaskAssigned",
    "TaskStatusChanged",
    "SubtaskStatusChanged",
    "TimesheetApproved",
];

/// Most events one replay call reads; the answer says where to go on.
pub const REPLAY_EVENTS: i64 = 5_000;

/// Where the log may be replayed from.
#[derive(Debug, Clone, Copy)]
pub enum Since {
    /// From this global position on (inclusive).
    Position(i64),
    /// Events recorded at or after this instant.
    Time(DateTime<Utc>),
}

/// What one replay call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Documented events read.
    pub events: u64,
    /// Deliveries queued for the endpoint.
    pub queued: u64,
    /// Where the next call goes on, when there is more to replay.
    pub next_position: Option<i64>,
}

/// Queues again, for `endpoint_id`, every event it receives since `since` that the fan-out
/// reactor has already passed, up to [`REPLAY_EVENTS`] documented events.
pub async fn replay(
    pool: &PgPool,
    endpoint_id: Uuid,
    since: Since,
) -> Result<Replayed, ReactionError> {
    let (position, time) = match since {
        Since::Position(position) => (position, None),
        Since::Time(time) => (0, Some(time)),
    };
    let events: Vec<StoredEvent> = sqlx::query_as(&format!(
        "SELECT {} FROM events \
          WHERE global_position >= $1 AND ($2::timestamptz IS NULL OR recorded_at >= $2) \
            AND aggregate_type IN ('Project', 'Timesheet') AND event_type = ANY($3) \
            AND global_position <= (SELECT last_position FROM projection_checkpoints WHERE name = $4) \
          ORDER BY global_position LIMIT $5",
        crate::event::EVENT_COLUMNS
    ))
    .bind(position)
    .bind(time)
    .bind(&DOCUMENTED[..])
    .bind(WebhookFanOut::NAME)
    .bind(REPLAY_EVENTS + 1)
    .fetch_all(pool)
    .await?;
    let more = events.len() > usize::try_from(REPLAY_EVENTS).unwrap_or(usize::MAX);
    let mut replayed = Replayed {
        events: 0,
        queued: 0,
        next_position: None,
    };
    for event in events
        .iter()
        .take(usize::try_from(REPLAY_EVENTS).unwrap_or(usize::MAX))
    {
        if let Some(outgoing) = outgoing(pool, event).await? {
            replayed.events += 1;
            replayed.queued += queue(pool, event, &outgoing, Target::Replay(endpoint_id)).await?;
        }
    }
    if more {
        replayed.next_position = events.last().map(|e| e.global_position);
    }
    sqlx::query("SELECT pg_notify('zippcrm_webhooks', '')")
        .execute(pool)
        .await?;
    Ok(replayed)
}

/// Turns each documented event into its deliveries, keyed by endpoint and event, so a
/// reaction run again queues nothing twice.
#[derive(Debug)]
pub struct WebhookFanOut {
    /// Where the endpoints and deliveries are.
    pub pool: PgPool,
}

impl WebhookFanOut {
    /// Persisted name.
    pub const NAME: &'static str = "webhook-fanout";
}

#[async_trait]
impl Reactor for WebhookFanOut {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project", "Timesheet"]
    }

    fn after(&self) -> &'static [&'static str] {
        &["webhook_endpoints", "effort"]
    }

    /// Receivers get no order across events (at-least-once, retries), so streams fan out
    /// side by side; one stream's deliveries are still queued in its order.
    fn partition(&self, event: &StoredEvent) -> u128 {
        event.aggregate_uuid().map_or(0, |id| id.as_u128())
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        if let Some(outgoing) = outgoing(&self.pool, event).await? {
            queue(&self.pool, event, &outgoing, Target::Subscribers).await?;
        }
        Ok(())
    }
}

/// An endpoint as listed, with its health.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub role: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Since when it has failed without a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

const ENDPOINT_COLUMNS: &str = "e.id, e.url, e.description, e.event_types, e.role, e.enabled, \
     e.disabled_reason, e.created_by, e.created_at, e.updated_at, h.failing_since, \
     h.last_success_at, h.last_failure_at";

/// Every endpoint, failing ones first (longest failing first), then disabled, then by age.
pub async fn endpoints(pool: &PgPool) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e \
           LEFT JOIN webhook_endpoint_health h ON h.endpoint_id = e.id \
          ORDER BY h.failing_since IS NULL, h.failing_since, e.enabled, e.created_at, e.id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn endpoint(pool: &PgPool, id: Uuid) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e \
           LEFT JOIN webhook_endpoint_health h ON h.endpoint_id = e.id WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A delivery as listed (its payload is read on demand).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_position: i64,
    pub event_type: String,
    pub committed_at: DateTime<Utc>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    pub sort_value: String,
}

const DELIVERY_COLUMNS: &str =
    "id, endpoint_id, event_id, event_position, event_type, committed_at, \
     status, attempts, next_attempt_at, last_error, created_at, updated_at, sent_at, decided_by";

/// Failing first (failed, then retrying), then the rest; newest first within each.
const FAILING_FIRST: Sort = Sort {
    expr: "(CASE WHEN status = 'failed' THEN '0' \
                 WHEN status IN ('queued', 'sending') AND attempts > 0 AND last_error IS NOT NULL THEN '1' \
                 ELSE '2' END) || to_char(9999999999999999 - (extract(epoch FROM created_at) * 1000000)::bigint, 'FM0000000000000000')",
    cast: "text",
    descending: false,
};

/// What [`deliveries`] selects by; empty selects all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<Uuid>,
    pub statuses: Vec<String>,
    pub event_type: Option<String>,
}

impl DeliveryFilter {
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push(" WHERE true");
        if let Some(endpoint) = self.endpoint_id {
            qb.push(" AND endpoint_id = ").push_bind(endpoint);
        }
        if !self.statuses.is_empty() {
            qb.push(" AND status = ANY(")
                .push_bind(self.statuses.clone())
                .push(")");
        }
        if let Some(event_type) = &self.event_type {
            qb.push(" AND event_type = ").push_bind(event_type.clone());
        }
    }
}

pub async fn deliveries(
    pool: &PgPool,
    filter: &DeliveryFilter,
    first: i64,
    after: Option<&Cursor>,
) -> Result<Page<DeliveryRow>, sqlx::Error> {
    page::fetch(
        pool,
        "webhook_deliveries",
        DELIVERY_COLUMNS,
        |qb| filter.push(qb),
        FAILING_FIRST,
        first,
        after,
    )
    .await
}

pub async fn count_deliveries(pool: &PgPool, filter: &DeliveryFilter) -> Result<i64, sqlx::Error> {
    page::count(pool, "webhook_deliveries", |qb| filter.push(qb)).await
}

pub async fn delivery(pool: &PgPool, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS}, ''::text AS sort_value FROM webhook_deliveries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The body a delivery sends, as stored.
pub async fn payload(pool: &PgPool, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT payload::text FROM webhook_deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// One attempt of a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// A delivery's attempts, in order.
pub async fn attempts(pool: &PgPool, delivery_id: Uuid) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT attempt, at, status_code, latency_ms, error, response_excerpt FROM webhook_attempts \
          WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery_id)
    .fetch_all(pool)
    .await
}

/// Deliveries by status, of one endpoint or all.
pub async fn counts(
    pool: &PgPool,
    endpoint_id: Option<Uuid>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, count(*) FROM webhook_deliveries WHERE ($1::uuid IS NULL OR endpoint_id = $1) \
          GROUP BY status ORDER BY status",
    )
    .bind(endpoint_id)
    .fetch_all(pool)
    .await
}
