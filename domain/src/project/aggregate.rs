//! Project rules: `handle` decides, `apply` folds.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;

use super::command::{Actor, NewTask, ProjectCommand};
use super::event::ProjectEvent;
use super::model::*;
use super::rollup::{TaskStatus, FULL};
use crate::template::StageKey;
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::{ErrorKind, Rejection, Role, ValidationError};

/// Expiry alerts are raised this many days ahead.
pub const ALERT_DAYS: [u32; 3] = [90, 60, 30];

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

fn not_allowed(message: impl Into<String>) -> ProjectError {
    ProjectError::NotAllowed(message.into())
}

fn not_found(what: &str) -> ProjectError {
    ProjectError::NotFound(format!("{what} not found on this project"))
}

fn is_manager(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Maker-checker: `actor` may decide `what`, which `maker` asked for, only as a manager or
/// reviewer other than the maker.
fn checker(actor: &Actor, maker: uuid::Uuid, what: &str, made: &str) -> Result<(), ProjectError> {
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

fn estimate(field: &'static str, hours: Option<f64>) -> Result<Option<f64>, ValidationError> {
    match hours {
        None => Ok(None),
        Some(h) if h.is_finite() && h > 0.0 && h <= 10_000.0 => Ok(Some(h)),
        Some(_) => Err(ValidationError::new(
            field,
            "must be a number of hours above 0 and at most 10000",
        )),
    }
}

/// What a project in `status` still accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Stage moves.
    Gate,
    /// Tasks, checklist, milestones, requests, names.
    Work,
    /// Liaison log, licence, evidence and its review.
    Record,
}

impl Project {
    fn ensure_open(&self, change: Change) -> Result<(), ProjectError> {
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

    fn licence_may_be_recorded(&self) -> Result<(), ProjectError> {
        if self.current_stage != Some(StageKey::Issue) {
            return Err(not_allowed("the licence is recorded at the Issue stage"));
        }
        if self.licence.is_some() {
            return Err(ProjectError::Conflict(
                "the licence is already recorded".into(),
            ));
        }
        Ok(())
    }

    /// Append a record change (liaison entry, licence), or hold it for approval while the
    /// project is closed pending updates.
    async fn record(
        &mut self,
        change: ProjectEvent,
        actor: Actor,
        at: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) {
        let event = if self.status == ProjectStatus::ClosedPendingUpdates {
            ProjectEvent::ChangeProposed {
                proposal: self.proposals_made + 1,
                change: Box::new(change),
                by: actor.user_id,
                at,
            }
        } else {
            change
        };
        sink.write(event, self).await;
    }

    fn created(&self) -> Result<(), ProjectError> {
        if self.id.is_none() {
            return Err(ProjectError::NotFound("project not found".into()));
        }
        Ok(())
    }

    /// The roll-up events a change to `task_id` implies, then the project's progress.
    async fn roll_up(
        &mut self,
        task_id: Option<uuid::Uuid>,
        at: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) {
        if let Some(task) = task_id.and_then(|id| self.task(id)) {
            let (derived, progress) = task.rolled_up(self.auto_complete_tasks);
            let status = if task.subtasks.is_empty()
                || (derived == TaskStatus::Review && task.status == TaskStatus::Completed)
            {
                // No subtasks: the task's own status stands. Signed off after review: the
                // sign-off stands while every subtask stays completed.
                task.status
            } else {
                derived
            };
            if (status, progress) != (task.status, task.progress) {
                let task_id = task.id;
                sink.write(
                    ProjectEvent::TaskRolledUp {
                        task_id,
                        status,
                        progress,
                        at,
                    },
                    self,
                )
                .await;
            }
        }
        let progress = self.progress_of(None);
        if progress != self.progress {
            sink.write(ProjectEvent::ProjectProgressChanged { progress, at }, self)
                .await;
        }
    }

    async fn decide(
        &mut self,
        command: ProjectCommand,
        sink: &EventSink<Self>,
    ) -> Result<(), ProjectError> {
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
                sink.write(
                    ProjectEvent::ProjectCreated {
                        project_id,
                        client_id,
                        name,
                        template,
                        stages,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::Rename { name, at } => {
                self.ensure_open(Change::Work)?;
                let name = values::required_text("name", &name, MAX_LINE)?;
                if name != self.name {
                    sink.write(ProjectEvent::ProjectRenamed { name, at }, self)
                        .await;
                }
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
                sink.write(
                    ProjectEvent::ProjectStatusChanged {
                        status,
                        reason,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::SetTaskPolicy { auto_complete, at } => {
                self.ensure_open(Change::Work)?;
                if auto_complete != self.auto_complete_tasks {
                    sink.write(ProjectEvent::TaskPolicyChanged { auto_complete, at }, self)
                        .await;
                }
            }
            C::VerifyItem {
                stage,
                key,
                actor,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let item = self
                    .item(stage, &key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.evidence_required {
                    return Err(not_allowed(format!(
                        "'{}' needs evidence: it is verified by accepting an upload",
                        item.title
                    )));
                }
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}",
                        item.title,
                        item.status.as_str()
                    )));
                }
                sink.write(
                    ProjectEvent::ChecklistItemVerified {
                        stage,
                        key,
                        upload_id: None,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::WaiveItem {
                stage,
                key,
                reason,
                actor,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                if !is_manager(&actor) {
                    return Err(ProjectError::Forbidden(
                        "only a manager may waive a checklist item".into(),
                    ));
                }
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                let item = self
                    .item(stage, &key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}",
                        item.title,
                        item.status.as_str()
                    )));
                }
                sink.write(
                    ProjectEvent::ChecklistItemWaived {
                        stage,
                        key,
                        reason,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RequestAdvance {
                request_id,
                actor,
                at,
            } => {
                self.ensure_open(Change::Gate)?;
                if self.stages_complete {
                    return Err(not_allowed("every stage of this project is complete"));
                }
                if self.pending_advance.is_some() {
                    return Err(ProjectError::Conflict(
                        "an advance is already waiting for approval".into(),
                    ));
                }
                let from = self
                    .current_stage
                    .ok_or_else(|| not_found("current stage"))?;
                let missing = self.missing_for_gate();
                if !missing.is_empty() {
                    return Err(ProjectError::GateNotMet {
                        stage: from.as_str(),
                        missing: missing.iter().map(|i| i.title.clone()).collect(),
                    });
                }
                let to = self
                    .stages
                    .iter()
                    .skip_while(|s| s.stage != from)
                    .nth(1)
                    .map(|s| s.stage);
                sink.write(
                    ProjectEvent::StageAdvanceRequested {
                        request_id,
                        from,
                        to,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::DecideAdvance {
                approve,
                reason,
                actor,
                at,
            } => {
                let pending = self
                    .pending_advance
                    .clone()
                    .ok_or_else(|| not_allowed("no stage advance is waiting for approval"))?;
                checker(
                    &actor,
                    pending.by,
                    "a stage advance",
                    "requested the advance",
                )?;
                if !approve {
                    let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                    sink.write(
                        ProjectEvent::StageAdvanceRefused {
                            request_id: pending.request_id,
                            reason,
                            by: actor.user_id,
                            at,
                        },
                        self,
                    )
                    .await;
                    return Ok(());
                }
                self.ensure_open(Change::Gate)?;
                let missing = self.missing_for_gate();
                if !missing.is_empty() {
                    return Err(ProjectError::GateNotMet {
                        stage: pending.from.as_str(),
                        missing: missing.iter().map(|i| i.title.clone()).collect(),
                    });
                }
                let reason =
                    values::optional_text("reason", Some(&reason), MAX_TEXT)?.unwrap_or_default();
                sink.write(
                    ProjectEvent::StageAdvanceApproved {
                        request_id: pending.request_id,
                        reason,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
                sink.write(
                    ProjectEvent::StageAdvanced {
                        from: pending.from,
                        to: pending.to,
                        at,
                    },
                    self,
                )
                .await;
                let billable: Vec<_> = self
                    .milestones
                    .iter()
                    .filter(|m| m.stage == pending.from && !m.billable)
                    .map(|m| m.id)
                    .collect();
                for milestone_id in billable {
                    sink.write(ProjectEvent::MilestoneBillable { milestone_id, at }, self)
                        .await;
                }
            }
            C::ExtendStageClock { reason, actor, at } => {
                self.ensure_open(Change::Work)?;
                if !is_manager(&actor) {
                    return Err(ProjectError::Forbidden(
                        "only a manager may extend a stage clock".into(),
                    ));
                }
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                let key = self
                    .current_stage
                    .ok_or_else(|| not_found("current stage"))?;
                let stage = self.stage(key).ok_or_else(|| not_found("current stage"))?;
                let Some(days) = stage.sla_extension_days else {
                    return Err(not_allowed(format!(
                        "the {} stage's clock cannot be extended on this template",
                        key.as_str()
                    )));
                };
                if stage.extended_days.is_some() {
                    return Err(not_allowed(
                        "the clock of this stage was already extended once",
                    ));
                }
                sink.write(
                    ProjectEvent::StageClockExtended {
                        stage: key,
                        days,
                        reason,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::AddLiaisonEntry { entry, actor, at } => {
                self.ensure_open(Change::Record)?;
                let regulator = values::required_text("regulator", &entry.regulator, 50)?;
                let summary = values::required_text("summary", &entry.summary, MAX_TEXT)?;
                if entry.attachments.len() > 20 {
                    return Err(
                        ValidationError::new("attachments", "at most 20 attachments").into(),
                    );
                }
                let attachments = entry
                    .attachments
                    .iter()
                    .map(|a| values::required_text("attachments", a, MAX_LINE))
                    .collect::<Result<Vec<_>, _>>()?;
                if entry.date > at.date_naive() {
                    return Err(ValidationError::new("date", "must not be in the future").into());
                }
                let change = ProjectEvent::LiaisonEntryAdded {
                    entry_id: entry.entry_id,
                    date: entry.date,
                    regulator: regulator.to_uppercase(),
                    direction: entry.direction,
                    summary,
                    attachments,
                    by: actor.user_id,
                    at,
                    proposal: None,
                };
                self.record(change, actor, at, sink).await;
            }
            C::DecideChange {
                proposal,
                approve,
                reason,
                actor,
                at,
            } => {
                let pending = self
                    .proposals
                    .iter()
                    .find(|p| p.number == proposal)
                    .cloned()
                    .ok_or_else(|| {
                        ProjectError::NotFound(format!(
                            "no change proposal {proposal} is waiting for a decision on this project"
                        ))
                    })?;
                checker(
                    &actor,
                    pending.by,
                    "a proposed change",
                    "proposed the change",
                )?;
                if !approve {
                    let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                    sink.write(
                        ProjectEvent::ChangeRefused {
                            proposal,
                            reason,
                            by: actor.user_id,
                            at,
                        },
                        self,
                    )
                    .await;
                    return Ok(());
                }
                self.ensure_open(Change::Record)?;
                let mut change = pending.change;
                match &mut change {
                    ProjectEvent::LiaisonEntryAdded { proposal: p, .. } => *p = Some(proposal),
                    ProjectEvent::LicenceRecorded { proposal: p, .. } => {
                        self.licence_may_be_recorded()?;
                        *p = Some(proposal);
                    }
                    _ => {
                        return Err(not_allowed("this kind of change cannot be approved"));
                    }
                }
                let reason =
                    values::optional_text("reason", Some(&reason), MAX_TEXT)?.unwrap_or_default();
                sink.write(
                    ProjectEvent::ChangeApproved {
                        proposal,
                        reason,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
                sink.write(change, self).await;
            }
            C::AddMilestone {
                milestone_id,
                stage,
                title,
                amount_minor,
                currency,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let title = values::required_text("title", &title, MAX_LINE)?;
                if amount_minor <= 0 {
                    return Err(ValidationError::new("amount", "must be above zero").into());
                }
                let currency = currency.trim().to_uppercase();
                if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                    return Err(ValidationError::new(
                        "currency",
                        "must be a three-letter ISO 4217 code such as INR",
                    )
                    .into());
                }
                let stage_state = self.stage(stage).ok_or_else(|| not_found("stage"))?;
                let completed = stage_state.completed_at.is_some();
                sink.write(
                    ProjectEvent::MilestoneAdded {
                        milestone_id,
                        stage,
                        title,
                        amount_minor,
                        currency,
                        at,
                    },
                    self,
                )
                .await;
                if completed {
                    sink.write(ProjectEvent::MilestoneBillable { milestone_id, at }, self)
                        .await;
                }
            }
            C::RecordLicence {
                number,
                issued_on,
                expires_on,
                actor,
                at,
            } => {
                self.ensure_open(Change::Record)?;
                self.licence_may_be_recorded()?;
                if self
                    .proposals
                    .iter()
                    .any(|p| matches!(p.change, ProjectEvent::LicenceRecorded { .. }))
                {
                    return Err(ProjectError::Conflict(
                        "a licence is already proposed and waiting for approval".into(),
                    ));
                }
                let number = values::required_text("number", &number, 100)?;
                if expires_on <= issued_on {
                    return Err(
                        ValidationError::new("expiresOn", "must be after the issue date").into(),
                    );
                }
                let change = ProjectEvent::LicenceRecorded {
                    number,
                    issued_on,
                    expires_on,
                    by: actor.user_id,
                    at,
                    proposal: None,
                };
                self.record(change, actor, at, sink).await;
            }
            C::RaiseExpiryAlerts { today, at } => {
                let Some(licence) = &self.licence else {
                    return Ok(());
                };
                let expires_on = licence.expires_on;
                if today > expires_on {
                    return Ok(());
                }
                let days_left = (expires_on - today).num_days();
                // The most urgent threshold reached; an alert at it or nearer covers it.
                let due = ALERT_DAYS
                    .iter()
                    .copied()
                    .filter(|&t| days_left <= i64::from(t))
                    .min();
                if let Some(days_ahead) = due {
                    if !self
                        .alerts_raised
                        .iter()
                        .any(|&raised| raised <= days_ahead)
                    {
                        sink.write(
                            ProjectEvent::LicenceExpiryAlertRaised {
                                days_ahead,
                                expires_on,
                                at,
                            },
                            self,
                        )
                        .await;
                    }
                }
            }
            C::AddTask { task, at } => {
                self.ensure_open(Change::Work)?;
                let NewTask {
                    task_id,
                    stage,
                    title,
                    assignee,
                    priority,
                    due_on,
                    estimate_hours,
                } = task;
                if self.task(task_id).is_some() {
                    return Err(ProjectError::AlreadyExists);
                }
                if let Some(stage) = stage {
                    self.stage(stage).ok_or_else(|| not_found("stage"))?;
                }
                let title = values::required_text("title", &title, MAX_LINE)?;
                let estimate_hours = estimate("estimateHours", estimate_hours)?;
                sink.write(
                    ProjectEvent::TaskAdded {
                        task_id,
                        stage,
                        title,
                        assignee,
                        priority,
                        due_on,
                        estimate_hours,
                        at,
                    },
                    self,
                )
                .await;
                self.roll_up(None, at, sink).await;
            }
            C::AddSubtask {
                task_id,
                subtask_id,
                title,
                assignee,
                estimate_hours,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                if task.subtasks.len() >= 200 {
                    return Err(not_allowed("a task has at most 200 subtasks"));
                }
                let title = values::required_text("title", &title, MAX_LINE)?;
                let estimate_hours = estimate("estimateHours", estimate_hours)?;
                sink.write(
                    ProjectEvent::SubtaskAdded {
                        task_id,
                        subtask_id,
                        title,
                        assignee,
                        estimate_hours,
                        at,
                    },
                    self,
                )
                .await;
                self.roll_up(Some(task_id), at, sink).await;
            }
            C::RemoveSubtask {
                task_id,
                subtask_id,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                if task.subtask(subtask_id).is_none() {
                    return Err(not_found("subtask"));
                }
                sink.write(
                    ProjectEvent::SubtaskRemoved {
                        task_id,
                        subtask_id,
                        at,
                    },
                    self,
                )
                .await;
                self.roll_up(Some(task_id), at, sink).await;
            }
            C::Assign {
                task_id,
                subtask_id,
                assignee,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                let current = match subtask_id {
                    Some(id) => {
                        task.subtask(id)
                            .ok_or_else(|| not_found("subtask"))?
                            .assignee
                    }
                    None => task.assignee,
                };
                if current != Some(assignee) {
                    sink.write(
                        ProjectEvent::TaskAssigned {
                            task_id,
                            subtask_id,
                            assignee,
                            at,
                        },
                        self,
                    )
                    .await;
                }
            }
            C::SetTaskStatus {
                task_id,
                subtask_id,
                status,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                match subtask_id {
                    Some(subtask_id) => {
                        let subtask = task
                            .subtask(subtask_id)
                            .ok_or_else(|| not_found("subtask"))?;
                        if subtask.status == status {
                            return Ok(());
                        }
                        sink.write(
                            ProjectEvent::SubtaskStatusChanged {
                                task_id,
                                subtask_id,
                                status,
                                at,
                            },
                            self,
                        )
                        .await;
                    }
                    None => {
                        if task.status == status {
                            return Ok(());
                        }
                        if !task.subtasks.is_empty() {
                            let finishing_review = task.status == TaskStatus::Review
                                && status == TaskStatus::Completed;
                            let back_to_review = task.status == TaskStatus::Completed
                                && status == TaskStatus::Review;
                            if !(finishing_review || back_to_review) {
                                return Err(not_allowed(
                                    "this task's status follows its subtasks: change a subtask instead (only Review to Completed is set on the task itself)",
                                ));
                            }
                        }
                        sink.write(
                            ProjectEvent::TaskStatusChanged {
                                task_id,
                                status,
                                at,
                            },
                            self,
                        )
                        .await;
                    }
                }
                self.roll_up(Some(task_id), at, sink).await;
            }
            C::RaiseDocumentRequest {
                request_id,
                stage,
                item_key,
                instructions,
                due_on,
                actor,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let item = self
                    .item(stage, &item_key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}: no evidence is needed",
                        item.title,
                        item.status.as_str()
                    )));
                }
                let instructions = values::required_text("instructions", &instructions, MAX_TEXT)?;
                if due_on.is_some_and(|d| d < at.date_naive()) {
                    return Err(ValidationError::new("dueOn", "must not be in the past").into());
                }
                sink.write(
                    ProjectEvent::DocumentRequestRaised {
                        request_id,
                        stage,
                        item_key,
                        instructions,
                        due_on,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RecordUpload {
                request_id,
                upload_id,
                file,
                actor,
                at,
            } => {
                self.ensure_open(Change::Record)?;
                let request = self
                    .requests
                    .iter()
                    .find(|r| r.id == request_id)
                    .ok_or_else(|| not_found("document request"))?;
                let (stage, key) = (request.stage, request.item_key.clone());
                let version = u32::try_from(request.uploads.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let item = self
                    .item(stage, &key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}: no more uploads are needed",
                        item.title,
                        item.status.as_str()
                    )));
                }
                let item_status = item.status;
                sink.write(
                    ProjectEvent::EvidenceUploaded {
                        request_id,
                        upload_id,
                        version,
                        file,
                        by: actor.user_id,
                        at,
                    },
                    self,
                )
                .await;
                if item_status != ItemStatus::EvidenceSubmitted {
                    sink.write(
                        ProjectEvent::ChecklistItemEvidenceSubmitted { stage, key, at },
                        self,
                    )
                    .await;
                }
            }
            C::ReviewUpload {
                upload_id,
                accept,
                reason,
                actor,
                at,
            } => {
                self.ensure_open(Change::Record)?;
                let request = self
                    .request_of_upload(upload_id)
                    .ok_or_else(|| not_found("upload"))?;
                let upload = request
                    .uploads
                    .iter()
                    .find(|u| u.id == upload_id)
                    .ok_or_else(|| not_found("upload"))?;
                if upload.state != UploadState::Submitted {
                    return Err(ProjectError::Conflict(format!(
                        "this upload was already {}",
                        upload.state.as_str()
                    )));
                }
                if request.uploads.last().map(|u| u.id) != Some(upload_id) {
                    return Err(ProjectError::Conflict(
                        "a newer version of this document was uploaded; review that one".into(),
                    ));
                }
                let (request_id, stage, key) =
                    (request.id, request.stage, request.item_key.clone());
                if self
                    .item(stage, &key)
                    .is_some_and(|i| i.status.is_settled())
                {
                    return Err(ProjectError::Conflict(
                        "the checklist item was settled meanwhile".into(),
                    ));
                }
                if accept {
                    sink.write(
                        ProjectEvent::UploadAccepted {
                            request_id,
                            upload_id,
                            by: actor.user_id,
                            at,
                        },
                        self,
                    )
                    .await;
                    sink.write(
                        ProjectEvent::ChecklistItemVerified {
                            stage,
                            key,
                            upload_id: Some(upload_id),
                            by: actor.user_id,
                            at,
                        },
                        self,
                    )
                    .await;
                } else {
                    let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                    sink.write(
                        ProjectEvent::UploadRejected {
                            request_id,
                            upload_id,
                            reason: reason.clone(),
                            by: actor.user_id,
                            at,
                        },
                        self,
                    )
                    .await;
                    sink.write(
                        ProjectEvent::ChecklistItemRejected {
                            stage,
                            key,
                            reason,
                            upload_id: Some(upload_id),
                            by: actor.user_id,
                            at,
                        },
                        self,
                    )
                    .await;
                }
            }
        }
        Ok(())
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
        self.decide(command, sink).await
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
