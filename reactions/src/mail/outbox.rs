//! The outbox as the Ops Center reads and steers it: messages by status, recipient, kind and
//! date, and an admin's retry or cancel. Bodies are never listed: they carry one-time links.

use chrono::{DateTime, Utc};
use projections::page::{self, Cursor, Page, Sort};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::courier::{self, Refusal};

/// A message as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: Uuid,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub decided_by: Option<Uuid>,
    pub sort_value: String,
}

const COLUMNS: &str =
    "id, kind, to_address, subject, status, attempts, last_error, created_at, sent_at, \
     next_attempt_at, updated_at, decided_by";

/// Newest first.
const NEWEST: Sort = Sort {
    expr: "created_at",
    cast: "timestamptz",
    descending: true,
};

/// What [`list`] selects by; empty selects all.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub statuses: Vec<String>,
    /// Part of the address, any case.
    pub recipient: Option<String>,
    pub kind: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl OutboxFilter {
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push(" WHERE true");
        if !self.statuses.is_empty() {
            qb.push(" AND status = ANY(")
                .push_bind(self.statuses.clone())
                .push(")");
        }
        if let Some(recipient) = &self.recipient {
            qb.push(" AND lower(to_address) LIKE ")
                .push_bind(page::like_pattern(&recipient.to_lowercase()));
        }
        if let Some(kind) = &self.kind {
            qb.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(since) = self.since {
            qb.push(" AND created_at >= ").push_bind(since);
        }
        if let Some(until) = self.until {
            qb.push(" AND created_at < ").push_bind(until);
        }
    }
}

pub async fn list(
    pool: &PgPool,
    filter: &OutboxFilter,
    first: i64,
    after: Option<&Cursor>,
) -> Result<Page<OutboxRow>, sqlx::Error> {
    page::fetch(
        pool,
        "email_outbox",
        COLUMNS,
        |qb| filter.push(qb),
        NEWEST,
        first,
        after,
    )
    .await
}

pub async fn count(pool: &PgPool, filter: &OutboxFilter) -> Result<i64, sqlx::Error> {
    page::count(pool, "email_outbox", |qb| filter.push(qb)).await
}

/// Counts by status, for a dashboard.
pub async fn counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM email_outbox GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
}

/// Queues a failed or cancelled message again, with its attempts counted anew.
pub async fn retry(pool: &PgPool, id: Uuid, by: Uuid) -> Result<Result<(), Refusal>, sqlx::Error> {
    courier::decide(
        pool,
        &super::OUTBOX,
        id,
        by,
        "status = 'queued', attempts = 0, next_attempt_at = now()",
        &["failed", "cancelled"],
    )
    .await
}

/// Cancels a message not sent yet (queued or failed).
pub async fn cancel(pool: &PgPool, id: Uuid, by: Uuid) -> Result<Result<(), Refusal>, sqlx::Error> {
    courier::decide(
        pool,
        &super::OUTBOX,
        id,
        by,
        "status = 'cancelled'",
        &["queued", "failed"],
    )
    .await
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<OutboxRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, created_at::text AS sort_value FROM email_outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}
