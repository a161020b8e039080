//! The `projects` read model: `project_view`, `project_stages`, `project_checklist_items`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::project::ProjectEvent;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use uuid::Uuid;

use crate::notices::notify_change;
use crate::page::{self, Cursor, Page, Sort};
use crate::runner::{decode, Projection, ProjectionError};
use crate::StoredEvent;

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct ProjectsProjection;

#[async_trait]
impl Projection for ProjectsProjection {
    fn name(&self) -> &'static str {
        "projects"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["project_view", "project_stages", "project_checklist_items"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
        live: bool,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let ProjectEvent::ProjectCreated {
            client_id,
            name,
            template,
            stages,
            at,
            ..
        } = decode(event)?;
        let inserted = sqlx::query(
            "INSERT INTO project_view (id, client_id, name, template_id, family, template_version, status, \
                    current_stage, stage_started_at, created_at, updated_at, last_sequence) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', 'onboarding', $7, $7, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(client_id)
        .bind(name)
        .bind(template.template_id)
        .bind(&template.family)
        .bind(i32::try_from(template.version).unwrap_or(i32::MAX))
        .bind(at)
        .bind(event.sequence)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(());
        }
        for (position, stage) in (0i32..).zip(&stages) {
            sqlx::query("INSERT INTO project_stages (project_id, stage, position, sla_days) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(stage.stage.as_str())
                .bind(position)
                .bind(stage.sla_days.and_then(|d| i32::try_from(d).ok()))
                .execute(&mut *conn)
                .await?;
            for (item_position, item) in (0i32..).zip(&stage.items) {
                sqlx::query(
                    "INSERT INTO project_checklist_items (project_id, stage, key, position, title, mandatory, \
                            evidence_required, responsible_role, status) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')",
                )
                .bind(id)
                .bind(stage.stage.as_str())
                .bind(&item.key)
                .bind(item_position)
                .bind(&item.title)
                .bind(item.mandatory)
                .bind(item.evidence_required)
                .bind(item.responsible_role.as_str())
                .execute(&mut *conn)
                .await?;
            }
        }
        if live {
            notify_change(conn, "project", id, Some(client_id)).await?;
        }
        Ok(())
    }
}

/// A row of `project_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    /// Id.
    pub id: Uuid,
    /// Client.
    pub client_id: Uuid,
    /// Name.
    pub name: String,
    /// Template.
    pub template_id: Uuid,
    /// Family.
    pub family: String,
    /// Pinned version.
    pub template_version: i32,
    /// Status.
    pub status: String,
    /// Current stage.
    pub current_stage: String,
    /// Since when.
    pub stage_started_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Cursor value.
    pub sort_value: String,
}

/// A stage of a project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageRow {
    /// Stage key.
    pub stage: String,
    /// Order.
    pub position: i32,
    /// Clock.
    pub sla_days: Option<i32>,
}

/// A checklist item.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    /// Stage key.
    pub stage: String,
    /// Item key.
    pub key: String,
    /// Title.
    pub title: String,
    /// Mandatory.
    pub mandatory: bool,
    /// Needs evidence.
    pub evidence_required: bool,
    /// Responsible role.
    pub responsible_role: String,
    /// Status.
    pub status: String,
}

/// Filters of the project list.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// Of this client (portal users: always their own).
    pub client_id: Option<Uuid>,
    /// With this status.
    pub status: Option<String>,
    /// Of this family.
    pub family: Option<String>,
    /// Text in the name.
    pub search: Option<String>,
}

/// Sortable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectSortField {
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Name.
    Name,
}

const COLUMNS: &str =
    "id, client_id, name, template_id, family, template_version, status, current_stage, \
     stage_started_at, created_at, updated_at";

fn push_filter(qb: &mut QueryBuilder<'_, sqlx::Postgres>, filter: &ProjectFilter) {
    qb.push(" WHERE true");
    if let Some(client) = filter.client_id {
        qb.push(" AND client_id = ").push_bind(client);
    }
    if let Some(status) = &filter.status {
        qb.push(" AND status = ").push_bind(status.clone());
    }
    if let Some(family) = &filter.family {
        qb.push(" AND family = ").push_bind(family.to_uppercase());
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        qb.push(" AND name ILIKE ")
            .push_bind(page::like_pattern(search));
    }
}

/// One page of projects.
pub async fn list(
    pool: &PgPool,
    filter: &ProjectFilter,
    sort: ProjectSortField,
    descending: bool,
    first: i64,
    after: Option<&Cursor>,
) -> Result<Page<ProjectRow>, sqlx::Error> {
    let (expr, cast) = match sort {
        ProjectSortField::CreatedAt => ("created_at", "timestamptz"),
        ProjectSortField::UpdatedAt => ("updated_at", "timestamptz"),
        ProjectSortField::Name => ("lower(name)", "text"),
    };
    let sort = Sort {
        expr,
        cast,
        descending,
    };
    let mut qb = QueryBuilder::new(format!(
        "SELECT {COLUMNS}, ({expr})::text AS sort_value FROM project_view"
    ));
    push_filter(&mut qb, filter);
    page::push_after(&mut qb, sort, after);
    page::push_order(&mut qb, sort, first);
    Ok(page::finish(
        qb.build_query_as().fetch_all(pool).await?,
        first,
    ))
}

/// How many projects match.
pub async fn count(pool: &PgPool, filter: &ProjectFilter) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM project_view");
    push_filter(&mut qb, filter);
    qb.build_query_scalar().fetch_one(pool).await
}

/// One project.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, '' AS sort_value FROM project_view WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Stages of a project in order.
pub async fn stages(pool: &PgPool, project_id: Uuid) -> Result<Vec<StageRow>, sqlx::Error> {
    sqlx::query_as("SELECT stage, position, sla_days FROM project_stages WHERE project_id = $1 ORDER BY position")
        .bind(project_id)
        .fetch_all(pool)
        .await
}

/// Checklist items of a project, by stage and position.
pub async fn items(pool: &PgPool, project_id: Uuid) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.stage, i.key, i.title, i.mandatory, i.evidence_required, i.responsible_role, i.status \
           FROM project_checklist_items i JOIN project_stages s USING (project_id, stage) \
          WHERE i.project_id = $1 ORDER BY s.position, i.position",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await
}
