//! The organisation: departments and teams with their managers and members (admins manage
//! them; internal users read them). A customer who reaches a team through their own matter
//! (a service item's owning team) sees its id and name only: its department, its members
//! and a department's teams are null for them.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use commands::Appended;
use domain::team::{DepartmentCommand, TeamCommand};
use domain::Permission;
use projections::teams::{DepartmentRow, MemberRow, TeamRow};
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::graphql::context::{customer, staff, Ctx};
use crate::graphql::loaders::Users;
use crate::graphql::users::User;
use crate::state::ReadBack;

/// Read models a team mutation answers from.
const TEAM_READ_MODELS: [&str; 1] = [projections::teams::NAME];

/// A department of the firm (customers see its id and name only).
#[derive(Debug)]
pub(super) struct Department(DepartmentRow);

#[Object]
impl Department {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its teams, by name (null for customers).
    async fn teams(&self, ctx: &Context<'_>) -> Result<Option<Vec<Team>>> {
        if customer(ctx).is_some() {
            return Ok(None);
        }
        let rows = projections::teams::teams(&ctx.state().pool, Some(self.0.id), None)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(rows.into_iter().map(Team).collect()))
    }
}

/// A team: who manages it and who is in it (customers see its id and name only).
#[derive(Debug)]
pub(super) struct Team(pub(crate) TeamRow);

#[Object]
impl Team {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Null for customers.
    async fn department_id(&self, ctx: &Context<'_>) -> Option<Uuid> {
        customer(ctx).is_none().then_some(self.0.department_id)
    }
    /// Null for customers.
    async fn department(&self, ctx: &Context<'_>) -> Result<Option<Department>> {
        if customer(ctx).is_some() {
            return Ok(None);
        }
        let row = projections::teams::department(&ctx.state().pool, self.0.department_id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(Department))
    }
    /// Members, managers first (null for customers).
    async fn members(&self, ctx: &Context<'_>) -> Result<Option<Vec<TeamMember>>> {
        if customer(ctx).is_some() {
            return Ok(None);
        }
        let rows = projections::teams::members(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(rows.into_iter().map(TeamMember).collect()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A member of a team.
#[derive(Debug)]
pub(super) struct TeamMember(MemberRow);

#[Object]
impl TeamMember {
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let load = ctx
            .data_unchecked::<DataLoader<Users>>()
            .load_one(self.0.user_id);
        Ok(load.await.map_err(ApiError::from)?.map(User))
    }
    /// Whether they manage the team (and so approve its members' effort and route its work).
    async fn manager(&self) -> bool {
        self.0.manager
    }
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
}

/// Organisation queries.
#[derive(Default, Debug)]
pub(super) struct TeamQuery;

#[Object]
impl TeamQuery {
    /// Every department, by name (internal users).
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<Department>> {
        staff(ctx)?;
        let rows = projections::teams::departments(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Department).collect())
    }

    /// Teams by name: of one department, or those a user is in (internal users).
    async fn teams(
        &self,
        ctx: &Context<'_>,
        department_id: Option<Uuid>,
        member_id: Option<Uuid>,
    ) -> Result<Vec<Team>> {
        staff(ctx)?;
        let rows = projections::teams::teams(&ctx.state().pool, department_id, member_id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Team).collect())
    }

    /// One team (internal users).
    async fn team(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Team>> {
        staff(ctx)?;
        let row = projections::teams::team(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(Team))
    }

    /// Whether `managerId` manages `userId`: a manager of a team the user is in
    /// (internal users).
    async fn manages(&self, ctx: &Context<'_>, manager_id: Uuid, user_id: Uuid) -> Result<bool> {
        staff(ctx)?;
        Ok(
            projections::teams::manages(&ctx.state().pool, manager_id, user_id)
                .await
                .map_err(ApiError::from)?,
        )
    }
}

/// A new team.
#[derive(InputObject, Debug)]
pub(super) struct CreateTeamInput {
    name: String,
    department_id: Uuid,
}

/// Result of a department mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct DepartmentPayload {
    department: Option<Department>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// Result of a team mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct TeamPayload {
    team: Option<Team>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// Organisation mutations (admins).
#[derive(Default, Debug)]
pub(super) struct TeamMutation;

async fn department_exists(ctx: &Context<'_>, id: Uuid) -> Result<(), ApiError> {
    match projections::teams::department(&ctx.state().pool, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::new(Code::NotFound, "department not found")),
    }
}

/// A user who may be in a team: an active internal user.
async fn check_member(ctx: &Context<'_>, user_id: Uuid) -> Result<(), ApiError> {
    let user = projections::users::find(&ctx.state().pool, user_id)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound, "user not found"))?;
    if domain::Role::parse(&user.role).is_none_or(domain::Role::is_portal) {
        return Err(ApiError::bad_input(
            "userId: a portal user cannot be in a team of the firm",
        ));
    }
    if !user.active {
        return Err(ApiError::bad_input("userId: this user is deactivated"));
    }
    Ok(())
}

async fn department_payload(
    ctx: &Context<'_>,
    id: Uuid,
    appended: Appended,
) -> Result<DepartmentPayload> {
    let state = ctx.state();
    let ReadBack {
        record: department,
        caught_up,
    } = state
        .after_append(
            &TEAM_READ_MODELS,
            appended,
            projections::teams::department(&state.pool, id),
        )
        .await
        .map(Department);
    Ok(DepartmentPayload {
        department,
        caught_up,
    })
}

async fn team_payload(ctx: &Context<'_>, id: Uuid, appended: Appended) -> Result<TeamPayload> {
    let state = ctx.state();
    let ReadBack {
        record: team,
        caught_up,
    } = state
        .after_append(
            &TEAM_READ_MODELS,
            appended,
            projections::teams::team(&state.pool, id),
        )
        .await
        .map(Team);
    Ok(TeamPayload { team, caught_up })
}

/// Runs a team command for an admin.
async fn run(
    ctx: &Context<'_>,
    team_id: Uuid,
    command: impl FnOnce(DateTime<Utc>) -> TeamCommand,
) -> Result<TeamPayload> {
    let viewer = ctx.request().auth.require(Permission::ManageTeams)?;
    let command_ctx = ctx.command_context(&viewer);
    let appended = ctx
        .state()
        .bus
        .team(&command_ctx, team_id, command(command_ctx.issued_at))
        .await
        .map_err(ApiError::from)?;
    team_payload(ctx, team_id, appended).await
}

#[Object]
impl TeamMutation {
    /// Creates a department (admins).
    async fn create_department(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<DepartmentPayload> {
        let viewer = ctx.request().auth.require(Permission::ManageTeams)?;
        let command_ctx = ctx.command_context(&viewer);
        let department_id = Uuid::now_v7();
        let command = DepartmentCommand::Create {
            department_id,
            name,
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .department(&command_ctx, department_id, command)
            .await
            .map_err(ApiError::from)?;
        department_payload(ctx, department_id, appended).await
    }

    /// Renames a department (admins).
    async fn rename_department(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        name: String,
    ) -> Result<DepartmentPayload> {
        let viewer = ctx.request().auth.require(Permission::ManageTeams)?;
        let command_ctx = ctx.command_context(&viewer);
        let command = DepartmentCommand::Rename {
            name,
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .department(&command_ctx, id, command)
            .await
            .map_err(ApiError::from)?;
        department_payload(ctx, id, appended).await
    }

    /// Creates a team in a department (admins).
    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> Result<TeamPayload> {
        ctx.request().auth.require(Permission::ManageTeams)?;
        department_exists(ctx, input.department_id).await?;
        let team_id = Uuid::now_v7();
        run(ctx, team_id, |at| TeamCommand::Create {
            team_id,
            name: input.name,
            department_id: input.department_id,
            at,
        })
        .await
    }

    /// Renames a team (admins).
    async fn rename_team(&self, ctx: &Context<'_>, id: Uuid, name: String) -> Result<TeamPayload> {
        run(ctx, id, |at| TeamCommand::Rename { name, at }).await
    }

    /// Moves a team to another department (admins).
    async fn move_team(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        department_id: Uuid,
    ) -> Result<TeamPayload> {
        ctx.request().auth.require(Permission::ManageTeams)?;
        department_exists(ctx, department_id).await?;
        run(ctx, id, |at| TeamCommand::MoveToDepartment {
            department_id,
            at,
        })
        .await
    }

    /// Adds an internal user to a team, as a manager or (by default) a member (admins).
    async fn add_team_member(
        &self,
        ctx: &Context<'_>,
        team_id: Uuid,
        user_id: Uuid,
        manager: Option<bool>,
    ) -> Result<TeamPayload> {
        let manager = manager.unwrap_or(false);
        ctx.request().auth.require(Permission::ManageTeams)?;
        check_member(ctx, user_id).await?;
        run(ctx, team_id, |at| TeamCommand::AddMember {
            user_id,
            manager,
            at,
        })
        .await
    }

    /// Makes a member one of the team's managers, or no longer (admins).
    async fn set_team_manager(
        &self,
        ctx: &Context<'_>,
        team_id: Uuid,
        user_id: Uuid,
        manager: bool,
    ) -> Result<TeamPayload> {
        run(ctx, team_id, |at| TeamCommand::SetManager {
            user_id,
            manager,
            at,
        })
        .await
    }

    /// Removes a member from a team (admins).
    async fn remove_team_member(
        &self,
        ctx: &Context<'_>,
        team_id: Uuid,
        user_id: Uuid,
    ) -> Result<TeamPayload> {
        run(ctx, team_id, |at| TeamCommand::RemoveMember { user_id, at }).await
    }
}
