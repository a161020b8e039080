//! Projects: the `Project` type, project lists, the answer every project mutation gives,
//! and the lifecycle mutations; each area of the delivery engine is a file beside this one.

mod billing;
mod changes;
mod documents;
mod gates;
pub(super) mod tasks;

pub(super) use billing::BillingMutation;
pub(super) use changes::{ChangeMutation, ChangeQuery};
pub(super) use documents::{DocumentMutation, DocumentQuery};
pub(super) use gates::{GateMutation, GateQuery};
pub(super) use tasks::{TaskMutation, TaskQuery};

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use commands::Appended;
use domain::project::{Actor, ProjectCommand};
use domain::Permission;
use projections::projects::{ItemRow, ProjectFilter, ProjectRow, ProjectSortField};
use uuid::Uuid;

use self::billing::{ExpiryAlert, Licence, Milestone};
use self::changes::{ChangeProposal, LiaisonEntry};
use self::documents::DocumentRequest;
use self::gates::{ChecklistItem, ProjectStage, StageAdvance};
use self::tasks::Task;
use crate::auth::Viewer;
use crate::error::{ApiError, Code};
use crate::graphql::clients::Client;
use crate::graphql::connection::{self, objects, search_text, CountField};
use crate::graphql::context::{staff, Ctx};
use crate::graphql::loaders::Clients;
use crate::graphql::types::{parse_persisted, ProjectStatus, SortDirection, StageKey};
use crate::state::ReadBack;

/// Read models a project mutation answers from.
pub const PROJECT_READ_MODELS: [&str; 2] = [
    projections::projects::NAME,
    projections::notifications::NAME,
];

/// Result of a project mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct ProjectPayload {
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
pub(super) async fn payload(
    ctx: &Context<'_>,
    project_id: Uuid,
    created_id: Option<Uuid>,
    appended: Appended,
) -> Result<ProjectPayload> {
    let state = ctx.state();
    let ReadBack {
        record: project,
        caught_up,
    } = state
        .after_append(&PROJECT_READ_MODELS, appended, async {
            // Refusals and failures are logged where they happen; here only what to say.
            visible_project(ctx, project_id)
                .await
                .map_err(|e| e.message)
        })
        .await;
    Ok(ProjectPayload {
        project,
        created_id,
        caught_up,
    })
}

/// Basis points to a 0..1 fraction.
pub(super) fn fraction(basis_points: i32) -> f64 {
    f64::from(basis_points) / f64::from(domain::project::rollup::FULL)
}

fn stage_key(name: &str) -> Option<StageKey> {
    parse_persisted::<domain::template::StageKey>(name).map(Into::into)
}

/// A regulated project.
#[derive(Debug)]
pub(super) struct Project(pub ProjectRow);

#[Object]
impl Project {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn client_id(&self) -> Uuid {
        self.0.client_id
    }
    /// The client (always the viewer's own for portal users).
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        Ok(ctx
            .data_unchecked::<DataLoader<Clients>>()
            .load_one(self.0.client_id)
            .await
            .map_err(ApiError::from)?
            .map(Client))
    }
    async fn family(&self) -> &str {
        &self.0.family
    }
    async fn template_id(&self) -> Uuid {
        self.0.template_id
    }
    /// The template version the project is pinned to.
    async fn template_version(&self) -> i32 {
        self.0.template_version
    }
    async fn status(&self) -> Option<ProjectStatus> {
        parse_persisted::<domain::project::ProjectStatus>(&self.0.status).map(Into::into)
    }
    async fn current_stage(&self) -> Option<StageKey> {
        parse_persisted::<domain::template::StageKey>(&self.0.current_stage).map(Into::into)
    }
    async fn stage_started_at(&self) -> DateTime<Utc> {
        self.0.stage_started_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Stages in order with their checklists, clocks and progress.
    async fn stages(&self, ctx: &Context<'_>) -> Result<Vec<ProjectStage>> {
        let pool = &ctx.state().pool;
        let stages = projections::projects::stages(pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        let mut items = projections::projects::items(pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(stages
            .into_iter()
            .map(|stage| {
                let (mine, rest): (Vec<ItemRow>, Vec<ItemRow>) =
                    items.drain(..).partition(|i| i.stage == stage.stage);
                items = rest;
                ProjectStage::new(stage, mine.into_iter().map(ChecklistItem::from).collect())
            })
            .collect())
    }
    /// Estimate-weighted progress over the project's tasks, 0 to 1 (0 without tasks).
    async fn progress(&self) -> f64 {
        fraction(self.0.progress)
    }
    /// Tasks whose subtasks are all completed complete by themselves (else they go to review).
    async fn auto_complete_tasks(&self) -> bool {
        self.0.auto_complete_tasks
    }
    /// Every stage, Issue included, is complete.
    async fn stages_complete(&self) -> bool {
        self.0.stages_complete
    }
    /// The granted licence or registration, once recorded.
    async fn licence(&self) -> Option<Licence> {
        Some(Licence {
            number: self.0.licence_number.clone()?,
            issued_on: self.0.licence_issued_on?,
            expires_on: self.0.licence_expires_on?,
        })
    }
    /// Tasks with their subtasks, in creation order.
    async fn tasks(&self, ctx: &Context<'_>) -> Result<Vec<Task>> {
        Ok(Task::tree(
            projections::projects::tasks(&ctx.state().pool, self.0.id)
                .await
                .map_err(ApiError::from)?,
        ))
    }
    /// Document requests, newest first.
    async fn document_requests(&self, ctx: &Context<'_>) -> Result<Vec<DocumentRequest>> {
        let filter = projections::projects::RequestFilter {
            project_id: Some(self.0.id),
            ..Default::default()
        };
        Ok(projections::projects::requests(&ctx.state().pool, &filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(DocumentRequest)
            .collect())
    }
    /// Requests still waiting for the customer (open or rejected), for the portal.
    async fn pending_requests(&self, ctx: &Context<'_>) -> Result<Vec<DocumentRequest>> {
        let filter = projections::projects::RequestFilter {
            project_id: Some(self.0.id),
            statuses: vec!["open".into(), "rejected".into()],
            ..Default::default()
        };
        Ok(projections::projects::requests(&ctx.state().pool, &filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(DocumentRequest)
            .collect())
    }
    /// Correspondence with the regulator, newest first (internal).
    async fn liaison_log(&self, ctx: &Context<'_>) -> Result<Vec<LiaisonEntry>> {
        staff(ctx)?;
        Ok(objects(
            projections::projects::liaison(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Billing milestones (internal).
    async fn milestones(&self, ctx: &Context<'_>) -> Result<Vec<Milestone>> {
        staff(ctx)?;
        Ok(objects(
            projections::projects::milestones(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Stage-advance requests with their decisions, oldest first (internal).
    async fn stage_advances(&self, ctx: &Context<'_>) -> Result<Vec<StageAdvance>> {
        staff(ctx)?;
        Ok(objects(
            projections::projects::advances(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Changes proposed while closed pending updates, with their decisions (internal).
    async fn change_proposals(&self, ctx: &Context<'_>) -> Result<Vec<ChangeProposal>> {
        staff(ctx)?;
        Ok(objects(
            projections::projects::proposals(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Licence expiry alerts raised.
    async fn expiry_alerts(&self, ctx: &Context<'_>) -> Result<Vec<ExpiryAlert>> {
        Ok(objects(
            projections::projects::alerts(&ctx.state().pool, self.0.id).await,
        )?)
    }
}

/// Loads a project the viewer may see, or `NOT_FOUND` (never `FORBIDDEN`, which would
/// confirm that another client's project exists).
pub(super) async fn visible_project(
    ctx: &Context<'_>,
    id: Uuid,
) -> Result<Option<Project>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
    let row = projections::projects::find(&ctx.state().pool, id).await?;
    Ok(row.filter(|p| viewer.sees_client(p.client_id)).map(Project))
}

/// Project list filters.
#[derive(InputObject, Default, Debug)]
pub(super) struct ProjectFilterInput {
    /// Of this client (ignored for portal users, who only see their own).
    client_id: Option<Uuid>,
    /// With this status.
    status: Option<ProjectStatus>,
    /// Of this template family (RBI, SEBI, IRDAI, ...).
    family: Option<String>,
    /// Text in the name.
    search: Option<String>,
}

/// Project sort fields.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ProjectSortBy {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last change.
    UpdatedAt,
    Name,
}

#[derive(InputObject, Default, Debug)]
pub(super) struct ProjectSort {
    #[graphql(default)]
    field: ProjectSortBy,
    #[graphql(default)]
    direction: SortDirection,
}

/// Project queries.
#[derive(Default, Debug)]
pub(super) struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// One project (portal users: only their client's).
    async fn project(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Project>> {
        Ok(visible_project(ctx, id).await?)
    }

    /// Projects, a page at a time (portal users: only their client's).
    async fn projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProjectFilterInput>,
        sort: Option<ProjectSort>,
    ) -> Result<Connection<String, Project, CountField>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        let (first, cursor) = connection::arguments(first, after.as_deref())?;
        let input = filter.unwrap_or_default();
        let filter = ProjectFilter {
            client_id: if viewer.role.is_portal() {
                Some(viewer.client_id.unwrap_or_else(Uuid::nil))
            } else {
                input.client_id
            },
            status: input
                .status
                .map(|s| domain::project::ProjectStatus::from(s).as_str().to_owned()),
            family: input.family,
            search: search_text(input.search)?,
        };
        let sort = sort.unwrap_or_default();
        let field = match sort.field {
            ProjectSortBy::CreatedAt => ProjectSortField::CreatedAt,
            ProjectSortBy::UpdatedAt => ProjectSortField::UpdatedAt,
            ProjectSortBy::Name => ProjectSortField::Name,
        };
        let pool = &ctx.state().pool;
        let descending = sort.direction == SortDirection::Desc;
        Ok(connection::respond(
            ctx,
            cursor.is_some(),
            projections::projects::list(pool, &filter, field, descending, first, cursor.as_ref()),
            || projections::projects::count(pool, &filter),
            |r| (r.sort_value.clone(), r.id),
            Project,
        )
        .await?)
    }
}

/// Project lifecycle mutations.
#[derive(Default, Debug)]
pub(super) struct ProjectMutation;

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
}
