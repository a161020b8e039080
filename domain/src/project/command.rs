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
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub task_id: Uuid,
    /// Stage it belongs to.
    pub stage: Option<StageKey>,
    pub title: String,
    pub assignee: Option<Uuid>,
    pub priority: Priority,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Estimate in hours.
    pub estimate_hours: Option<f64>,
}

/// A liaison log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLiaisonEntry {
    pub entry_id: Uuid,
    /// Date of the correspondence.
    pub date: NaiveDate,
    pub regulator: String,
    pub direction: Direction,
    pub summary: String,
    /// Attachment references.
    pub attachments: Vec<String>,
}

/// Project commands.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectCommand {
    /// Create a project from a template version.
    Create {
        project_id: Uuid,
        client_id: Uuid,
        name: String,
        /// Template version.
        template: TemplateRef,
        /// That version's stages.
        stages: Vec<StageSpec>,
        at: DateTime<Utc>,
    },
    Rename {
        /// New name.
        name: String,
        at: DateTime<Utc>,
    },
    /// Change the status.
    SetStatus {
        /// New status.
        status: ProjectStatus,
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Stage gates: checklist items, the stage advance, the stage clock.
    Gate(GateCommand),
    /// The document loop: requests for evidence, uploads, their review.
    Document(DocumentCommand),
    /// Tasks and subtasks.
    Task(TaskCommand),
    /// Billing milestones, the licence and its expiry alerts.
    Billing(BillingCommand),
    /// The liaison log and the changes held for approval.
    Change(ChangeCommand),
    /// Tell the project's owners (`notify`, found by the caller) that `version` of its
    /// template was published by rule change `rule_change_id`; nothing on a project
    /// already on it or later, or closed.
    NoteNewerTemplateVersion {
        version: u32,
        rule_change_id: Uuid,
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    },
}

/// Stage gates: checklist items, the stage advance, the stage clock.
#[derive(Debug, Clone, PartialEq)]
pub enum GateCommand {
    /// Verify an item (items without required evidence; evidence is verified by review).
    VerifyItem {
        stage: StageKey,
        /// Item.
        key: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Waive an item (managers only, with a reason).
    WaiveItem {
        stage: StageKey,
        /// Item.
        key: String,
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Ask to advance to the next stage.
    RequestAdvance {
        request_id: Uuid,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Approve (`approve`) or refuse the pending advance.
    DecideAdvance {
        /// Approve or refuse.
        approve: bool,
        /// Reason (required to refuse).
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Extend the current stage's clock once.
    ExtendStageClock {
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
}

impl From<GateCommand> for ProjectCommand {
    fn from(command: GateCommand) -> Self {
        ProjectCommand::Gate(command)
    }
}

/// The document loop: requests for evidence, uploads, their review.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentCommand {
    /// Raise a document request on a checklist item.
    RaiseDocumentRequest {
        request_id: Uuid,
        stage: StageKey,
        item_key: String,
        instructions: String,
        /// Due date.
        due_on: Option<NaiveDate>,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Record an upload (the bytes are already in object storage).
    RecordUpload {
        request_id: Uuid,
        upload_id: Uuid,
        file: FileMeta,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Accept or reject an upload.
    ReviewUpload {
        upload_id: Uuid,
        /// Accept or reject.
        accept: bool,
        /// Reason (required to reject).
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
}

impl From<DocumentCommand> for ProjectCommand {
    fn from(command: DocumentCommand) -> Self {
        ProjectCommand::Document(command)
    }
}

/// Tasks and subtasks.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskCommand {
    /// Whether tasks complete by themselves when all their subtasks are completed.
    SetTaskPolicy {
        /// Complete instead of review.
        auto_complete: bool,
        at: DateTime<Utc>,
    },
    AddTask {
        task: NewTask,
        at: DateTime<Utc>,
    },
    AddSubtask {
        task_id: Uuid,
        subtask_id: Uuid,
        title: String,
        assignee: Option<Uuid>,
        /// Estimate in hours.
        estimate_hours: Option<f64>,
        at: DateTime<Utc>,
    },
    RemoveSubtask {
        task_id: Uuid,
        subtask_id: Uuid,
        at: DateTime<Utc>,
    },
    /// Assign a task or subtask.
    Assign {
        task_id: Uuid,
        subtask_id: Option<Uuid>,
        assignee: Uuid,
        at: DateTime<Utc>,
    },
    /// Change a task's or a subtask's status.
    SetTaskStatus {
        task_id: Uuid,
        subtask_id: Option<Uuid>,
        /// New status.
        status: TaskStatus,
        at: DateTime<Utc>,
    },
}

impl From<TaskCommand> for ProjectCommand {
    fn from(command: TaskCommand) -> Self {
        ProjectCommand::Task(command)
    }
}

/// Billing milestones, the licence and its expiry alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum BillingCommand {
    /// Add a billing milestone.
    AddMilestone {
        milestone_id: Uuid,
        stage: StageKey,
        title: String,
        /// Amount in minor units.
        amount_minor: i64,
        /// Currency code.
        currency: String,
        at: DateTime<Utc>,
    },
    /// Record the granted licence (Issue stage).
    RecordLicence {
        number: String,
        issued_on: NaiveDate,
        expires_on: NaiveDate,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Raise the expiry alerts that are due on `today` (the scheduler's command).
    RaiseExpiryAlerts {
        /// The scheduler's date.
        today: NaiveDate,
        at: DateTime<Utc>,
    },
}

impl From<BillingCommand> for ProjectCommand {
    fn from(command: BillingCommand) -> Self {
        ProjectCommand::Billing(command)
    }
}

/// The liaison log and the changes held for approval.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeCommand {
    /// Log correspondence with the regulator.
    AddLiaisonEntry {
        entry: NewLiaisonEntry,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Propose moving the project to `version` of its template (whose stages are a fact
    /// the caller looks up): held for a second person's decision.
    ProposeTemplateMove {
        version: u32,
        stages: Vec<StageSpec>,
        actor: Actor,
        at: DateTime<Utc>,
    },
    /// Approve (`approve`) or refuse a held change: one proposed while closed pending
    /// updates, or a move to a newer template version.
    DecideChange {
        /// Proposal number.
        proposal: u32,
        /// Approve or refuse.
        approve: bool,
        /// Reason (required to refuse).
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    },
}

impl From<ChangeCommand> for ProjectCommand {
    fn from(command: ChangeCommand) -> Self {
        ProjectCommand::Change(command)
    }
}
