//! Project commands. Ids and instants come from the caller; the actor is who asks.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::event::{Direction, FileMeta};
use super::rollup::TaskStatus;
use super::{Priority, ProjectStatus, TemplateRef};
use crate::template::{StageKey, StageSpec};
use crate::Role;

/// Who issues a command (rules such as maker-checker depend on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// User id.
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
}

/// A new task.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Id.
    pub task_id: Uuid,
    /// Stage it belongs to.
    pub stage: Option<StageKey>,
    /// Title.
    pub title: String,
    /// Assignee.
    pub assignee: Option<Uuid>,
    /// Priority.
    pub priority: Priority,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Estimate in hours.
    pub estimate_hours: Option<f64>,
}

/// A liaison log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLiaisonEntry {
    /// Id.
    pub entry_id: Uuid,
    /// Date of the correspondence.
    pub date: NaiveDate,
    /// Regulator.
    pub regulator: String,
    /// Direction.
    pub direction: Direction,
    /// Summary.
    pub summary: String,
    /// Attachment references.
    pub attachments: Vec<String>,
}

/// Project commands.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectCommand {
    /// Create a project from a template version.
    Create {
        /// Id.
        project_id: Uuid,
        /// Client.
        client_id: Uuid,
        /// Name.
        name: String,
        /// Template version.
        template: TemplateRef,
        /// That version's stages.
        stages: Vec<StageSpec>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Rename.
    Rename {
        /// New name.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Change the status.
    SetStatus {
        /// New status.
        status: ProjectStatus,
        /// Why.
        reason: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Whether tasks complete by themselves when all their subtasks are completed.
    SetTaskPolicy {
        /// Complete instead of review.
        auto_complete: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Verify an item (items without required evidence; evidence is verified by review).
    VerifyItem {
        /// Stage.
        stage: StageKey,
        /// Item.
        key: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Waive an item (managers only, with a reason).
    WaiveItem {
        /// Stage.
        stage: StageKey,
        /// Item.
        key: String,
        /// Why.
        reason: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Ask to advance to the next stage.
    RequestAdvance {
        /// Request id.
        request_id: Uuid,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Approve (`approve`) or refuse the pending advance.
    DecideAdvance {
        /// Approve or refuse.
        approve: bool,
        /// Reason (required to refuse).
        reason: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Extend the current stage's clock once.
    ExtendStageClock {
        /// Why.
        reason: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Log correspondence with the regulator.
    AddLiaisonEntry {
        /// The entry.
        entry: NewLiaisonEntry,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Add a billing milestone.
    AddMilestone {
        /// Id.
        milestone_id: Uuid,
        /// Stage.
        stage: StageKey,
        /// Title.
        title: String,
        /// Amount in minor units.
        amount_minor: i64,
        /// Currency code.
        currency: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record the granted licence (Issue stage).
    RecordLicence {
        /// Number.
        number: String,
        /// Issued.
        issued_on: NaiveDate,
        /// Expires.
        expires_on: NaiveDate,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Raise the expiry alerts that are due on `today` (the scheduler's command).
    RaiseExpiryAlerts {
        /// The scheduler's date.
        today: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// Add a task.
    AddTask {
        /// The task.
        task: NewTask,
        /// When.
        at: DateTime<Utc>,
    },
    /// Add a subtask.
    AddSubtask {
        /// Task.
        task_id: Uuid,
        /// Id.
        subtask_id: Uuid,
        /// Title.
        title: String,
        /// Assignee.
        assignee: Option<Uuid>,
        /// Estimate in hours.
        estimate_hours: Option<f64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Remove a subtask.
    RemoveSubtask {
        /// Task.
        task_id: Uuid,
        /// Subtask.
        subtask_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// Assign a task or subtask.
    Assign {
        /// Task.
        task_id: Uuid,
        /// Subtask.
        subtask_id: Option<Uuid>,
        /// Assignee.
        assignee: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// Change a task's or a subtask's status.
    SetTaskStatus {
        /// Task.
        task_id: Uuid,
        /// Subtask.
        subtask_id: Option<Uuid>,
        /// New status.
        status: TaskStatus,
        /// When.
        at: DateTime<Utc>,
    },
    /// Raise a document request on a checklist item.
    RaiseDocumentRequest {
        /// Id.
        request_id: Uuid,
        /// Stage.
        stage: StageKey,
        /// Item.
        item_key: String,
        /// Instructions.
        instructions: String,
        /// Due date.
        due_on: Option<NaiveDate>,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record an upload (the bytes are already in object storage).
    RecordUpload {
        /// Request.
        request_id: Uuid,
        /// Upload id.
        upload_id: Uuid,
        /// The file.
        file: FileMeta,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Accept or reject an upload.
    ReviewUpload {
        /// Upload.
        upload_id: Uuid,
        /// Accept or reject.
        accept: bool,
        /// Reason (required to reject).
        reason: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// Approve (`approve`) or refuse a change proposed while closed pending updates.
    DecideChange {
        /// Proposal number.
        proposal: u32,
        /// Approve or refuse.
        approve: bool,
        /// Reason (required to refuse).
        reason: String,
        /// Who.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
    },
}
