//! Outbound webhooks' read side (ADR 0013): the `webhook_endpoints` read model, and the
//! queries over endpoints, deliveries and their attempts. The deliveries are queued by the
//! `webhook-fanout` reactor of the `reactions` crate.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::webhook::WebhookEvent;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::page::{self, Cursor, Page, Sort};
use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "webhook_endpoints";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct WebhookEndpointsProjection;

/// One statement per event.
#[async_trait]
impl FoldEach for WebhookEndpointsProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["webhook_endpoints"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["WebhookEndpoint"];

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
