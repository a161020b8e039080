//! The `integrations` read model: `api_keys`, `external_entries` (what the productivity
//! platform sent, and the review queue) and `external_mappings`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::integration::{ApiKeyEvent, ExternalEntryEvent, ExternalStatus, Mapping, MappingEvent};
use domain::timesheet::WorkRef;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "integrations";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct IntegrationsProjection;

fn mapped(
    id: Uuid,
    status: ExternalStatus,
    mapping: &Mapping,
    by: Option<Uuid>,
    at: DateTime<Utc>,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "UPDATE external_entries SET status = $2, reason = NULL, user_id = $3, project_id = $4, task_id = $5, \
                service_item_id = $6, decided_by = COALESCE($7, decided_by), updated_at = $8 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(mapping.user_id)
    .bind(mapping.work.project_id())
    .bind(mapping.work.task_id())
    .bind(mapping.work.service_item_id())
    .bind(by)
    .bind(at)
}

/// One statement per event.
#[async_trait]
impl FoldEach for IntegrationsProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["api_keys", "external_entries", "external_mappings"];
    const AGGREGATE_TYPES: &'static [&'static str] =
        &["ApiKey", "ExternalEntry", "ExternalMappings"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        match event.aggregate_type.as_str() {
            "ApiKey" => match decode(event)? {
                ApiKeyEvent::ApiKeyCreated {
                    integration_id,
                    name,
                    scopes,
                    expires_at,
                    by,
                    at,
                    ..
                } => {
                    sqlx::query(
                        "INSERT INTO api_keys (id, integration_id, name, scopes, expires_at, created_by, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(domain::integration::stands_for(integration_id))
                    .bind(name)
                    .bind(scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>())
                    .bind(expires_at)
                    .bind(by)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                ApiKeyEvent::ApiKeyRevoked { at, .. } => {
                    sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(at)
                        .execute(conn)
                        .await?;
                }
            },
            "ExternalEntry" => match decode(event)? {
                ExternalEntryEvent::ExternalEntryReceived {
                    input,
                    key_id,
                    mapping,
                    unmapped,
                    at,
                    ..
                } => {
                    let status = if mapping.is_some() {
                        ExternalStatus::Mapped
                    } else {
                        ExternalStatus::Unmapped
                    };
                    let work = mapping.map(|m| m.work);
                    sqlx::query(
                        "INSERT INTO external_entries (id, external_id, key_id, user_ref, matter_ref, date, minutes, \
                                description, billable, status, reason, user_id, project_id, task_id, service_item_id, \
                                received_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(input.external_id)
                    .bind(key_id)
                    .bind(input.user_ref)
                    .bind(input.matter_ref)
                    .bind(input.date)
                    .bind(input.minutes)
                    .bind(input.description)
                    .bind(input.billable)
                    .bind(status.as_str())
                    .bind(unmapped)
                    .bind(mapping.map(|m| m.user_id))
                    .bind(work.and_then(|w| w.project_id()))
                    .bind(work.and_then(|w| w.task_id()))
                    .bind(work.and_then(|w| w.service_item_id()))
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                ExternalEntryEvent::ExternalEntryMapped { mapping, by, at } => {
                    mapped(id, ExternalStatus::Mapped, &mapping, Some(by), at)
                        .execute(conn)
                        .await?;
                }
                ExternalEntryEvent::ExternalEntryDiscarded { reason, by, at } => {
                    sqlx::query(
                        "UPDATE external_entries SET status = $2, reason = $3, decided_by = $4, updated_at = $5 \
                          WHERE id = $1",
                    )
                    .bind(id)
                    .bind(ExternalStatus::Discarded.as_str())
                    .bind(reason)
                    .bind(by)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                ExternalEntryEvent::ExternalEntryRefused { reason, at } => {
                    sqlx::query(
                        "UPDATE external_entries SET status = $2, reason = $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(ExternalStatus::Refused.as_str())
                    .bind(reason)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
            },
            _ => {
                let (kind, external, user_id, work, by, at) = match decode(event)? {
                    MappingEvent::ExternalUserMapped {
                        external,
                        user_id,
                        by,
                        at,
                    } => ("user", external, Some(user_id), None, by, at),
                    MappingEvent::ExternalMatterMapped {
                        external,
                        work,
                        by,
                        at,
                    } => ("matter", external, None, Some(work), by, at),
                };
                sqlx::query(
                    "INSERT INTO external_mappings (kind, external, user_id, project_id, task_id, service_item_id, \
                            updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (kind, external) DO UPDATE SET user_id = $3, project_id = $4, task_id = $5, \
                            service_item_id = $6, updated_by = $7, updated_at = $8",
                )
                .bind(kind)
                .bind(external)
                .bind(user_id)
                .bind(work.and_then(|w: WorkRef| w.project_id()))
                .bind(work.and_then(|w| w.task_id()))
                .bind(work.and_then(|w| w.service_item_id()))
                .bind(by)
                .bind(at)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

/// A row of `api_keys`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    /// The integration it stands for: keys of one integration share its external ids.
    pub integration_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

const KEY_COLUMNS: &str = "k.id, k.integration_id, k.name, k.scopes, k.expires_at, k.revoked_at, \
     k.created_by, k.created_at";

/// Every API key, newest first.
pub async fn api_keys(pool: &PgPool) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k ORDER BY k.created_at DESC, k.id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn api_key(pool: &PgPool, id: Uuid) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Whether a key stands for `integration_id`.
pub async fn integration_exists(pool: &PgPool, integration_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE integration_id = $1)")
        .bind(integration_id)
        .fetch_one(pool)
        .await
}

/// The key whose secret hashes to `secret_hash`, if it exists (its secret is on the write
/// side until it is revoked), is not revoked and has not expired at `now`.
pub async fn usable_key(
    pool: &PgPool,
    key_id: Uuid,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k JOIN api_key_secrets s ON s.key_id = k.id \
          WHERE k.id = $1 AND s.secret_hash = $2 AND k.revoked_at IS NULL AND k.expires_at > $3"
    ))
    .bind(key_id)
    .bind(secret_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// A row of `external_entries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExternalRow {
    pub id: Uuid,
    pub external_id: String,
    pub key_id: Option<Uuid>,
    pub user_ref: String,
    pub matter_ref: String,
    pub date: NaiveDate,
    pub minutes: i32,
    pub description: String,
    pub billable: bool,
    pub status: String,
    pub reason: Option<String>,
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub service_item_id: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const EXTERNAL_COLUMNS: &str = "id, external_id, key_id, user_ref, matter_ref, date, minutes, description, \
     billable, status, reason, user_id, project_id, task_id, service_item_id, decided_by, received_at, updated_at";

pub async fn external_entry(pool: &PgPool, id: Uuid) -> Result<Option<ExternalRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {EXTERNAL_COLUMNS} FROM external_entries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The review queue: unmapped and refused entries, oldest first, after `after` (the id of
/// the previous page's last entry).
pub async fn review_queue(
    pool: &PgPool,
    first: i64,
    after: Option<Uuid>,
) -> Result<Vec<ExternalRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {EXTERNAL_COLUMNS} FROM external_entries \
          WHERE status IN ('unmapped', 'refused') \
            AND ($2::uuid IS NULL OR (received_at, id) > \
                 (SELECT received_at, id FROM external_entries WHERE id = $2)) \
          ORDER BY received_at, id LIMIT $1"
    ))
    .bind(first)
    .bind(after)
    .fetch_all(pool)
    .await
}

/// A saved mapping.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MappingRow {
    pub kind: String,
    pub external: String,
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub service_item_id: Option<Uuid>,
    pub updated_by: Uuid,
    pub updated_at: DateTime<Utc>,
}

/// Every saved mapping, users first, then by external reference.
pub async fn mappings(pool: &PgPool) -> Result<Vec<MappingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, external, user_id, project_id, task_id, service_item_id, updated_by, updated_at \
           FROM external_mappings ORDER BY kind DESC, external",
    )
    .fetch_all(pool)
    .await
}

/// The saved mappings of these (normalized) user and matter references.
pub async fn mappings_of(
    pool: &PgPool,
    users: &[String],
    matters: &[String],
) -> Result<Vec<MappingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, external, user_id, project_id, task_id, service_item_id, updated_by, updated_at \
           FROM external_mappings \
          WHERE (kind = 'user' AND external = ANY($1)) OR (kind = 'matter' AND external = ANY($2))",
    )
    .bind(users)
    .bind(matters)
    .fetch_all(pool)
    .await
}

impl MappingRow {
    /// The matter a matter mapping names.
    pub fn work(&self) -> Option<WorkRef> {
        match (self.project_id, self.service_item_id) {
            (Some(project_id), _) => Some(WorkRef::Project {
                project_id,
                task_id: self.task_id,
            }),
            (None, Some(service_item_id)) => Some(WorkRef::Service { service_item_id }),
            (None, None) => None,
        }
    }
}
