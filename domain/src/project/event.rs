//! Project events. Variant names and field names are persisted: never rename them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rollup::TaskStatus;
use super::{Priority, ProjectStatus, TemplateRef};
use crate::template::{StageKey, StageSpec};

/// Direction of a liaison entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the regulator to us.
    Inbound,
    /// From us to the regulator.
    Outbound,
}

impl Direction {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// An uploaded file as the log records it (never its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Name given by the uploader.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type (checked against the content).
    pub media_type: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Key in object storage.
    pub storage_key: String,
}

/// Project events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProjectEvent {
    /// A project was created.
    ProjectCreated {
        project_id: Uuid,
        client_id: Uuid,
        name: String,
        /// Template version.
        template: TemplateRef,
        /// Stages with checklists (copied from the template).
        stages: Vec<StageSpec>,
        at: DateTime<Utc>,
    },
    ProjectRenamed {
        /// New name.
        name: String,
        at: DateTime<Utc>,
    },
    TaskPolicyChanged {
        /// Tasks complete by themselves when all subtasks are completed.
        auto_complete: bool,
        at: DateTime<Utc>,
    },
    ProjectStatusChanged {
        /// New status.
        status: ProjectStatus,
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A checklist item was verified (directly, or because its upload was accepted).
    ChecklistItemVerified {
        stage: StageKey,
        /// Item key.
        key: String,
        /// The accepted or rejected upload, when the change came from a review.
        #[serde(default)]
        upload_id: Option<Uuid>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A checklist item's evidence was rejected.
    ChecklistItemRejected {
        stage: StageKey,
        /// Item key.
        key: String,
        reason: String,
        /// The accepted or rejected upload, when the change came from a review.
        #[serde(default)]
        upload_id: Option<Uuid>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A manager waived a checklist item.
    ChecklistItemWaived {
        stage: StageKey,
        /// Item key.
        key: String,
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// Evidence arrived for a checklist item (caused by an upload).
    ChecklistItemEvidenceSubmitted {
        stage: StageKey,
        /// Item key.
        key: String,
        at: DateTime<Utc>,
    },
    /// Someone asked to move the project to the next stage.
    StageAdvanceRequested {
        request_id: Uuid,
        /// Current stage.
        from: StageKey,
        /// Next stage (`None`: completing the last stage).
        to: Option<StageKey>,
        /// Who asked.
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A second person approved the advance.
    StageAdvanceApproved {
        request_id: Uuid,
        /// Approver's reason or comment.
        reason: String,
        /// Who approved.
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A second person refused the advance.
    StageAdvanceRefused {
        request_id: Uuid,
        reason: String,
        /// Who refused.
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// The project moved on (caused by the approval).
    StageAdvanced {
        /// Completed stage.
        from: StageKey,
        /// New current stage (`None`: every stage is complete).
        to: Option<StageKey>,
        at: DateTime<Utc>,
    },
    /// A stage's service-level clock was extended (once).
    StageClockExtended {
        stage: StageKey,
        /// Extra days.
        days: u32,
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// Correspondence with the regulator.
    LiaisonEntryAdded {
        entry_id: Uuid,
        /// Date of the correspondence.
        date: NaiveDate,
        /// Regulator (RBI, SEBI, ...).
        regulator: String,
        direction: Direction,
        summary: String,
        /// Attachment references (file names or document numbers).
        attachments: Vec<String>,
        by: Uuid,
        /// When recorded.
        at: DateTime<Utc>,
        /// The approved change proposal that applied it (closed pending updates).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal: Option<u32>,
    },
    /// A billing milestone tied to a stage.
    MilestoneAdded {
        milestone_id: Uuid,
        /// Stage whose completion makes it billable.
        stage: StageKey,
        title: String,
        /// Amount in minor units (paise, cents).
        amount_minor: i64,
        /// ISO 4217 code.
        currency: String,
        at: DateTime<Utc>,
    },
    /// A milestone became billable (caused by its stage completing).
    MilestoneBillable {
        milestone_id: Uuid,
        at: DateTime<Utc>,
    },
    /// The licence or registration was granted.
    LicenceRecorded {
        /// Licence or registration number.
        number: String,
        /// Issue date.
        issued_on: NaiveDate,
        /// Expiry date.
        expires_on: NaiveDate,
        by: Uuid,
        at: DateTime<Utc>,
        /// The approved change proposal that applied it (closed pending updates).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal: Option<u32>,
    },
    /// An expiry alert was raised `days_ahead` days before expiry.
    LicenceExpiryAlertRaised {
        /// 90, 60 or 30.
        days_ahead: u32,
        /// The expiry date.
        expires_on: NaiveDate,
        at: DateTime<Utc>,
    },
    /// A task was added.
    TaskAdded {
        task_id: Uuid,
        /// Stage it belongs to, if any.
        stage: Option<StageKey>,
        title: String,
        assignee: Option<Uuid>,
        priority: Priority,
        /// Due date.
        due_on: Option<NaiveDate>,
        /// Estimate in hours.
        estimate_hours: Option<f64>,
        at: DateTime<Utc>,
    },
    /// A subtask was added to a task.
    SubtaskAdded {
        task_id: Uuid,
        subtask_id: Uuid,
        title: String,
        assignee: Option<Uuid>,
        /// Estimate in hours.
        estimate_hours: Option<f64>,
        at: DateTime<Utc>,
    },
    /// A subtask was removed.
    SubtaskRemoved {
        task_id: Uuid,
        subtask_id: Uuid,
        at: DateTime<Utc>,
    },
    /// A task (or a subtask, when `subtask_id` is set) was assigned.
    TaskAssigned {
        task_id: Uuid,
        /// Subtask, if the assignment is on one.
        subtask_id: Option<Uuid>,
        /// New assignee.
        assignee: Uuid,
        at: DateTime<Utc>,
    },
    /// A person changed a task's status (tasks without subtasks, or review to completed).
    TaskStatusChanged {
        task_id: Uuid,
        /// New status.
        status: TaskStatus,
        at: DateTime<Utc>,
    },
    /// A person changed a subtask's status.
    SubtaskStatusChanged {
        task_id: Uuid,
        subtask_id: Uuid,
        /// New status.
        status: TaskStatus,
        at: DateTime<Utc>,
    },
    /// A task's status and progress followed its subtasks (caused by the subtask change).
    TaskRolledUp {
        task_id: Uuid,
        /// Derived status.
        status: TaskStatus,
        /// Progress in basis points.
        progress: u32,
        at: DateTime<Utc>,
    },
    /// The project's progress changed (caused by the task change before it).
    ProjectProgressChanged {
        /// Progress in basis points.
        progress: u32,
        at: DateTime<Utc>,
    },
    /// A document request was raised on a checklist item.
    DocumentRequestRaised {
        request_id: Uuid,
        /// Stage of the item.
        stage: StageKey,
        item_key: String,
        /// What the customer must provide.
        instructions: String,
        /// Due date.
        due_on: Option<NaiveDate>,
        /// Who raised it.
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A file was uploaded for a request (version N+1 of its uploads).
    EvidenceUploaded {
        request_id: Uuid,
        upload_id: Uuid,
        /// 1, 2, ...
        version: u32,
        file: FileMeta,
        /// Who uploaded.
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A reviewer accepted an upload.
    UploadAccepted {
        request_id: Uuid,
        upload_id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A reviewer rejected an upload.
    UploadRejected {
        request_id: Uuid,
        upload_id: Uuid,
        /// Why (shown to the customer).
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A change to a project closed pending updates, held until someone else approves it.
    ChangeProposed {
        /// Number of the proposal on this project (1, 2, ...).
        proposal: u32,
        /// The event the change appends once approved.
        change: Box<ProjectEvent>,
        /// Who proposed it.
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A proposed change was approved; the change itself follows in the same append.
    ChangeApproved {
        proposal: u32,
        /// Why (optional).
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A proposed change was refused.
    ChangeRefused {
        proposal: u32,
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A newer version of the project's template was published; the project stays on its
    /// own version until moved. `notify`: the owners told.
    NewerTemplateVersionPublished {
        template_id: Uuid,
        version: u32,
        rule_change_id: Uuid,
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    /// The project now runs on `to_version` of its template: items `added` start pending,
    /// items `removed` leave its checklists (their history stays in the log), every other
    /// item keeps its status. Always approved: proposed as a held change first.
    TemplateMoved {
        from_version: u32,
        to_version: u32,
        stages: Vec<StageSpec>,
        added: Vec<ItemRef>,
        removed: Vec<ItemRef>,
        /// The held change it was approved as (set on approval).
        #[serde(default)]
        proposal: Option<u32>,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

/// A checklist item named by its stage and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRef {
    pub stage: StageKey,
    pub key: String,
}

impl ProjectEvent {
    /// The persisted type name.
    pub fn name(&self) -> &'static str {
        use ProjectEvent as E;
        match self {
            E::ProjectCreated { .. } => "ProjectCreated",
            E::ProjectRenamed { .. } => "ProjectRenamed",
            E::ProjectStatusChanged { .. } => "ProjectStatusChanged",
            E::TaskPolicyChanged { .. } => "TaskPolicyChanged",
            E::ChecklistItemVerified { .. } => "ChecklistItemVerified",
            E::ChecklistItemRejected { .. } => "ChecklistItemRejected",
            E::ChecklistItemWaived { .. } => "ChecklistItemWaived",
            E::ChecklistItemEvidenceSubmitted { .. } => "ChecklistItemEvidenceSubmitted",
            E::StageAdvanceRequested { .. } => "StageAdvanceRequested",
            E::StageAdvanceApproved { .. } => "StageAdvanceApproved",
            E::StageAdvanceRefused { .. } => "StageAdvanceRefused",
            E::StageAdvanced { .. } => "StageAdvanced",
            E::StageClockExtended { .. } => "StageClockExtended",
            E::LiaisonEntryAdded { .. } => "LiaisonEntryAdded",
            E::MilestoneAdded { .. } => "MilestoneAdded",
            E::MilestoneBillable { .. } => "MilestoneBillable",
            E::LicenceRecorded { .. } => "LicenceRecorded",
            E::LicenceExpiryAlertRaised { .. } => "LicenceExpiryAlertRaised",
            E::TaskAdded { .. } => "TaskAdded",
            E::SubtaskAdded { .. } => "SubtaskAdded",
            E::SubtaskRemoved { .. } => "SubtaskRemoved",
            E::TaskAssigned { .. } => "TaskAssigned",
            E::TaskStatusChanged { .. } => "TaskStatusChanged",
            E::SubtaskStatusChanged { .. } => "SubtaskStatusChanged",
            E::TaskRolledUp { .. } => "TaskRolledUp",
            E::ProjectProgressChanged { .. } => "ProjectProgressChanged",
            E::DocumentRequestRaised { .. } => "DocumentRequestRaised",
            E::EvidenceUploaded { .. } => "EvidenceUploaded",
            E::UploadAccepted { .. } => "UploadAccepted",
            E::UploadRejected { .. } => "UploadRejected",
            E::ChangeProposed { .. } => "ChangeProposed",
            E::ChangeApproved { .. } => "ChangeApproved",
            E::ChangeRefused { .. } => "ChangeRefused",
            E::NewerTemplateVersionPublished { .. } => "NewerTemplateVersionPublished",
            E::TemplateMoved { .. } => "TemplateMoved",
        }
    }
}

impl crate::Consequence for ProjectEvent {
    /// A roll-up, a derived checklist change, a stage move or a proposed change applied by an
    /// approval: the event
    /// store records the event before it in the same append as its cause.
    fn is_consequence(&self) -> bool {
        match self {
            ProjectEvent::TaskRolledUp { .. }
            | ProjectEvent::ProjectProgressChanged { .. }
            | ProjectEvent::ChecklistItemEvidenceSubmitted { .. }
            | ProjectEvent::StageAdvanced { .. }
            | ProjectEvent::MilestoneBillable { .. } => true,
            ProjectEvent::ChecklistItemVerified { upload_id, .. }
            | ProjectEvent::ChecklistItemRejected { upload_id, .. } => upload_id.is_some(),
            ProjectEvent::LiaisonEntryAdded { proposal, .. }
            | ProjectEvent::LicenceRecorded { proposal, .. }
            | ProjectEvent::TemplateMoved { proposal, .. } => proposal.is_some(),
            _ => false,
        }
    }
}

impl cqrs_es::DomainEvent for ProjectEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
