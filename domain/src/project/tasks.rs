//! Tasks and subtasks, and the roll-up of their status and progress into the task and the
//! project.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::aggregate::{not_allowed, not_found, Change, ProjectError};
use super::command::{NewTask, TaskCommand};
use super::event::ProjectEvent;
use super::model::*;
use super::rollup::TaskStatus;
use crate::values::{self, MAX_LINE};
use crate::ValidationError;

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

impl Project {
    /// The events a [`TaskCommand`] decides, or why it is refused.
    pub(super) fn decide_tasks(
        &self,
        command: TaskCommand,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        use TaskCommand as C;
        match command {
            C::SetTaskPolicy { auto_complete, at } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Work)?;
                if auto_complete != self.auto_complete_tasks {
                    events.push(ProjectEvent::TaskPolicyChanged { auto_complete, at });
                }
                Ok(events)
            }
            C::AddTask { task, at } => {
                let mut events = Vec::new();
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
                events.push(ProjectEvent::TaskAdded {
                    task_id,
                    stage,
                    title,
                    assignee,
                    priority,
                    due_on,
                    estimate_hours,
                    at,
                });
                Ok(self.rolled_up(events, None, at))
            }
            C::AddSubtask {
                task_id,
                subtask_id,
                title,
                assignee,
                estimate_hours,
                at,
            } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                if task.subtasks.len() >= 200 {
                    return Err(not_allowed("a task has at most 200 subtasks"));
                }
                let title = values::required_text("title", &title, MAX_LINE)?;
                let estimate_hours = estimate("estimateHours", estimate_hours)?;
                events.push(ProjectEvent::SubtaskAdded {
                    task_id,
                    subtask_id,
                    title,
                    assignee,
                    estimate_hours,
                    at,
                });
                Ok(self.rolled_up(events, Some(task_id), at))
            }
            C::RemoveSubtask {
                task_id,
                subtask_id,
                at,
            } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                if task.subtask(subtask_id).is_none() {
                    return Err(not_found("subtask"));
                }
                events.push(ProjectEvent::SubtaskRemoved {
                    task_id,
                    subtask_id,
                    at,
                });
                Ok(self.rolled_up(events, Some(task_id), at))
            }
            C::Assign {
                task_id,
                subtask_id,
                assignee,
                at,
            } => {
                let mut events = Vec::new();
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
                    events.push(ProjectEvent::TaskAssigned {
                        task_id,
                        subtask_id,
                        assignee,
                        at,
                    });
                }
                Ok(events)
            }
            C::SetTaskStatus {
                task_id,
                subtask_id,
                status,
                at,
            } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Work)?;
                let task = self.task(task_id).ok_or_else(|| not_found("task"))?;
                match subtask_id {
                    Some(subtask_id) => {
                        let subtask = task
                            .subtask(subtask_id)
                            .ok_or_else(|| not_found("subtask"))?;
                        if subtask.status == status {
                            return Ok(events);
                        }
                        events.push(ProjectEvent::SubtaskStatusChanged {
                            task_id,
                            subtask_id,
                            status,
                            at,
                        });
                    }
                    None => {
                        if task.status == status {
                            return Ok(events);
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
                        events.push(ProjectEvent::TaskStatusChanged {
                            task_id,
                            status,
                            at,
                        });
                    }
                }
                Ok(self.rolled_up(events, Some(task_id), at))
            }
        }
    }

    /// `events`, then the roll-up they imply: the status and progress of task `task_id` and
    /// the project's progress, decided on a copy of the project with `events` applied.
    fn rolled_up(
        &self,
        mut events: Vec<ProjectEvent>,
        task_id: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Vec<ProjectEvent> {
        let mut next = self.clone();
        for event in &events {
            next.apply(event.clone());
        }
        if let Some(task) = task_id.and_then(|id| next.task(id)) {
            let (derived, progress) = task.rolled_up(next.auto_complete_tasks);
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
                let rolled = ProjectEvent::TaskRolledUp {
                    task_id: task.id,
                    status,
                    progress,
                    at,
                };
                next.apply(rolled.clone());
                events.push(rolled);
            }
        }
        let progress = next.progress_of(None);
        if progress != next.progress {
            events.push(ProjectEvent::ProjectProgressChanged { progress, at });
        }
        events
    }
}
