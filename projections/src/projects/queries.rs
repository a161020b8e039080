//! Queries on the `projects` read model.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;

use crate::page::{self, Cursor, Page, Sort};

/// A row of `project_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub template_id: Uuid,
    pub family: String,
    /// Pinned version.
    pub template_version: i32,
    pub status: String,
    pub current_stage: String,
    /// Since when.
    pub stage_started_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Progress in basis points.
    pub progress: i32,
    /// Every stage complete.
    pub stages_complete: bool,
    /// Tasks complete by themselves.
    pub auto_complete_tasks: bool,
    pub licence_number: Option<String>,
    pub licence_issued_on: Option<NaiveDate>,
    /// Licence expiry.
    pub licence_expires_on: Option<NaiveDate>,
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
    /// Allowed extension.
    pub sla_extension_days: Option<i32>,
    /// Granted extension.
    pub extended_days: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Progress of the stage's tasks in basis points.
    pub progress: i32,
}

/// A checklist item.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    /// Stage key.
    pub stage: String,
    /// Item key.
    pub key: String,
    pub title: String,
    pub mandatory: bool,
    /// Needs evidence.
    pub evidence_required: bool,
    pub responsible_role: String,
    pub status: String,
    /// Rejection or waiver reason.
    pub reason: Option<String>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
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
    Name,
}

const COLUMNS: &str =
    "id, client_id, name, template_id, family, template_version, status, current_stage, \
     stage_started_at, created_at, updated_at, progress, stages_complete, auto_complete_tasks, licence_number, \
     licence_issued_on, licence_expires_on";

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
    page::fetch(
        pool,
        "project_view",
        COLUMNS,
        |qb| push_filter(qb, filter),
        sort,
        first,
        after,
    )
    .await
}

/// How many projects match.
pub async fn count(pool: &PgPool, filter: &ProjectFilter) -> Result<i64, sqlx::Error> {
    page::count(pool, "project_view", |qb| push_filter(qb, filter)).await
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
    sqlx::query_as(
        "SELECT s.stage, s.position, s.sla_days, s.sla_extension_days, s.extended_days, s.started_at, \
                s.completed_at, coalesce(p.progress, 0) AS progress \
           FROM project_stages s \
           LEFT JOIN LATERAL ( \
                SELECT round(sum(coalesce(t.estimate_hours, 1) * t.progress) \
                             / sum(coalesce(t.estimate_hours, 1)))::int AS progress \
                  FROM project_tasks t \
                 WHERE t.project_id = s.project_id AND t.parent_id IS NULL AND t.stage = s.stage) p ON true \
          WHERE s.project_id = $1 ORDER BY s.position",
    )
        .bind(project_id)
        .fetch_all(pool)
        .await
}

/// Checklist items of a project, by stage and position.
pub async fn items(pool: &PgPool, project_id: Uuid) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.stage, i.key, i.title, i.mandatory, i.evidence_required, i.responsible_role, i.status, \
                i.reason, i.updated_at \
           FROM project_checklist_items i JOIN project_stages s USING (project_id, stage) \
          WHERE i.project_id = $1 ORDER BY s.position, i.position",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// A stage-advance request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdvanceRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub from_stage: String,
    /// To (none: completing the last stage).
    pub to_stage: Option<String>,
    /// Requester.
    pub requested_by: Uuid,
    pub requested_at: DateTime<Utc>,
    /// pending, approved, refused.
    pub decision: String,
    /// Decider.
    pub decided_by: Option<Uuid>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

const ADVANCE_COLUMNS: &str = "id, project_id, from_stage, to_stage, requested_by, requested_at, \
     decision, decided_by, decided_at, reason";

/// Advance requests of a project, oldest first.
pub async fn advances(pool: &PgPool, project_id: Uuid) -> Result<Vec<AdvanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADVANCE_COLUMNS} FROM project_advance_requests WHERE project_id = $1 ORDER BY requested_at, id"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// Every advance waiting for approval, oldest first.
pub async fn pending_advances(pool: &PgPool, limit: i64) -> Result<Vec<AdvanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADVANCE_COLUMNS} FROM project_advance_requests WHERE decision = 'pending' \
          ORDER BY requested_at, id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A change proposed while the project was closed pending updates.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProposalRow {
    pub project_id: Uuid,
    /// Number on the project.
    pub number: i64,
    /// liaison_entry or licence.
    pub kind: String,
    /// One-line description.
    pub summary: String,
    /// Proposer.
    pub proposed_by: Uuid,
    pub proposed_at: DateTime<Utc>,
    /// pending, approved, refused.
    pub decision: String,
    /// Decider.
    pub decided_by: Option<Uuid>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

const PROPOSAL_COLUMNS: &str = "project_id, number, kind, summary, proposed_by, proposed_at, \
     decision, decided_by, decided_at, reason";

/// Change proposals of a project, oldest first.
pub async fn proposals(pool: &PgPool, project_id: Uuid) -> Result<Vec<ProposalRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROPOSAL_COLUMNS} FROM project_change_proposals WHERE project_id = $1 ORDER BY number"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// Every change proposal waiting for a decision, oldest first.
pub async fn pending_proposals(pool: &PgPool, limit: i64) -> Result<Vec<ProposalRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROPOSAL_COLUMNS} FROM project_change_proposals WHERE decision = 'pending' \
          ORDER BY proposed_at, project_id, number LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A liaison log entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiaisonRow {
    pub id: Uuid,
    pub date: NaiveDate,
    pub regulator: String,
    /// inbound or outbound.
    pub direction: String,
    pub summary: String,
    /// Attachment references.
    pub attachments: Vec<String>,
    /// Who recorded it.
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// The liaison log, newest first.
pub async fn liaison(pool: &PgPool, project_id: Uuid) -> Result<Vec<LiaisonRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, date, regulator, direction, summary, attachments, recorded_by, recorded_at \
           FROM project_liaison_entries WHERE project_id = $1 ORDER BY date DESC, recorded_at DESC",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// A billing milestone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MilestoneRow {
    pub id: Uuid,
    pub stage: String,
    pub title: String,
    /// Minor units.
    pub amount_minor: i64,
    pub currency: String,
    /// When it became billable.
    pub billable_at: Option<DateTime<Utc>>,
}

/// Milestones of a project.
pub async fn milestones(pool: &PgPool, project_id: Uuid) -> Result<Vec<MilestoneRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, stage, title, amount_minor, currency, billable_at FROM project_milestones \
          WHERE project_id = $1 ORDER BY created_at, id",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// A raised expiry alert.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    /// 90, 60, 30.
    pub days_ahead: i32,
    /// Expiry.
    pub expires_on: NaiveDate,
    pub raised_at: DateTime<Utc>,
}

/// Expiry alerts of a project.
pub async fn alerts(pool: &PgPool, project_id: Uuid) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT days_ahead, expires_on, raised_at FROM project_alerts WHERE project_id = $1 ORDER BY raised_at",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// A task or subtask.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub project_id: Uuid,
    /// Parent task (subtasks).
    pub parent_id: Option<Uuid>,
    pub stage: Option<String>,
    pub title: String,
    pub assignee: Option<Uuid>,
    pub priority: String,
    pub due_on: Option<NaiveDate>,
    pub estimate_hours: Option<f64>,
    pub status: String,
    /// Progress in basis points.
    pub progress: i32,
    pub created_at: DateTime<Utc>,
    /// Changed.
    pub updated_at: DateTime<Utc>,
}

const TASK_COLUMNS: &str = "id, project_id, parent_id, stage, title, assignee, priority, due_on, \
     estimate_hours, status, progress, created_at, updated_at";

/// Tasks and subtasks of a project, in creation order.
pub async fn tasks(pool: &PgPool, project_id: Uuid) -> Result<Vec<TaskRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TASK_COLUMNS} FROM project_tasks WHERE project_id = $1 ORDER BY position"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// Open tasks and subtasks assigned to `user_id`, most urgent due date first.
pub async fn assigned_to(pool: &PgPool, user_id: Uuid) -> Result<Vec<TaskRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TASK_COLUMNS} FROM project_tasks WHERE assignee = $1 AND status <> $2 \
          ORDER BY due_on NULLS LAST, position LIMIT 500"
    ))
    .bind(user_id)
    .bind(domain::project::TaskStatus::Completed.as_str())
    .fetch_all(pool)
    .await
}

/// A document request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub client_id: Uuid,
    pub stage: String,
    pub item_key: String,
    pub item_title: String,
    pub instructions: String,
    pub due_on: Option<NaiveDate>,
    /// open, submitted, accepted, rejected.
    pub status: String,
    pub raised_by: Uuid,
    pub raised_at: DateTime<Utc>,
    /// Changed.
    pub updated_at: DateTime<Utc>,
}

const REQUEST_COLUMNS: &str =
    "id, project_id, client_id, stage, item_key, item_title, instructions, \
     due_on, status, raised_by, raised_at, updated_at";

/// Filters of the document request list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Of this client (portal users: always their own).
    pub client_id: Option<Uuid>,
    /// Of this project.
    pub project_id: Option<Uuid>,
    /// With these statuses.
    pub statuses: Vec<String>,
}

/// Document requests, newest first (at most 500).
pub async fn requests(
    pool: &PgPool,
    filter: &RequestFilter,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {REQUEST_COLUMNS} FROM document_requests WHERE true"
    ));
    if let Some(client) = filter.client_id {
        qb.push(" AND client_id = ").push_bind(client);
    }
    if let Some(project) = filter.project_id {
        qb.push(" AND project_id = ").push_bind(project);
    }
    if !filter.statuses.is_empty() {
        qb.push(" AND status = ANY(")
            .push_bind(filter.statuses.clone())
            .push(")");
    }
    qb.push(" ORDER BY raised_at DESC, id DESC LIMIT 500");
    qb.build_query_as().fetch_all(pool).await
}

/// One document request.
pub async fn request(pool: &PgPool, id: Uuid) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REQUEST_COLUMNS} FROM document_requests WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: Uuid,
    pub request_id: Uuid,
    pub project_id: Uuid,
    pub client_id: Uuid,
    /// 1, 2, ...
    pub version: i32,
    pub file_name: String,
    pub size_bytes: i64,
    pub media_type: String,
    /// SHA-256.
    pub sha256: String,
    /// Object key.
    pub storage_key: String,
    /// submitted, accepted, rejected.
    pub state: String,
    /// Rejection reason.
    pub reason: Option<String>,
    /// Uploader.
    pub uploaded_by: Uuid,
    pub uploaded_at: DateTime<Utc>,
    /// Reviewer.
    pub reviewed_by: Option<Uuid>,
    /// When reviewed.
    pub reviewed_at: Option<DateTime<Utc>>,
}

const UPLOAD_COLUMNS: &str = "id, request_id, project_id, client_id, version, file_name, size_bytes, \
     media_type, sha256, storage_key, state, reason, uploaded_by, uploaded_at, reviewed_by, reviewed_at";

/// Uploads of a request, newest version first.
pub async fn uploads(pool: &PgPool, request_id: Uuid) -> Result<Vec<UploadRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM document_uploads WHERE request_id = $1 ORDER BY version DESC"
    ))
    .bind(request_id)
    .fetch_all(pool)
    .await
}

/// One upload.
pub async fn upload(pool: &PgPool, id: Uuid) -> Result<Option<UploadRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM document_uploads WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The internal review queue: uploads awaiting review, oldest first.
pub async fn review_queue(pool: &PgPool, limit: i64) -> Result<Vec<UploadRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM document_uploads WHERE state = $2 ORDER BY uploaded_at, id LIMIT $1"
    ))
    .bind(limit)
    .bind(domain::project::UploadState::Submitted.as_str())
    .fetch_all(pool)
    .await
}
