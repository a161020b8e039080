//! Tasks and subtasks, and the roll-up of their progress.

use async_graphql::{Context, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::{NewTask, TaskCommand};
use domain::Permission;
use projections::projects::TaskRow;
use uuid::Uuid;

use super::{fraction, run, stage_key, ProjectPayload};
use crate::error::{ApiError, Code};
use crate::graphql::context::Ctx;
use crate::graphql::types::{parse_persisted, Priority, StageKey, TaskStatus};

/// A task or a subtask.
#[derive(Debug)]
pub(crate) struct Task {
    row: TaskRow,
    subtasks: Vec<TaskRow>,
}

impl Task {
    /// Builds the task tree from a project's rows (tasks in creation order).
    pub(crate) fn tree(rows: Vec<TaskRow>) -> Vec<Task> {
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

/// A new task.
#[derive(InputObject, Debug)]
pub(crate) struct AddTaskInput {
    /// Stage it belongs to (optional).
    stage: Option<StageKey>,
    title: String,
    /// Assignee (an internal user).
    assignee_id: Option<Uuid>,
    /// Priority (default MEDIUM).
    priority: Option<Priority>,
    /// Due date.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    due_on: Option<NaiveDate>,
    /// Estimate in hours (above 0).
    estimate_hours: Option<f64>,
}

/// A new subtask.
#[derive(InputObject, Debug)]
pub(crate) struct AddSubtaskInput {
    title: String,
    assignee_id: Option<Uuid>,
    /// Estimate in hours.
    estimate_hours: Option<f64>,
}

/// Refuses an assignee who is not an active internal user, after the caller's rights (so the
/// answer tells nobody without them which ids are staff).
async fn check_assignee(ctx: &Context<'_>, user_id: Uuid) -> Result<(), ApiError> {
    ctx.request().auth.require(Permission::WorkProjects)?;
    match projections::users::find(&ctx.state().pool, user_id).await? {
        Some(user) if user.active && user.client_id.is_none() => Ok(()),
        _ => Err(ApiError::new(
            Code::BadUserInput,
            "assigneeId: no active internal user has this id",
        )),
    }
}

/// Task queries.
#[derive(Default, Debug)]
pub(crate) struct TaskQuery;

#[Object]
impl TaskQuery {
    /// Open tasks and subtasks assigned to the viewer.
    async fn my_tasks(&self, ctx: &Context<'_>) -> Result<Vec<Task>> {
        let viewer = ctx.request().auth.require(Permission::WorkProjects)?;
        let rows = projections::projects::assigned_to(&ctx.state().pool, viewer.user_id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .flat_map(|row| Task::tree(vec![row]))
            .collect())
    }
}

/// Task mutations.
#[derive(Default, Debug)]
pub(crate) struct TaskMutation;

#[Object]
impl TaskMutation {
    /// Whether tasks complete by themselves once all their subtasks are completed (default:
    /// they go to review).
    async fn set_auto_complete_tasks(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        enabled: bool,
    ) -> Result<ProjectPayload> {
        run(ctx, project_id, Permission::WorkProjects, None, |_, at| {
            TaskCommand::SetTaskPolicy {
                auto_complete: enabled,
                at,
            }
            .into()
        })
        .await
    }

    /// Adds a task.
    async fn add_task(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: AddTaskInput,
    ) -> Result<ProjectPayload> {
        if let Some(assignee) = input.assignee_id {
            check_assignee(ctx, assignee).await?;
        }
        let task_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(task_id),
            |_, at| {
                TaskCommand::AddTask {
                    task: NewTask {
                        task_id,
                        stage: input.stage.map(Into::into),
                        title: input.title,
                        assignee: input.assignee_id,
                        priority: input.priority.map(Into::into).unwrap_or_default(),
                        due_on: input.due_on,
                        estimate_hours: input.estimate_hours,
                    },
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Adds a subtask; the task's status and progress follow.
    async fn add_subtask(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        task_id: Uuid,
        input: AddSubtaskInput,
    ) -> Result<ProjectPayload> {
        if let Some(assignee) = input.assignee_id {
            check_assignee(ctx, assignee).await?;
        }
        let subtask_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(subtask_id),
            |_, at| {
                TaskCommand::AddSubtask {
                    task_id,
                    subtask_id,
                    title: input.title,
                    assignee: input.assignee_id,
                    estimate_hours: input.estimate_hours,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Removes a subtask; the task's status and progress follow.
    async fn remove_subtask(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        task_id: Uuid,
        subtask_id: Uuid,
    ) -> Result<ProjectPayload> {
        run(ctx, project_id, Permission::WorkProjects, None, |_, at| {
            TaskCommand::RemoveSubtask {
                task_id,
                subtask_id,
                at,
            }
            .into()
        })
        .await
    }

    /// Assigns a task, or one of its subtasks.
    async fn assign_task(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        task_id: Uuid,
        subtask_id: Option<Uuid>,
        assignee_id: Uuid,
    ) -> Result<ProjectPayload> {
        check_assignee(ctx, assignee_id).await?;
        run(ctx, project_id, Permission::WorkProjects, None, |_, at| {
            TaskCommand::Assign {
                task_id,
                subtask_id,
                assignee: assignee_id,
                at,
            }
            .into()
        })
        .await
    }

    /// Sets the status of a subtask (the task rolls up) or of a task without subtasks (a
    /// task with subtasks only moves from REVIEW to COMPLETED by hand).
    async fn set_task_status(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        task_id: Uuid,
        subtask_id: Option<Uuid>,
        status: TaskStatus,
    ) -> Result<ProjectPayload> {
        run(ctx, project_id, Permission::WorkProjects, None, |_, at| {
            TaskCommand::SetTaskStatus {
                task_id,
                subtask_id,
                status: status.into(),
                at,
            }
            .into()
        })
        .await
    }
}
