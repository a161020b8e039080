//! The `guidance` read model: `guidance_view`, the templates the latest assessment of each
//! item touches (`guidance_impacts`) and its source documents (`guidance_documents`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::guidance::{GuidanceEvent, GuidanceStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "guidance";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct GuidanceProjection;

/// A few events per item: one or two statements each.
#[async_trait]
impl FoldEach for GuidanceProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] =
        &["guidance_view", "guidance_impacts", "guidance_documents"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["Guidance"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        match decode(event)? {
            GuidanceEvent::GuidanceRecorded {
                regulator,
                circular_ref,
                title,
                issued_on,
                effective_on,
                summary,
                families,
                by,
                at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO guidance_view (id, regulator, circular_ref, title, issued_on, effective_on, summary, \
                            families, status, recorded_by, recorded_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(regulator)
                .bind(circular_ref)
                .bind(title)
                .bind(issued_on)
                .bind(effective_on)
                .bind(summary)
                .bind(families)
                .bind(GuidanceStatus::New.as_str())
                .bind(by)
                .bind(at)
                .execute(conn)
                .await?;
            }
            GuidanceEvent::GuidanceAssessed {
                impacts,
                severity,
                narrative,
                by,
                at,
            } => {
                let stages: Vec<String> = impacts
                    .iter()
                    .map(|i| {
                        let names: Vec<&str> = i.stages.iter().map(|s| s.as_str()).collect();
                        format!("{{{}}}", names.join(","))
                    })
                    .collect();
                let items: Vec<String> = impacts
                    .iter()
                    .map(|i| serde_json::to_string(&i.items).unwrap_or_else(|_| "[]".into()))
                    .collect();
                sqlx::query(
                    "WITH gone AS (DELETE FROM guidance_impacts WHERE guidance_id = $1), \
                          kept AS (UPDATE guidance_view SET status = $2, severity = $3, narrative = $4, \
                                          assessed_by = $5, assessed_at = $6, updated_at = $6 WHERE id = $1) \
                     INSERT INTO guidance_impacts (guidance_id, template_id, stages, items) \
                     SELECT $1, t, s::text[], ARRAY(SELECT jsonb_array_elements_text(i::jsonb)) \
                       FROM UNNEST($7::uuid[], $8::text[], $9::text[]) AS x(t, s, i) \
                     ON CONFLICT (guidance_id, template_id) DO UPDATE SET stages = EXCLUDED.stages, items = EXCLUDED.items",
                )
                .bind(id)
                .bind(GuidanceStatus::Assessed.as_str())
                .bind(severity.as_str())
                .bind(narrative)
                .bind(by)
                .bind(at)
                .bind(impacts.iter().map(|i| i.template_id).collect::<Vec<_>>())
                .bind(stages)
                .bind(items)
                .execute(conn)
                .await?;
            }
            GuidanceEvent::GuidanceDocumentAttached {
                document_id,
                file,
                by,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO guidance_documents (id, guidance_id, file_name, size_bytes, media_type, sha256, \
                            storage_key, attached_by, attached_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                )
                .bind(document_id)
                .bind(id)
                .bind(file.name)
                .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
                .bind(file.media_type)
                .bind(file.sha256)
                .bind(file.storage_key)
                .bind(by)
                .bind(at)
                .execute(conn)
                .await?;
            }
            GuidanceEvent::GuidanceActioned { at, .. } => {
                sqlx::query("UPDATE guidance_view SET status = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(GuidanceStatus::Actioned.as_str())
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            GuidanceEvent::GuidanceClosedWithoutAction { reason, at, .. } => {
                sqlx::query(
                    "UPDATE guidance_view SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(GuidanceStatus::NoAction.as_str())
                .bind(reason)
                .bind(at)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

/// A row of `guidance_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GuidanceRow {
    pub id: Uuid,
    pub regulator: String,
    pub circular_ref: String,
    pub title: String,
    pub issued_on: NaiveDate,
    pub effective_on: Option<NaiveDate>,
    pub summary: String,
    pub families: Vec<String>,
    pub status: String,
    pub severity: Option<String>,
    pub narrative: Option<String>,
    pub status_reason: Option<String>,
    pub assessed_by: Option<Uuid>,
    pub assessed_at: Option<DateTime<Utc>>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, regulator, circular_ref, title, issued_on, effective_on, summary, families, \
     status, severity, narrative, status_reason, assessed_by, assessed_at, recorded_by, recorded_at, updated_at";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<GuidanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guidance_view WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Guidance, newest issued first, optionally of one regulator and status.
pub async fn list(
    pool: &PgPool,
    regulator: Option<&str>,
    status: Option<&str>,
    first: i64,
) -> Result<Vec<GuidanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guidance_view \
          WHERE ($1::text IS NULL OR regulator = $1) AND ($2::text IS NULL OR status = $2) \
          ORDER BY issued_on DESC, id LIMIT $3"
    ))
    .bind(regulator)
    .bind(status)
    .bind(first)
    .fetch_all(pool)
    .await
}

/// A template an assessment touches.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImpactRow {
    pub template_id: Uuid,
    pub stages: Vec<String>,
    pub items: Vec<String>,
}

pub async fn impacts(pool: &PgPool, guidance_id: Uuid) -> Result<Vec<ImpactRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT template_id, stages, items FROM guidance_impacts WHERE guidance_id = $1 ORDER BY template_id",
    )
    .bind(guidance_id)
    .fetch_all(pool)
    .await
}

/// A project's owners, for a query over `project_view p`: the assignees of its open tasks
/// and whoever opened it (the actor of its first event), without duplicates, in id order.
/// The project has no owner field; these are who works it.
pub const OWNERS: &str = "ARRAY( \
        SELECT t.assignee FROM project_tasks t \
         WHERE t.project_id = p.id AND t.assignee IS NOT NULL AND t.status <> 'completed' \
        UNION \
        SELECT (e.metadata->>'actor_id')::uuid FROM events e \
         WHERE e.aggregate_type = 'Project' AND e.aggregate_id = p.id::text AND e.sequence = 1 \
           AND e.metadata->>'actor_id' <> 'system' \
        ORDER BY 1)";

/// A project running on a template an item touches.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImpactedProjectRow {
    pub project_id: Uuid,
    pub name: String,
    pub client_id: Uuid,
    pub client_name: String,
    pub template_id: Uuid,
    pub template_version: i32,
    pub status: String,
    pub current_stage: String,
    /// Who works it ([`OWNERS`]).
    pub owners: Vec<Uuid>,
}

/// What an [`ImpactedProjectRow`] selects, over `project_view p` and `client_view c`.
const PROJECT_COLUMNS: &str =
    "p.id AS project_id, p.name, p.client_id, COALESCE(c.name, '') AS client_name, \
     p.template_id, p.template_version, p.status, p.current_stage";

/// The projects not closed on the templates guidance `guidance_id`'s latest assessment
/// touches, by template, version and name.
pub async fn impacted_projects(
    pool: &PgPool,
    guidance_id: Uuid,
) -> Result<Vec<ImpactedProjectRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS}, {OWNERS} AS owners \
           FROM guidance_impacts i JOIN project_view p ON p.template_id = i.template_id \
           LEFT JOIN client_view c ON c.id = p.client_id \
          WHERE i.guidance_id = $1 AND p.status IN ('active', 'on_hold') \
          ORDER BY p.template_id, p.template_version, p.name, p.id"
    ))
    .bind(guidance_id)
    .fetch_all(pool)
    .await
}

/// Every project on template `template_id`, whatever its status or version, by name.
pub async fn projects_on_template(
    pool: &PgPool,
    template_id: Uuid,
) -> Result<Vec<ImpactedProjectRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS}, {OWNERS} AS owners \
           FROM project_view p LEFT JOIN client_view c ON c.id = p.client_id \
          WHERE p.template_id = $1 ORDER BY p.name, p.id"
    ))
    .bind(template_id)
    .fetch_all(pool)
    .await
}

/// A source document of a guidance item.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub id: Uuid,
    pub guidance_id: Uuid,
    pub file_name: String,
    pub size_bytes: i64,
    pub media_type: String,
    pub sha256: String,
    pub storage_key: String,
    pub attached_by: Uuid,
    pub attached_at: DateTime<Utc>,
}

const DOCUMENT_COLUMNS: &str =
    "id, guidance_id, file_name, size_bytes, media_type, sha256, storage_key, attached_by, attached_at";

/// The source documents of guidance `guidance_id`, in the order attached.
pub async fn documents(pool: &PgPool, guidance_id: Uuid) -> Result<Vec<DocumentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM guidance_documents WHERE guidance_id = $1 ORDER BY attached_at, id"
    ))
    .bind(guidance_id)
    .fetch_all(pool)
    .await
}

/// One source document.
pub async fn document(pool: &PgPool, id: Uuid) -> Result<Option<DocumentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM guidance_documents WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}
