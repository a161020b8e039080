//! Project state: what the aggregate remembers to decide commands (and what `projectAsOf`
//! shows).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event::FileMeta;
use super::rollup::{self, TaskStatus};
use crate::template::{RequestTemplate, StageKey, StageSpec};
use crate::Role;

/// The template version a project is pinned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub template_id: Uuid,
    /// Family code.
    pub family: String,
    /// Version number.
    pub version: u32,
}

/// Lifecycle status of a project. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// Being worked.
    #[default]
    Active,
    /// Paused: no stage moves.
    OnHold,
    /// Done: no changes.
    Closed,
    /// Closed, but liaison entries, the licence and evidence may still be recorded.
    ClosedPendingUpdates,
}

impl ProjectStatus {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "active",
            ProjectStatus::OnHold => "on_hold",
            ProjectStatus::Closed => "closed",
            ProjectStatus::ClosedPendingUpdates => "closed_pending_updates",
        }
    }
}

/// Task priority. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    /// Normal.
    #[default]
    Medium,
    High,
    /// Drop everything.
    Urgent,
}

impl Priority {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// State of a checklist item. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Nothing yet.
    #[default]
    Pending,
    /// Evidence uploaded, awaiting review.
    EvidenceSubmitted,
    Verified,
    /// Rejected with a reason.
    Rejected,
    /// Waived by a manager.
    Waived,
}

impl ItemStatus {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::EvidenceSubmitted => "evidence_submitted",
            ItemStatus::Verified => "verified",
            ItemStatus::Rejected => "rejected",
            ItemStatus::Waived => "waived",
        }
    }

    /// Verified or waived: the gate is satisfied and the item is closed.
    pub fn is_settled(self) -> bool {
        matches!(self, ItemStatus::Verified | ItemStatus::Waived)
    }
}

/// A checklist item on a running project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// Key from the template.
    pub key: String,
    pub title: String,
    /// Gate requires it.
    pub mandatory: bool,
    /// Needs evidence.
    pub evidence_required: bool,
    pub responsible_role: Role,
    /// Current state.
    pub status: ItemStatus,
    /// Rejection or waiver reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// What a document request for it asks by default (from the template version).
    #[serde(default)]
    pub request: Option<RequestTemplate>,
}

/// A stage on a running project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStage {
    /// Which stage.
    pub stage: StageKey,
    /// Service-level clock in days.
    pub sla_days: Option<u32>,
    /// Extension the template allows, once.
    #[serde(default)]
    pub sla_extension_days: Option<u32>,
    /// Extension granted.
    #[serde(default)]
    pub extended_days: Option<u32>,
    /// Checklist.
    pub items: Vec<ChecklistItem>,
    /// When it started (it is or was current).
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it completed.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}

impl ProjectStage {
    /// Its clock.
    pub fn clock(&self) -> super::StageClock {
        super::StageClock {
            sla_days: self.sla_days,
            extended_days: self.extended_days,
            started_at: self.started_at,
            completed_at: self.completed_at,
        }
    }
}

impl From<StageSpec> for ProjectStage {
    fn from(spec: StageSpec) -> Self {
        ProjectStage {
            stage: spec.stage,
            sla_days: spec.sla_days,
            sla_extension_days: spec.sla_extension_days,
            extended_days: None,
            items: spec
                .items
                .into_iter()
                .map(|i| ChecklistItem {
                    key: i.key,
                    title: i.title,
                    mandatory: i.mandatory,
                    evidence_required: i.evidence_required,
                    responsible_role: i.responsible_role,
                    status: ItemStatus::Pending,
                    reason: None,
                    request: i.request,
                })
                .collect(),
            started_at: None,
            completed_at: None,
        }
    }
}

/// An advance waiting for its second person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAdvance {
    pub request_id: Uuid,
    pub from: StageKey,
    pub to: Option<StageKey>,
    /// Requester.
    pub by: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subtask {
    pub id: Uuid,
    pub title: String,
    pub assignee: Option<Uuid>,
    /// Estimate in hours.
    pub estimate_hours: Option<f64>,
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: Uuid,
    pub stage: Option<StageKey>,
    pub title: String,
    pub assignee: Option<Uuid>,
    pub priority: Priority,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Estimate in hours.
    pub estimate_hours: Option<f64>,
    pub status: TaskStatus,
    /// Progress in basis points.
    pub progress: u32,
    pub subtasks: Vec<Subtask>,
}

impl Task {
    pub fn subtask(&self, id: Uuid) -> Option<&Subtask> {
        self.subtasks.iter().find(|s| s.id == id)
    }

    pub(crate) fn subtask_mut(&mut self, id: Uuid) -> Option<&mut Subtask> {
        self.subtasks.iter_mut().find(|s| s.id == id)
    }

    /// The status and progress its subtasks imply now.
    pub fn rolled_up(&self, auto_complete: bool) -> (TaskStatus, u32) {
        let statuses: Vec<TaskStatus> = self.subtasks.iter().map(|s| s.status).collect();
        let status = rollup::derived_status(&statuses, auto_complete).unwrap_or(self.status);
        let subtasks: Vec<(TaskStatus, Option<f64>)> = self
            .subtasks
            .iter()
            .map(|s| (s.status, s.estimate_hours))
            .collect();
        (status, rollup::task_progress(status, &subtasks))
    }
}

/// Review state of an upload. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Waiting for a reviewer.
    #[default]
    Submitted,
    Accepted,
    Rejected,
}

impl UploadState {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Submitted => "submitted",
            UploadState::Accepted => "accepted",
            UploadState::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub id: Uuid,
    /// 1, 2, ...
    pub version: u32,
    pub file: FileMeta,
    /// Review state.
    pub state: UploadState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRequest {
    pub id: Uuid,
    pub stage: StageKey,
    pub item_key: String,
    pub instructions: String,
    pub due_on: Option<NaiveDate>,
    /// Uploads, oldest first.
    pub uploads: Vec<Upload>,
}

/// The id of the milestone `key` of the template version a project was created from.
pub fn template_milestone_id(project_id: Uuid, key: &str) -> Uuid {
    Uuid::new_v5(&project_id, format!("milestone:{key}").as_bytes())
}

/// A billing milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub id: Uuid,
    pub stage: StageKey,
    pub title: String,
    /// Minor units.
    pub amount_minor: i64,
    pub currency: String,
    /// Billable yet.
    pub billable: bool,
}

/// The granted licence or registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    pub number: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
}

/// Project state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: Option<Uuid>,
    /// Client it belongs to.
    pub client_id: Option<Uuid>,
    pub name: String,
    /// Pinned template version.
    pub template: Option<TemplateRef>,
    pub status: ProjectStatus,
    /// Current stage (the last one stays current once completed).
    pub current_stage: Option<StageKey>,
    /// Every stage is complete.
    #[serde(default)]
    pub stages_complete: bool,
    /// Stages with checklists.
    pub stages: Vec<ProjectStage>,
    /// When the current stage started.
    pub stage_started_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Advance awaiting approval.
    #[serde(default)]
    pub pending_advance: Option<PendingAdvance>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Document requests.
    #[serde(default)]
    pub requests: Vec<DocumentRequest>,
    /// Billing milestones.
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    #[serde(default)]
    pub licence: Option<Licence>,
    /// Expiry alerts raised (days ahead).
    #[serde(default)]
    pub alerts_raised: Vec<u32>,
    /// Project progress in basis points.
    #[serde(default)]
    pub progress: u32,
    /// A task whose subtasks are all completed completes too (instead of going to review).
    #[serde(default)]
    pub auto_complete_tasks: bool,
    /// Changes proposed while closed pending updates, waiting for a decision.
    #[serde(default)]
    pub proposals: Vec<Proposal>,
    /// Proposals made so far (the next one is numbered one higher).
    #[serde(default)]
    pub proposals_made: u32,
}

/// A change held for approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Number on this project.
    pub number: u32,
    /// The event appended once approved.
    pub change: super::ProjectEvent,
    /// Who proposed it.
    pub by: Uuid,
}

impl Project {
    /// The stage `key`.
    pub fn stage(&self, key: StageKey) -> Option<&ProjectStage> {
        self.stages.iter().find(|s| s.stage == key)
    }

    /// The item `key` of stage `stage`.
    pub fn item(&self, stage: StageKey, key: &str) -> Option<&ChecklistItem> {
        self.stage(stage)?.items.iter().find(|i| i.key == key)
    }

    pub(crate) fn stage_mut(&mut self, key: StageKey) -> Option<&mut ProjectStage> {
        self.stages.iter_mut().find(|s| s.stage == key)
    }

    pub(crate) fn item_mut(&mut self, stage: StageKey, key: &str) -> Option<&mut ChecklistItem> {
        self.stage_mut(stage)?
            .items
            .iter_mut()
            .find(|i| i.key == key)
    }

    /// Mandatory items of the current stage that are neither verified nor waived.
    pub fn missing_for_gate(&self) -> Vec<&ChecklistItem> {
        self.current_stage
            .and_then(|s| self.stage(s))
            .map(|stage| {
                stage
                    .items
                    .iter()
                    .filter(|i| i.mandatory && !i.status.is_settled())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn task(&self, id: Uuid) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub(crate) fn task_mut(&mut self, id: Uuid) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// Progress over the tasks of `stage` (all tasks when `None`).
    pub fn progress_of(&self, stage: Option<StageKey>) -> u32 {
        rollup::tasks_progress(
            self.tasks
                .iter()
                .filter(|t| stage.is_none() || t.stage == stage)
                .map(|t| (t.estimate_hours, t.progress)),
        )
    }

    /// The request holding upload `upload_id`.
    pub fn request_of_upload(&self, upload_id: Uuid) -> Option<&DocumentRequest> {
        self.requests
            .iter()
            .find(|r| r.uploads.iter().any(|u| u.id == upload_id))
    }
}
