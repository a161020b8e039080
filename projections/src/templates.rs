//! The `templates` read model: `template_view`, the latest version of each template, and
//! `template_versions`, every published version.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::template::TemplateEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "templates";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct TemplatesProjection;

/// A few events per stream: two statements each.
#[async_trait]
impl FoldEach for TemplatesProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["template_view", "template_versions"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["WorkflowTemplate"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let TemplateEvent::TemplateVersionPublished {
            family,
            name,
            version,
            stages,
            rule_change_id,
            effective_on,
            at,
            ..
        } = decode(event)?;
        let stages = serde_json::to_value(stages).unwrap_or_default();
        sqlx::query(
            "INSERT INTO template_view (id, family, name, latest_version, stages, published_at, last_sequence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET family = $2, name = $3, latest_version = $4, stages = $5, \
                    published_at = $6, last_sequence = $7 \
              WHERE template_view.last_sequence < $7",
        )
        .bind(id)
        .bind(family)
        .bind(name)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .bind(&stages)
        .bind(at)
        .bind(event.sequence)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO template_versions (template_id, version, stages, published_at, rule_change_id, effective_on) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (template_id, version) DO NOTHING",
        )
        .bind(id)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .bind(&stages)
        .bind(at)
        .bind(rule_change_id)
        .bind(effective_on)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A row of `template_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: Uuid,
    /// Family code.
    pub family: String,
    pub name: String,
    pub latest_version: i32,
    /// Stages of the latest version (`Vec<StageSpec>` as JSON).
    pub stages: serde_json::Value,
    pub published_at: DateTime<Utc>,
}

/// Every template, by family.
pub async fn all(pool: &PgPool) -> Result<Vec<TemplateRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, family, name, latest_version, stages, published_at FROM template_view ORDER BY family, name")
        .fetch_all(pool)
        .await
}

/// One published version of a template.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i32,
    /// `Vec<StageSpec>` as JSON.
    pub stages: serde_json::Value,
    pub published_at: DateTime<Utc>,
    pub rule_change_id: Option<Uuid>,
    pub effective_on: Option<chrono::NaiveDate>,
}

/// Every published version of a template, oldest first.
pub async fn versions(pool: &PgPool, template_id: Uuid) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, stages, published_at, rule_change_id, effective_on FROM template_versions \
          WHERE template_id = $1 ORDER BY version",
    )
    .bind(template_id)
    .fetch_all(pool)
    .await
}

/// One published version of a template.
pub async fn version(
    pool: &PgPool,
    template_id: Uuid,
    version: i32,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, stages, published_at, rule_change_id, effective_on FROM template_versions \
          WHERE template_id = $1 AND version = $2",
    )
    .bind(template_id)
    .bind(version)
    .fetch_optional(pool)
    .await
}
