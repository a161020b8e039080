//! The Project aggregate's core: its refusals, `decide` (which hands each command to the
//! rules of its area, in the files beside this one), the lifecycle commands, and `apply`.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;

use super::command::{Actor, ProjectCommand};
use super::event::ProjectEvent;
use super::model::*;
use super::rollup::{TaskStatus, FULL};
use crate::template::StageKey;
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::{ErrorKind, Rejection, Role, ValidationError};

/// Why a project command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProjectError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Created already.
    #[error("a project with this id already exists")]
    AlreadyExists,
    /// No such project, task, item, request or upload.
    #[error("{0}")]
    NotFound(String),
    /// The change is not allowed in the record's current state.
    #[error("{0}")]
    NotAllowed(String),
    /// The gate is not satisfied.
    #[error("the {stage} stage cannot be left yet: {} still need to be verified or waived", missing.join(", "))]
    GateNotMet {
        /// The current stage.
        stage: &'static str,
        /// Titles of the missing mandatory items.
        missing: Vec<String>,
    },
    /// The actor may not do this (maker-checker, manager-only actions).
    #[error("{0}")]
    Forbidden(String),
    /// Someone else changed the state first.
    #[error("{0}")]
    Conflict(String),
}

impl Rejection for ProjectError {
    fn kind(&self) -> ErrorKind {
        match self {
            ProjectError::AlreadyExists | ProjectError::Conflict(_) => ErrorKind::Conflict,
            ProjectError::NotFound(_) => ErrorKind::NotFound,
            ProjectError::Forbidden(_) => ErrorKind::Forbidden,
            ProjectError::Invalid(_)
            | ProjectError::NotAllowed(_)
            | ProjectError::GateNotMet { .. } => ErrorKind::Invalid,
        }
    }
}

pub(super) fn not_allowed(message: impl Into<String>) -> ProjectError {
    ProjectError::NotAllowed(message.into())
}

pub(super) fn not_found(what: &str) -> ProjectError {
    ProjectError::NotFound(format!("{what} not found on this project"))
}

pub(super) fn is_manager(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Maker-checker: `actor` may decide `what`, which `maker` asked for, only as a manager or
/// reviewer other than the maker.
pub(super) fn checker(
    actor: &Actor,
    maker: uuid::Uuid,
    what: &str,
    made: &str,
) -> Result<(), ProjectError> {
    if !matches!(actor.role, Role::Manager | Role::Reviewer | Role::Admin) {
        return Err(ProjectError::Forbidden(format!(
            "only a manager or a reviewer may decide {what}"
        )));
    }
    if actor.user_id == maker {
        return Err(ProjectError::Forbidden(format!(
            "maker-checker: the person who {made} cannot decide it"
        )));
    }
    Ok(())
}

/// What a project in `status` still accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Stage moves.
    Gate,
    /// Tasks, checklist, milestones, requests, names.
    Work,
    /// Liaison log, licence, evidence and its review.
    Record,
}

impl Project {
    pub(super) fn ensure_open(&self, change: Change) -> Result<(), ProjectError> {
        match (self.status, change) {
            (ProjectStatus::Active, _) => Ok(()),
            (ProjectStatus::OnHold, Change::Gate) => {
                Err(not_allowed("the project is on hold: stages cannot move"))
            }
            (ProjectStatus::OnHold, _) => Ok(()),
            (ProjectStatus::ClosedPendingUpdates, Change::Record) => Ok(()),
            (ProjectStatus::ClosedPendingUpdates, _) => Err(not_allowed(
                "the project is closed pending updates: only liaison entries and the licence (each held for approval) and evidence may change",
            )),
            (ProjectStatus::Closed, _) => Err(not_allowed("the project is closed")),
        }
    }

    fn created(&self) -> Result<(), ProjectError> {
        if self.id.is_none() {
            return Err(ProjectError::NotFound("project not found".into()));
        }
        Ok(())
    }

    /// The events `command` decides on this project, or why it is refused. Pure: the
    /// project is not changed (each area's rules are in the file of that area).
    pub fn decide(&self, command: ProjectCommand) -> Result<Vec<ProjectEvent>, ProjectError> {
        use ProjectCommand as C;
        if !matches!(command, C::Create { .. }) {
            self.created()?;
        }
        match command {
            C::Create {
                project_id,
                client_id,
                name,
                template,
                stages,
                at,
            } => {
                if self.id.is_some() {
                    return Err(ProjectError::AlreadyExists);
                }
                let name = values::required_text("projectName", &name, MAX_LINE)?;
                if stages.first().map(|s| s.stage) != Some(StageKey::Onboarding) {
                    return Err(ValidationError::new(
                        "template",
                        "the template version has no onboarding stage",
                    )
                    .into());
                }
                Ok(vec![ProjectEvent::ProjectCreated {
                    project_id,
                    client_id,
                    name,
                    template,
                    stages,
                    at,
                }])
            }
            C::Rename { name, at } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Work)?;
                let name = values::required_text("name", &name, MAX_LINE)?;
                if name != self.name {
                    events.push(ProjectEvent::ProjectRenamed { name, at });
                }
                Ok(events)
            }
            C::SetStatus {
                status,
                reason,
                actor,
                at,
            } => {
                if !is_manager(&actor) {
                    return Err(ProjectError::Forbidden(
                        "only a manager may change a project's status".into(),
                    ));
                }
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                if status == self.status {
                    return Err(not_allowed(format!(
                        "the project is already {}",
                        status.as_str()
                    )));
                }
                Ok(vec![ProjectEvent::ProjectStatusChanged {
                    status,
                    reason,
                    by: actor.user_id,
                    at,
                }])
            }
            C::Gate(command) => self.decide_gates(command),
            C::Document(command) => self.decide_documents(command),
            C::Task(command) => self.decide_tasks(command),
            C::Billing(command) => self.decide_billing(command),
            C::Change(command) => self.decide_changes(command),
            C::NoteNewerTemplateVersion {
                version,
                rule_change_id,
                notify,
                at,
            } => self.note_newer_version(version, rule_change_id, notify, at),
        }
    }
}

impl Aggregate for Project {
    /// Persisted identifier.
    const TYPE: &'static str = "Project";
    type Command = ProjectCommand;
    type Event = ProjectEvent;
    type Error = ProjectError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ProjectCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ProjectError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ProjectEvent) {
        use ProjectEvent as E;
        match event {
            E::ProjectCreated {
                project_id,
                client_id,
                name,
                template,
                stages,
                at,
            } => {
                let milestones = stages
                    .iter()
                    .flat_map(|stage| {
                        stage.milestones.iter().map(|m| Milestone {
                            id: template_milestone_id(project_id, &m.key),
                            stage: stage.stage,
                            title: m.title.clone(),
                            amount_minor: m.amount_minor,
                            currency: m.currency.clone(),
                            billable: false,
                        })
                    })
                    .collect();
                let mut stages: Vec<ProjectStage> =
                    stages.into_iter().map(ProjectStage::from).collect();
                if let Some(first) = stages.first_mut() {
                    first.started_at = Some(at);
                }
                *self = Project {
                    id: Some(project_id),
                    client_id: Some(client_id),
                    name,
                    template: Some(template),
                    current_stage: stages.first().map(|s| s.stage),
                    stages,
                    stage_started_at: Some(at),
                    created_at: Some(at),
                    milestones,
                    ..Project::default()
                };
            }
            E::ProjectRenamed { name, .. } => self.name = name,
            E::TaskPolicyChanged { auto_complete, .. } => self.auto_complete_tasks = auto_complete,
            E::ProjectStatusChanged { status, .. } => self.status = status,
            E::ChecklistItemVerified { stage, key, .. } => {
                if let Some(item) = self.item_mut(stage, &key) {
                    item.status = ItemStatus::Verified;
                    item.reason = None;
                }
            }
            E::ChecklistItemRejected {
                stage, key, reason, ..
            } => {
                if let Some(item) = self.item_mut(stage, &key) {
                    item.status = ItemStatus::Rejected;
                    item.reason = Some(reason);
                }
            }
            E::ChecklistItemWaived {
                stage, key, reason, ..
            } => {
                if let Some(item) = self.item_mut(stage, &key) {
                    item.status = ItemStatus::Waived;
                    item.reason = Some(reason);
                }
            }
            E::ChecklistItemEvidenceSubmitted { stage, key, .. } => {
                if let Some(item) = self.item_mut(stage, &key) {
                    item.status = ItemStatus::EvidenceSubmitted;
                }
            }
            E::StageAdvanceRequested {
                request_id,
                from,
                to,
                by,
                at,
            } => {
                self.pending_advance = Some(PendingAdvance {
                    request_id,
                    from,
                    to,
                    by,
                    at,
                });
            }
            E::StageAdvanceApproved { .. } => {}
            E::StageAdvanceRefused { .. } => self.pending_advance = None,
            E::StageAdvanced { from, to, at } => {
                self.pending_advance = None;
                if let Some(stage) = self.stage_mut(from) {
                    stage.completed_at = Some(at);
                }
                match to {
                    Some(next) => {
                        if let Some(stage) = self.stage_mut(next) {
                            stage.started_at = Some(at);
                        }
                        self.current_stage = Some(next);
                        self.stage_started_at = Some(at);
                    }
                    None => self.stages_complete = true,
                }
            }
            E::StageClockExtended { stage, days, .. } => {
                if let Some(stage) = self.stage_mut(stage) {
                    stage.extended_days = Some(days);
                }
            }
            E::LiaisonEntryAdded { .. } => {}
            E::MilestoneAdded {
                milestone_id,
                stage,
                title,
                amount_minor,
                currency,
                ..
            } => self.milestones.push(Milestone {
                id: milestone_id,
                stage,
                title,
                amount_minor,
                currency,
                billable: false,
            }),
            E::MilestoneBillable { milestone_id, .. } => {
                if let Some(m) = self.milestones.iter_mut().find(|m| m.id == milestone_id) {
                    m.billable = true;
                }
            }
            E::LicenceRecorded {
                number,
                issued_on,
                expires_on,
                ..
            } => {
                self.licence = Some(Licence {
                    number,
                    issued_on,
                    expires_on,
                });
            }
            E::LicenceExpiryAlertRaised { days_ahead, .. } => self.alerts_raised.push(days_ahead),
            E::ChangeProposed {
                proposal,
                change,
                by,
                ..
            } => {
                self.proposals_made = proposal;
                self.proposals.push(Proposal {
                    number: proposal,
                    change: *change,
                    by,
                });
            }
            E::ChangeApproved { proposal, .. } | E::ChangeRefused { proposal, .. } => {
                self.proposals.retain(|p| p.number != proposal);
            }
            E::NewerTemplateVersionPublished { .. } => {}
            E::TemplateMoved {
                to_version, stages, ..
            } => self.move_to(to_version, stages),
            E::TaskAdded {
                task_id,
                stage,
                title,
                assignee,
                priority,
                due_on,
                estimate_hours,
                ..
            } => self.tasks.push(Task {
                id: task_id,
                stage,
                title,
                assignee,
                priority,
                due_on,
                estimate_hours,
                status: TaskStatus::ToDo,
                progress: 0,
                subtasks: Vec::new(),
            }),
            E::SubtaskAdded {
                task_id,
                subtask_id,
                title,
                assignee,
                estimate_hours,
                ..
            } => {
                if let Some(task) = self.task_mut(task_id) {
                    task.subtasks.push(Subtask {
                        id: subtask_id,
                        title,
                        assignee,
                        estimate_hours,
                        status: TaskStatus::ToDo,
                    });
                }
            }
            E::SubtaskRemoved {
                task_id,
                subtask_id,
                ..
            } => {
                if let Some(task) = self.task_mut(task_id) {
                    task.subtasks.retain(|s| s.id != subtask_id);
                }
            }
            E::TaskAssigned {
                task_id,
                subtask_id,
                assignee,
                ..
            } => {
                if let Some(task) = self.task_mut(task_id) {
                    match subtask_id {
                        Some(id) => {
                            if let Some(s) = task.subtask_mut(id) {
                                s.assignee = Some(assignee);
                            }
                        }
                        None => task.assignee = Some(assignee),
                    }
                }
            }
            E::TaskStatusChanged {
                task_id, status, ..
            } => {
                if let Some(task) = self.task_mut(task_id) {
                    task.status = status;
                    if task.subtasks.is_empty() {
                        task.progress = if status == TaskStatus::Completed {
                            FULL
                        } else {
                            0
                        };
                    }
                }
            }
            E::SubtaskStatusChanged {
                task_id,
                subtask_id,
                status,
                ..
            } => {
                if let Some(task) = self.task_mut(task_id) {
                    if let Some(s) = task.subtask_mut(subtask_id) {
                        s.status = status;
                    }
                }
            }
            E::TaskRolledUp {
                task_id,
                status,
                progress,
                ..
            } => {
                if let Some(task) = self.task_mut(task_id) {
                    task.status = status;
                    task.progress = progress;
                }
            }
            E::ProjectProgressChanged { progress, .. } => self.progress = progress,
            E::DocumentRequestRaised {
                request_id,
                stage,
                item_key,
                instructions,
                due_on,
                ..
            } => self.requests.push(DocumentRequest {
                id: request_id,
                stage,
                item_key,
                instructions,
                due_on,
                uploads: Vec::new(),
            }),
            E::EvidenceUploaded {
                request_id,
                upload_id,
                version,
                file,
                ..
            } => {
                if let Some(r) = self.requests.iter_mut().find(|r| r.id == request_id) {
                    r.uploads.push(Upload {
                        id: upload_id,
                        version,
                        file,
                        state: UploadState::Submitted,
                    });
                }
            }
            E::UploadAccepted {
                request_id,
                upload_id,
                ..
            } => self.set_upload_state(request_id, upload_id, UploadState::Accepted),
            E::UploadRejected {
                request_id,
                upload_id,
                ..
            } => self.set_upload_state(request_id, upload_id, UploadState::Rejected),
        }
    }
}

impl Project {
    fn set_upload_state(
        &mut self,
        request_id: uuid::Uuid,
        upload_id: uuid::Uuid,
        state: UploadState,
    ) {
        if let Some(upload) = self
            .requests
            .iter_mut()
            .find(|r| r.id == request_id)
            .and_then(|r| r.uploads.iter_mut().find(|u| u.id == upload_id))
        {
            upload.state = state;
        }
    }
}
