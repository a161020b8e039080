//! Object types of the delivery engine: stages with their clocks, tasks, document requests
//! and uploads, the liaison log, milestones, stage-advance requests and notifications.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Permission;
use projections::notifications::NotificationRow;
use projections::projects::{
    AdvanceRow, AlertRow, ItemRow, LiaisonRow, MilestoneRow, ProposalRow, RequestRow, StageRow,
    TaskRow, UploadRow,
};
use uuid::Uuid;

use super::context::Ctx;
use super::types::{
    parse_persisted, Direction, ItemStatus, Priority, RequestStatus, Role, StageKey, TaskStatus,
    UploadState,
};
use crate::error::{ApiError, Code};

/// Basis points to a 0..1 fraction.
pub fn fraction(basis_points: i32) -> f64 {
    f64::from(basis_points) / f64::from(domain::project::rollup::FULL)
}

fn stage_key(name: &str) -> Option<StageKey> {
    parse_persisted::<domain::template::StageKey>(name).map(Into::into)
}

/// Internal-only fields answer `FORBIDDEN` to portal users.
pub fn require_internal(ctx: &Context<'_>) -> Result<(), ApiError> {
    let viewer = ctx.request().auth.viewer()?;
    if viewer.role.is_portal() {
        return Err(ApiError::new(
            Code::Forbidden,
            "this is internal to the firm's team",
        ));
    }
    Ok(())
}

/// A stage of a project, with its clock and checklist.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub struct ProjectStage {
    /// Which stage.
    pub key: Option<StageKey>,
    /// Service-level clock in days (none: no clock).
    pub sla_days: Option<i32>,
    /// Extension the template allows, once.
    pub sla_extension_days: Option<i32>,
    /// Extension granted.
    pub extended_days: Option<i32>,
    /// When the stage started (none: not reached yet).
    pub started_at: Option<DateTime<Utc>>,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Estimate-weighted progress of the stage's tasks, 0 to 1.
    pub progress: f64,
    /// Checklist.
    pub items: Vec<ChecklistItem>,
}

impl ProjectStage {
    /// Builds a stage from its row and items.
    pub fn new(row: StageRow, items: Vec<ChecklistItem>) -> Self {
        ProjectStage {
            key: stage_key(&row.stage),
            sla_days: row.sla_days,
            sla_extension_days: row.sla_extension_days,
            extended_days: row.extended_days,
            started_at: row.started_at,
            completed_at: row.completed_at,
            progress: fraction(row.progress),
            items,
        }
    }

    fn allowed_days(&self) -> Option<i64> {
        self.sla_days
            .map(|d| i64::from(d) + i64::from(self.extended_days.unwrap_or(0)))
    }

    /// Whole days from the start to completion, or to now.
    fn used_days(&self) -> Option<i64> {
        let end = self.completed_at.unwrap_or_else(Utc::now);
        Some((end - self.started_at?).num_days())
    }
}

#[ComplexObject]
impl ProjectStage {
    /// Whole days spent in the stage so far (or in all, once completed).
    async fn days_used(&self) -> Option<i64> {
        self.used_days()
    }
    /// Days left on the clock (negative: overdue); none without a clock or before the start.
    async fn days_left(&self) -> Option<i64> {
        Some(self.allowed_days()? - self.used_days()?)
    }
    /// The clock ran out before the stage completed.
    async fn breached(&self) -> bool {
        matches!((self.used_days(), self.allowed_days()), (Some(used), Some(allowed)) if used > allowed)
    }
}

/// A task or a subtask.
#[derive(Debug)]
pub struct Task {
    row: TaskRow,
    subtasks: Vec<TaskRow>,
}

impl Task {
    /// Builds the task tree from a project's rows (tasks in creation order).
    pub fn tree(rows: Vec<TaskRow>) -> Vec<Task> {
        let (tasks, subtasks): (Vec<TaskRow>, Vec<TaskRow>) =
            rows.into_iter().partition(|r| r.parent_id.is_none());
        tasks
            .into_iter()
            .map(|row| Task {
                subtasks: subtasks
                    .iter()
                    .filter(|s| s.parent_id == Some(row.id))
                    .cloned()
                    .collect(),
                row,
            })
            .collect()
    }
}

#[Object]
impl Task {
    async fn id(&self) -> Uuid {
        self.row.id
    }
    async fn project_id(&self) -> Uuid {
        self.row.project_id
    }
    /// The parent task, for subtasks.
    async fn parent_id(&self) -> Option<Uuid> {
        self.row.parent_id
    }
    async fn stage(&self) -> Option<StageKey> {
        self.row.stage.as_deref().and_then(stage_key)
    }
    async fn title(&self) -> &str {
        &self.row.title
    }
    async fn assignee_id(&self) -> Option<Uuid> {
        self.row.assignee
    }
    async fn priority(&self) -> Option<Priority> {
        parse_persisted::<domain::project::Priority>(&self.row.priority).map(Into::into)
    }
    async fn due_on(&self) -> Option<NaiveDate> {
        self.row.due_on
    }
    async fn estimate_hours(&self) -> Option<f64> {
        self.row.estimate_hours
    }
    /// For a task with subtasks, derived from them.
    async fn status(&self) -> Option<TaskStatus> {
        parse_persisted::<domain::project::TaskStatus>(&self.row.status).map(Into::into)
    }
    /// 0 to 1: the estimate-weighted share of completed subtasks (0 or 1 without subtasks).
    async fn progress(&self) -> f64 {
        fraction(self.row.progress)
    }
    async fn subtasks(&self) -> Vec<Task> {
        self.subtasks
            .iter()
            .cloned()
            .map(|row| Task {
                row,
                subtasks: Vec::new(),
            })
            .collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// A request for a document, raised on a checklist item.
#[derive(Debug)]
pub struct DocumentRequest(pub RequestRow);

#[Object]
impl DocumentRequest {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn project_id(&self) -> Uuid {
        self.0.project_id
    }
    async fn client_id(&self) -> Uuid {
        self.0.client_id
    }
    async fn stage(&self) -> Option<StageKey> {
        stage_key(&self.0.stage)
    }
    async fn item_key(&self) -> &str {
        &self.0.item_key
    }
    /// The checklist item's title.
    async fn item_title(&self) -> &str {
        &self.0.item_title
    }
    async fn instructions(&self) -> &str {
        &self.0.instructions
    }
    async fn due_on(&self) -> Option<NaiveDate> {
        self.0.due_on
    }
    async fn status(&self) -> Option<RequestStatus> {
        parse_persisted(&self.0.status)
    }
    async fn raised_at(&self) -> DateTime<Utc> {
        self.0.raised_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Uploads, newest version first, with their review state.
    async fn uploads(&self, ctx: &Context<'_>) -> Result<Vec<Upload>> {
        Ok(projections::projects::uploads(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(Upload)
            .collect())
    }
}

/// An uploaded file.
#[derive(Debug)]
pub struct Upload(pub UploadRow);

#[Object]
impl Upload {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn request_id(&self) -> Uuid {
        self.0.request_id
    }
    async fn project_id(&self) -> Uuid {
        self.0.project_id
    }
    /// 1 for the first upload of a request, then 2, 3, ...
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    async fn size_bytes(&self) -> i64 {
        self.0.size_bytes
    }
    async fn media_type(&self) -> &str {
        &self.0.media_type
    }
    /// Hex SHA-256 of the content.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn state(&self) -> Option<UploadState> {
        parse_persisted::<domain::project::UploadState>(&self.0.state).map(Into::into)
    }
    /// Why it was rejected.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.uploaded_at
    }
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
    /// Where to download it (with the same bearer token).
    async fn download_path(&self) -> String {
        format!("/files/uploads/{}", self.0.id)
    }
}

/// Correspondence with the regulator.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct LiaisonEntry {
    id: Uuid,
    date: NaiveDate,
    regulator: String,
    direction: Option<Direction>,
    summary: String,
    attachments: Vec<String>,
    recorded_by: Uuid,
    recorded_at: DateTime<Utc>,
}

impl From<LiaisonRow> for LiaisonEntry {
    fn from(row: LiaisonRow) -> Self {
        LiaisonEntry {
            direction: parse_persisted::<domain::project::Direction>(&row.direction)
                .map(Into::into),
            id: row.id,
            date: row.date,
            regulator: row.regulator,
            summary: row.summary,
            attachments: row.attachments,
            recorded_by: row.recorded_by,
            recorded_at: row.recorded_at,
        }
    }
}

/// A billing milestone.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct Milestone {
    id: Uuid,
    stage: Option<StageKey>,
    title: String,
    /// Amount in minor units (paise, cents).
    amount_minor: i64,
    currency: String,
    /// Billable once its stage completed.
    billable: bool,
    billable_at: Option<DateTime<Utc>>,
}

impl From<MilestoneRow> for Milestone {
    fn from(row: MilestoneRow) -> Self {
        Milestone {
            stage: stage_key(&row.stage),
            id: row.id,
            title: row.title,
            amount_minor: row.amount_minor,
            currency: row.currency,
            billable: row.billable_at.is_some(),
            billable_at: row.billable_at,
        }
    }
}

/// Read-model rows as GraphQL objects.
pub fn objects<R, N: From<R>>(rows: Result<Vec<R>, sqlx::Error>) -> Result<Vec<N>, ApiError> {
    Ok(rows?.into_iter().map(N::from).collect())
}

/// A request to move a project to its next stage.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct StageAdvance {
    id: Uuid,
    project_id: Uuid,
    from: Option<StageKey>,
    /// None: completing the last stage.
    to: Option<StageKey>,
    requested_by: Uuid,
    requested_at: DateTime<Utc>,
    /// pending, approved or refused.
    decision: String,
    decided_by: Option<Uuid>,
    decided_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl From<AdvanceRow> for StageAdvance {
    fn from(row: AdvanceRow) -> Self {
        StageAdvance {
            from: stage_key(&row.from_stage),
            to: row.to_stage.as_deref().and_then(stage_key),
            id: row.id,
            project_id: row.project_id,
            requested_by: row.requested_by,
            requested_at: row.requested_at,
            decision: row.decision,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            reason: row.reason,
        }
    }
}

/// A change to a project closed pending updates, held until someone else decides it.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct ChangeProposal {
    project_id: Uuid,
    /// Number on the project (pass it to `approveProjectChange` / `refuseProjectChange`).
    number: i64,
    /// liaison_entry or licence.
    kind: String,
    /// What the change does, in one line.
    summary: String,
    proposed_by: Uuid,
    proposed_at: DateTime<Utc>,
    /// pending, approved or refused.
    decision: String,
    decided_by: Option<Uuid>,
    decided_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl From<ProposalRow> for ChangeProposal {
    fn from(row: ProposalRow) -> Self {
        ChangeProposal {
            project_id: row.project_id,
            number: row.number,
            kind: row.kind,
            summary: row.summary,
            proposed_by: row.proposed_by,
            proposed_at: row.proposed_at,
            decision: row.decision,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            reason: row.reason,
        }
    }
}

/// The granted licence or registration.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct Licence {
    /// Number.
    pub number: String,
    /// Issued.
    pub issued_on: NaiveDate,
    /// Expires.
    pub expires_on: NaiveDate,
}

/// An expiry alert.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct ExpiryAlert {
    days_ahead: i32,
    expires_on: NaiveDate,
    raised_at: DateTime<Utc>,
}

impl From<AlertRow> for ExpiryAlert {
    fn from(row: AlertRow) -> Self {
        ExpiryAlert {
            days_ahead: row.days_ahead,
            expires_on: row.expires_on,
            raised_at: row.raised_at,
        }
    }
}

/// An in-app notification.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct Notification {
    id: Uuid,
    /// request_raised, upload_received, upload_reviewed, stage_advanced, task_assigned,
    /// licence_expiry.
    kind: String,
    title: String,
    body: String,
    project_id: Option<Uuid>,
    /// The request or task concerned.
    subject_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    read: bool,
    read_at: Option<DateTime<Utc>>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Notification {
            id: row.id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            project_id: row.project_id,
            subject_id: row.subject_id,
            created_at: row.created_at,
            read: row.read_at.is_some(),
            read_at: row.read_at,
        }
    }
}

/// Loads a document request the viewer may see (portal users: their own client's).
pub async fn visible_request(ctx: &Context<'_>, id: Uuid) -> Result<Option<RequestRow>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
    Ok(projections::projects::request(&ctx.state().pool, id)
        .await?
        .filter(|r| viewer.sees_client(r.client_id)))
}

/// A checklist item of a project stage.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct ChecklistItem {
    key: String,
    title: String,
    mandatory: bool,
    evidence_required: bool,
    responsible_role: Option<Role>,
    status: Option<ItemStatus>,
    /// Why it was rejected or waived.
    reason: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

impl From<ItemRow> for ChecklistItem {
    fn from(row: ItemRow) -> Self {
        ChecklistItem {
            responsible_role: domain::Role::parse(&row.responsible_role).map(Into::into),
            status: parse_persisted::<domain::project::ItemStatus>(&row.status).map(Into::into),
            key: row.key,
            title: row.title,
            mandatory: row.mandatory,
            evidence_required: row.evidence_required,
            reason: row.reason,
            updated_at: row.updated_at,
        }
    }
}
