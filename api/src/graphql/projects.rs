//! Project mutations (stage gates, checklist, tasks, documents, liaison, milestones,
//! licence) and the delivery queries (document requests, review queue, pending advances,
//! my tasks, notifications).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{NaiveDate, Utc};
use commands::Appended;
use domain::project::{Actor, NewLiaisonEntry, NewTask, ProjectCommand};
use domain::user::UserCommand;
use domain::Permission;
use uuid::Uuid;

use super::context::Ctx;
use super::delivery::{
    objects, visible_request, ChangeProposal, DocumentRequest, Notification, StageAdvance, Task,
    Upload,
};
use super::records::{visible_project, Project};
use super::types::{Direction, Priority, ProjectStatus, RequestStatus, StageKey, TaskStatus};
use crate::auth::Viewer;
use crate::error::{ApiError, Code};

/// Read models a project mutation answers from.
pub const PROJECT_READ_MODELS: [&str; 2] = ["projects", "notifications"];

/// Result of a project mutation.
#[derive(SimpleObject, Debug)]
pub struct ProjectPayload {
    /// The project as the read model shows it.
    project: Option<Project>,
    /// The id of what the mutation created (task, subtask, request, entry, milestone), if any.
    created_id: Option<Uuid>,
    /// False when the read models had not caught up within the wait bound.
    caught_up: bool,
}

fn actor(viewer: &Viewer) -> Actor {
    Actor {
        user_id: viewer.user_id,
        role: viewer.role,
    }
}

/// A proposal number as the domain counts them.
fn proposal_number(number: i64) -> Result<u32, ApiError> {
    u32::try_from(number).map_err(|_| ApiError::bad_input("number: no such change proposal"))
}

/// Runs a project command for a viewer holding `permission` who may see the project.
async fn run(
    ctx: &Context<'_>,
    project_id: Uuid,
    permission: Permission,
    created_id: Option<Uuid>,
    command: impl FnOnce(Actor, chrono::DateTime<Utc>) -> ProjectCommand,
) -> Result<ProjectPayload> {
    let viewer = ctx.request().auth.require(permission)?;
    if visible_project(ctx, project_id).await?.is_none() {
        return Err(ApiError::new(Code::NotFound, "project not found").into());
    }
    let command_ctx = ctx.command_context(&viewer);
    let appended = ctx
        .state()
        .bus
        .project(
            &command_ctx,
            project_id,
            command(actor(&viewer), command_ctx.issued_at),
        )
        .await
        .map_err(ApiError::from)?;
    payload(ctx, project_id, created_id, appended).await
}

/// Waits for the read models, then answers with the project.
pub async fn payload(
    ctx: &Context<'_>,
    project_id: Uuid,
    created_id: Option<Uuid>,
    appended: Appended,
) -> Result<ProjectPayload> {
    let state = ctx.state();
    let mut caught_up = state.caught_up(&PROJECT_READ_MODELS, appended).await;
    // The events are stored: a failed read-back (logged where it failed) answers what it has.
    let project = visible_project(ctx, project_id).await.unwrap_or_else(|_| {
        caught_up = false;
        None
    });
    Ok(ProjectPayload {
        project,
        created_id,
        caught_up,
    })
}

/// A new task.
#[derive(InputObject, Debug)]
pub struct AddTaskInput {
    /// Stage it belongs to (optional).
    stage: Option<StageKey>,
    /// Title.
    title: String,
    /// Assignee (an internal user).
    assignee_id: Option<Uuid>,
    /// Priority (default MEDIUM).
    priority: Option<Priority>,
    /// Due date.
    #[graphql(validator(custom = "super::types::Storable"))]
    due_on: Option<NaiveDate>,
    /// Estimate in hours (above 0).
    estimate_hours: Option<f64>,
}

/// A new subtask.
#[derive(InputObject, Debug)]
pub struct AddSubtaskInput {
    /// Title.
    title: String,
    /// Assignee.
    assignee_id: Option<Uuid>,
    /// Estimate in hours.
    estimate_hours: Option<f64>,
}

/// A document request.
#[derive(InputObject, Debug)]
pub struct RaiseDocumentRequestInput {
    /// Stage of the checklist item.
    stage: StageKey,
    /// Checklist item key.
    item_key: String,
    /// What the customer must provide.
    instructions: String,
    /// Due date (reminders are emailed 3 days and 1 day before).
    #[graphql(validator(custom = "super::types::Storable"))]
    due_on: Option<NaiveDate>,
}

/// A liaison log entry.
#[derive(InputObject, Debug)]
pub struct LiaisonEntryInput {
    /// Date of the correspondence (not in the future).
    #[graphql(validator(custom = "super::types::Storable"))]
    date: NaiveDate,
    /// Regulator (RBI, SEBI, IRDAI, ...).
    regulator: String,
    /// Direction.
    direction: Direction,
    /// Summary.
    summary: String,
    /// Attachment references (file names, document numbers; at most 20).
    #[graphql(default)]
    attachments: Vec<String>,
}

/// A billing milestone.
#[derive(InputObject, Debug)]
pub struct MilestoneInput {
    /// Stage whose completion makes it billable.
    stage: StageKey,
    /// Title.
    title: String,
    /// Amount in minor units (paise, cents), above 0.
    amount_minor: i64,
    /// ISO 4217 currency code.
    currency: String,
}

/// The granted licence.
#[derive(InputObject, Debug)]
pub struct LicenceInput {
    /// Licence or registration number.
    number: String,
    /// Issue date.
    #[graphql(validator(custom = "super::types::Storable"))]
    issued_on: NaiveDate,
    /// Expiry date (after the issue date).
    #[graphql(validator(custom = "super::types::Storable"))]
    expires_on: NaiveDate,
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

/// Project mutations.
#[derive(Default, Debug)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    /// Renames a project.
    async fn rename_project(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        name: String,
    ) -> Result<ProjectPayload> {
        run(ctx, id, Permission::WorkProjects, None, |_, at| {
            ProjectCommand::Rename { name, at }
        })
        .await
    }

    /// Changes a project's status (managers; a reason is required).
    async fn set_project_status(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        status: ProjectStatus,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(ctx, id, Permission::WorkProjects, None, |actor, at| {
            ProjectCommand::SetStatus {
                status: status.into(),
                reason,
                actor,
                at,
            }
        })
        .await
    }

    /// Whether tasks complete by themselves once all their subtasks are completed (default:
    /// they go to review).
    async fn set_auto_complete_tasks(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        enabled: bool,
    ) -> Result<ProjectPayload> {
        run(ctx, project_id, Permission::WorkProjects, None, |_, at| {
            ProjectCommand::SetTaskPolicy {
                auto_complete: enabled,
                at,
            }
        })
        .await
    }

    /// Verifies a checklist item that needs no evidence (evidence is verified by accepting
    /// its upload).
    async fn verify_checklist_item(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        stage: StageKey,
        key: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| ProjectCommand::VerifyItem {
                stage: stage.into(),
                key,
                actor,
                at,
            },
        )
        .await
    }

    /// Waives a checklist item (managers only, with a reason).
    async fn waive_checklist_item(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        stage: StageKey,
        key: String,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| ProjectCommand::WaiveItem {
                stage: stage.into(),
                key,
                reason,
                actor,
                at,
            },
        )
        .await
    }

    /// Asks to move the project to its next stage. Refused, listing the missing items,
    /// unless every mandatory item of the current stage is verified or waived.
    async fn request_stage_advance(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
    ) -> Result<ProjectPayload> {
        let request_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(request_id),
            |actor, at| ProjectCommand::RequestAdvance {
                request_id,
                actor,
                at,
            },
        )
        .await
    }

    /// Approves the pending advance (a manager or reviewer other than the requester).
    async fn approve_stage_advance(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(default)] comment: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| ProjectCommand::DecideAdvance {
                approve: true,
                reason: comment,
                actor,
                at,
            },
        )
        .await
    }

    /// Refuses the pending advance, with a reason.
    async fn refuse_stage_advance(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| ProjectCommand::DecideAdvance {
                approve: false,
                reason,
                actor,
                at,
            },
        )
        .await
    }

    /// Approves a change proposed while the project is closed pending updates (a manager or
    /// reviewer other than the proposer); the change is applied in the same append.
    async fn approve_project_change(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(validator(minimum = 1))] number: i64,
        #[graphql(default)] comment: String,
    ) -> Result<ProjectPayload> {
        let proposal = proposal_number(number)?;
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| ProjectCommand::DecideChange {
                proposal,
                approve: true,
                reason: comment,
                actor,
                at,
            },
        )
        .await
    }

    /// Refuses a proposed change, with a reason; nothing of it is applied.
    async fn refuse_project_change(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(validator(minimum = 1))] number: i64,
        reason: String,
    ) -> Result<ProjectPayload> {
        let proposal = proposal_number(number)?;
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| ProjectCommand::DecideChange {
                proposal,
                approve: false,
                reason,
                actor,
                at,
            },
        )
        .await
    }

    /// Extends the current stage's clock by the template's extension, once (managers).
    async fn extend_stage_clock(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| ProjectCommand::ExtendStageClock { reason, actor, at },
        )
        .await
    }

    /// Logs correspondence with the regulator.
    async fn add_liaison_entry(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: LiaisonEntryInput,
    ) -> Result<ProjectPayload> {
        let entry_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(entry_id),
            |actor, at| ProjectCommand::AddLiaisonEntry {
                entry: NewLiaisonEntry {
                    entry_id,
                    date: input.date,
                    regulator: input.regulator,
                    direction: input.direction.into(),
                    summary: input.summary,
                    attachments: input.attachments,
                },
                actor,
                at,
            },
        )
        .await
    }

    /// Adds a billing milestone tied to a stage.
    async fn add_milestone(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: MilestoneInput,
    ) -> Result<ProjectPayload> {
        let milestone_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(milestone_id),
            |_, at| ProjectCommand::AddMilestone {
                milestone_id,
                stage: input.stage.into(),
                title: input.title,
                amount_minor: input.amount_minor,
                currency: input.currency,
                at,
            },
        )
        .await
    }

    /// Records the granted licence at the Issue stage.
    async fn record_licence(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: LicenceInput,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| ProjectCommand::RecordLicence {
                number: input.number,
                issued_on: input.issued_on,
                expires_on: input.expires_on,
                actor,
                at,
            },
        )
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
            |_, at| ProjectCommand::AddTask {
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
            |_, at| ProjectCommand::AddSubtask {
                task_id,
                subtask_id,
                title: input.title,
                assignee: input.assignee_id,
                estimate_hours: input.estimate_hours,
                at,
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
            ProjectCommand::RemoveSubtask {
                task_id,
                subtask_id,
                at,
            }
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
            ProjectCommand::Assign {
                task_id,
                subtask_id,
                assignee: assignee_id,
                at,
            }
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
            ProjectCommand::SetTaskStatus {
                task_id,
                subtask_id,
                status: status.into(),
                at,
            }
        })
        .await
    }

    /// Raises a document request on a checklist item; the client's portal users see it
    /// and are notified.
    async fn raise_document_request(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: RaiseDocumentRequestInput,
    ) -> Result<ProjectPayload> {
        let request_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(request_id),
            |actor, at| ProjectCommand::RaiseDocumentRequest {
                request_id,
                stage: input.stage.into(),
                item_key: input.item_key,
                instructions: input.instructions,
                due_on: input.due_on,
                actor,
                at,
            },
        )
        .await
    }

    /// Accepts an upload: its checklist item becomes verified.
    async fn accept_upload(&self, ctx: &Context<'_>, upload_id: Uuid) -> Result<ProjectPayload> {
        review(ctx, upload_id, true, String::new()).await
    }

    /// Rejects an upload with a reason the customer sees; they may upload again.
    async fn reject_upload(
        &self,
        ctx: &Context<'_>,
        upload_id: Uuid,
        reason: String,
    ) -> Result<ProjectPayload> {
        review(ctx, upload_id, false, reason).await
    }

    /// Marks notifications read (all of them when `ids` is omitted).
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<Uuid>>,
    ) -> Result<i64> {
        let viewer = ctx.request().auth.viewer()?;
        let command_ctx = ctx.command_context(&viewer);
        let state = ctx.state();
        let appended = state
            .bus
            .user(
                &command_ctx,
                viewer.user_id,
                UserCommand::MarkNotificationsRead {
                    ids,
                    at: command_ctx.issued_at,
                },
            )
            .await
            .map_err(ApiError::from)?;
        state.caught_up(&["notifications"], appended).await;
        Ok(
            projections::notifications::unread(&state.pool, viewer.user_id)
                .await
                .map_err(ApiError::from)?,
        )
    }
}

async fn review(
    ctx: &Context<'_>,
    upload_id: Uuid,
    accept: bool,
    reason: String,
) -> Result<ProjectPayload> {
    ctx.request().auth.require(Permission::ReviewEvidence)?;
    let upload = projections::projects::upload(&ctx.state().pool, upload_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::new(Code::NotFound, "upload not found"))?;
    run(
        ctx,
        upload.project_id,
        Permission::ReviewEvidence,
        None,
        |actor, at| ProjectCommand::ReviewUpload {
            upload_id,
            accept,
            reason,
            actor,
            at,
        },
    )
    .await
}

/// Delivery queries.
#[derive(Default, Debug)]
pub struct DeliveryQuery;

#[Object]
impl DeliveryQuery {
    /// Document requests the viewer may see (portal users: their own client's), newest
    /// first; filter by project and status.
    async fn document_requests(
        &self,
        ctx: &Context<'_>,
        project_id: Option<Uuid>,
        status: Option<Vec<RequestStatus>>,
    ) -> Result<Vec<DocumentRequest>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        let filter = projections::projects::RequestFilter {
            client_id: if viewer.role.is_portal() {
                Some(viewer.client_id.unwrap_or_default())
            } else {
                None
            },
            project_id,
            statuses: status
                .unwrap_or_default()
                .iter()
                .map(super::types::persisted_name)
                .collect(),
        };
        Ok(projections::projects::requests(&ctx.state().pool, &filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(DocumentRequest)
            .collect())
    }

    /// One document request (null when it does not exist or is not the viewer's).
    async fn document_request(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<Option<DocumentRequest>> {
        Ok(visible_request(ctx, id).await?.map(DocumentRequest))
    }

    /// Uploads waiting for review, oldest first (reviewers and managers).
    async fn review_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<Upload>> {
        ctx.request().auth.require(Permission::ReviewEvidence)?;
        Ok(
            projections::projects::review_queue(&ctx.state().pool, first)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(Upload)
                .collect(),
        )
    }

    /// Stage advances waiting for a second person, oldest first.
    async fn pending_stage_advances(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<StageAdvance>> {
        ctx.request().auth.require(Permission::ApproveGates)?;
        Ok(objects(
            projections::projects::pending_advances(&ctx.state().pool, first).await,
        )?)
    }

    /// Changes to projects closed pending updates waiting for a second person, oldest first.
    async fn pending_project_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<ChangeProposal>> {
        ctx.request().auth.require(Permission::ApproveGates)?;
        Ok(objects(
            projections::projects::pending_proposals(&ctx.state().pool, first).await,
        )?)
    }

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

    /// The viewer's notifications, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] unread_only: bool,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<Notification>> {
        let viewer = ctx.request().auth.viewer()?;
        Ok(objects(
            projections::notifications::list(&ctx.state().pool, viewer.user_id, unread_only, first)
                .await,
        )?)
    }

    /// How many unread notifications the viewer has.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let viewer = ctx.request().auth.viewer()?;
        Ok(
            projections::notifications::unread(&ctx.state().pool, viewer.user_id)
                .await
                .map_err(ApiError::from)?,
        )
    }
}
