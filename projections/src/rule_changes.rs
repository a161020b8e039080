//! The `rule_changes` read model: each rule change as it stands (`rule_changes`) and every
//! step of its review with who took it and why (`rule_change_steps`). Its diff against the
//! version it was drafted from is computed when asked (`domain::template::diff`), from the
//! stages kept here and the base kept in `template_versions`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::rule_change::{RuleChangeEvent, RuleChangeStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "rule_changes";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct RuleChangesProjection;

/// A few events per change: two statements each.
#[async_trait]
impl FoldEach for RuleChangesProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["rule_changes", "rule_change_steps"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["RuleChange"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        use RuleChangeEvent as E;
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let (step, by, at, comment) = match decode(event)? {
            E::RuleChangeDrafted {
                template_id,
                base_version,
                guidance_id,
                title,
                stages,
                by,
                at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO rule_changes (id, template_id, base_version, guidance_id, title, status, stages, \
                            author_id, drafted_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(template_id)
                .bind(i32::try_from(base_version).unwrap_or(i32::MAX))
                .bind(guidance_id)
                .bind(title)
                .bind(RuleChangeStatus::Draft.as_str())
                .bind(serde_json::to_value(stages).unwrap_or_default())
                .bind(by)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                ("drafted", by, at, None)
            }
            E::RuleChangeRevised { stages, by, at } => {
                sqlx::query("UPDATE rule_changes SET stages = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(serde_json::to_value(stages).unwrap_or_default())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                ("revised", by, at, None)
            }
            E::RuleChangeSubmitted { by, at } => {
                status(conn, id, RuleChangeStatus::Submitted, at).await?;
                ("submitted", by, at, None)
            }
            E::RuleChangeApproved { comment, by, at } => {
                status(conn, id, RuleChangeStatus::Approved, at).await?;
                ("approved", by, at, comment)
            }
            E::RuleChangeReturned { comments, by, at } => {
                status(conn, id, RuleChangeStatus::Returned, at).await?;
                ("returned", by, at, Some(comments))
            }
            E::RuleChangePublished {
                version,
                effective_on,
                by,
                at,
                ..
            } => {
                sqlx::query(
                    "UPDATE rule_changes SET status = $2, published_version = $3, effective_on = $4, \
                            published_by = $5, published_at = $6, updated_at = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(RuleChangeStatus::Published.as_str())
                .bind(i32::try_from(version).unwrap_or(i32::MAX))
                .bind(effective_on)
                .bind(by)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                ("published", by, at, None)
            }
        };
        sqlx::query(
            "INSERT INTO rule_change_steps (rule_change_id, sequence, step, by_user, at, comment) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(event.sequence)
        .bind(step)
        .bind(by)
        .bind(at)
        .bind(comment)
        .execute(conn)
        .await?;
        Ok(())
    }
}

async fn status(
    conn: &mut PgConnection,
    id: Uuid,
    status: RuleChangeStatus,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rule_changes SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// A row of `rule_changes`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleChangeRow {
    pub id: Uuid,
    pub template_id: Uuid,
    pub base_version: i32,
    pub guidance_id: Option<Uuid>,
    pub title: String,
    pub status: String,
    /// `Vec<StageSpec>` as JSON.
    pub stages: serde_json::Value,
    pub author_id: Uuid,
    pub drafted_at: DateTime<Utc>,
    pub published_version: Option<i32>,
    pub effective_on: Option<NaiveDate>,
    pub published_by: Option<Uuid>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, template_id, base_version, guidance_id, title, status, stages, author_id, drafted_at, \
     published_version, effective_on, published_by, published_at, updated_at";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<RuleChangeRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM rule_changes WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// What [`list`] selects by; `None` selects all.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleChangeFilter<'a> {
    pub template_id: Option<Uuid>,
    pub guidance_id: Option<Uuid>,
    pub status: Option<&'a str>,
}

/// Rule changes, most recently changed first.
pub async fn list(
    pool: &PgPool,
    filter: RuleChangeFilter<'_>,
    first: i64,
) -> Result<Vec<RuleChangeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM rule_changes \
          WHERE ($1::uuid IS NULL OR template_id = $1) AND ($2::uuid IS NULL OR guidance_id = $2) \
            AND ($3::text IS NULL OR status = $3) \
          ORDER BY updated_at DESC, id LIMIT $4"
    ))
    .bind(filter.template_id)
    .bind(filter.guidance_id)
    .bind(filter.status)
    .bind(first)
    .fetch_all(pool)
    .await
}

/// A step of a rule change's review.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub step: String,
    pub by_user: Uuid,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
}

/// The steps of rule change `id`, in order.
pub async fn steps(pool: &PgPool, id: Uuid) -> Result<Vec<StepRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT step, by_user, at, comment FROM rule_change_steps WHERE rule_change_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}
