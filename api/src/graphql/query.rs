//! Queries. Every field authorizes first; portal users are confined to their client.

use async_graphql::connection::Connection;
use async_graphql::{Context, InputObject, MergedObject, Object, Result};
use domain::Permission;
use projections::clients::{ClientFilter, ClientSortField};
use projections::leads::{LeadFilter, LeadRow, LeadSelection, LeadSortField, ListedLead};
use projections::projects::{ProjectFilter, ProjectSortField};
use uuid::Uuid;

use super::audit::AuditQuery;
use super::connection::{self, selects, CountField};
use super::context::Ctx;
use super::records::{
    visible_client, visible_project, Client, Lead, Project, User, WorkflowTemplate,
};
use super::types::{persisted_name, LeadSource, LeadStage, ProjectStatus, SortDirection};
use super::written::Written;
use crate::error::ApiError;

/// The root query.
#[derive(MergedObject, Default, Debug)]
pub struct Query(
    BaseQuery,
    AuditQuery,
    super::projects::DeliveryQuery,
    super::operations::OperationsQuery,
);

/// Records and lists.
#[derive(Default, Debug)]
pub struct BaseQuery;

/// Lead list filters.
#[derive(InputObject, Default, Debug)]
pub struct LeadFilterInput {
    /// Any of these stages.
    stages: Option<Vec<LeadStage>>,
    /// Owned by this user.
    owner_id: Option<Uuid>,
    /// From this source.
    source: Option<LeadSource>,
    /// Text in company, contact name or email.
    search: Option<String>,
    /// Follow-up due on or before this date.
    #[graphql(validator(custom = "super::types::Storable"))]
    follow_up_before: Option<chrono::NaiveDate>,
    /// Converted into a client or not.
    converted: Option<bool>,
}

/// Lead sort fields.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum LeadSortBy {
    /// Capture time.
    CapturedAt,
    /// Last change.
    #[default]
    UpdatedAt,
    /// Score.
    Score,
    /// Company name.
    Company,
}

/// Lead sort.
#[derive(InputObject, Default, Debug)]
pub struct LeadSort {
    /// Field.
    #[graphql(default)]
    field: LeadSortBy,
    /// Direction.
    #[graphql(default)]
    direction: SortDirection,
}

/// Client list filters.
#[derive(InputObject, Default, Debug)]
pub struct ClientFilterInput {
    /// Text in the name.
    search: Option<String>,
}

/// Client sort fields.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ClientSortBy {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Name.
    Name,
}

/// Client sort.
#[derive(InputObject, Default, Debug)]
pub struct ClientSort {
    /// Field.
    #[graphql(default)]
    field: ClientSortBy,
    /// Direction.
    #[graphql(default)]
    direction: SortDirection,
}

/// Project list filters.
#[derive(InputObject, Default, Debug)]
pub struct ProjectFilterInput {
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
    /// Name.
    Name,
}

/// Project sort.
#[derive(InputObject, Default, Debug)]
pub struct ProjectSort {
    /// Field.
    #[graphql(default)]
    field: ProjectSortBy,
    /// Direction.
    #[graphql(default)]
    direction: SortDirection,
}

fn search_text(search: Option<String>) -> Result<Option<String>, ApiError> {
    match search {
        Some(s) if s.chars().count() > 200 => Err(ApiError::bad_input(
            "search: must be at most 200 characters",
        )),
        other => Ok(other),
    }
}

#[Object]
impl BaseQuery {
    /// The logged-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let viewer = ctx.request().auth.viewer()?;
        let row = projections::users::find(&ctx.state().pool, viewer.user_id)
            .await
            .map_err(ApiError::from)?;
        Ok(User(row.ok_or_else(|| ApiError::not_found("user"))?))
    }

    /// One lead (internal users with lead access).
    async fn lead(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Lead>> {
        ctx.request().auth.require(Permission::ReadLeads)?;
        Ok(projections::leads::find(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?
            .map(Lead::from))
    }

    /// Leads, filtered and sorted, a page at a time.
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LeadFilterInput>,
        sort: Option<LeadSort>,
    ) -> Result<Connection<String, Written<Lead>, CountField>> {
        ctx.request().auth.require(Permission::ReadLeads)?;
        let (first, cursor) = connection::arguments(first, after.as_deref())?;
        let input = filter.unwrap_or_default();
        let filter = LeadFilter {
            stages: input.stages.map(|s| {
                s.into_iter()
                    .map(|st| persisted_name(&domain::lead::LeadStage::from(st)))
                    .collect()
            }),
            owner_id: input.owner_id,
            source: input
                .source
                .map(|s| domain::lead::LeadSource::from(s).as_str().to_owned()),
            search: search_text(input.search)?,
            follow_up_before: input.follow_up_before,
            converted: input.converted,
        };
        let sort = sort.unwrap_or_default();
        let field = match sort.field {
            LeadSortBy::CapturedAt => LeadSortField::CapturedAt,
            LeadSortBy::UpdatedAt => LeadSortField::UpdatedAt,
            LeadSortBy::Score => LeadSortField::Score,
            LeadSortBy::Company => LeadSortField::Company,
        };
        let pool = &ctx.state().pool;
        let descending = sort.direction == SortDirection::Desc;
        let after = cursor.as_ref();
        let count = || projections::leads::count(pool, &filter);
        // A page that shows owners or clients reads them in its own query, as a hand-written
        // SQL join would, instead of through the loaders; and it reads only the columns it
        // shows.
        let node = connection::node_selection(ctx);
        let (owner, client) = (node.field("owner"), node.field("client"));
        let lead = |column: &str| Lead::reads(&node, column);
        if owner.exists() || client.exists() {
            let selection = LeadSelection {
                lead,
                owner: owner.exists().then_some(|f: &str| selects(&owner, f)),
                client: client.exists().then_some(|f: &str| selects(&client, f)),
            };
            let page = projections::leads::list_with_owner_and_client(
                pool, &filter, field, descending, first, after, selection,
            );
            let key = |r: &ListedLead| (r.lead.sort_value.clone(), r.lead.id);
            let node = |r: ListedLead| Written(Lead::from(r));
            Ok(connection::respond(ctx, after.is_some(), page, count, key, node).await?)
        } else {
            let page =
                projections::leads::list(pool, &filter, field, descending, first, after, lead);
            let key = |r: &LeadRow| (r.sort_value.clone(), r.id);
            let node = |r: LeadRow| Written(Lead::from(r));
            Ok(connection::respond(ctx, after.is_some(), page, count, key, node).await?)
        }
    }

    /// One client (portal users: only their own).
    async fn client(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Client>> {
        Ok(visible_client(ctx, id).await?)
    }

    /// Clients, a page at a time (portal users: only their own).
    async fn clients(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ClientFilterInput>,
        sort: Option<ClientSort>,
    ) -> Result<Connection<String, Client, CountField>> {
        let viewer = ctx.request().auth.require(Permission::ReadClients)?;
        let (first, cursor) = connection::arguments(first, after.as_deref())?;
        let filter = ClientFilter {
            only: if viewer.role.is_portal() {
                Some(viewer.client_id.unwrap_or_else(Uuid::nil))
            } else {
                None
            },
            search: search_text(filter.and_then(|f| f.search))?,
        };
        let sort = sort.unwrap_or_default();
        let field = match sort.field {
            ClientSortBy::CreatedAt => ClientSortField::CreatedAt,
            ClientSortBy::Name => ClientSortField::Name,
        };
        let pool = &ctx.state().pool;
        let descending = sort.direction == SortDirection::Desc;
        Ok(connection::respond(
            ctx,
            cursor.is_some(),
            projections::clients::list(pool, &filter, field, descending, first, cursor.as_ref()),
            || projections::clients::count(pool, &filter),
            |r| (r.sort_value.clone(), r.id),
            Client,
        )
        .await?)
    }

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

    /// Workflow templates with their latest version (internal users).
    async fn workflow_templates(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowTemplate>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        if viewer.role.is_portal() {
            return Err(ApiError::new(
                crate::error::Code::Forbidden,
                "portal users do not see workflow templates",
            )
            .into());
        }
        let rows = projections::templates::all(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WorkflowTemplate::from).collect())
    }

    /// Internal users (the team directory).
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let viewer = ctx.request().auth.require(Permission::ReadUsers)?;
        if viewer.role.is_portal() {
            return Err(ApiError::new(
                crate::error::Code::Forbidden,
                "portal users do not see the team directory",
            )
            .into());
        }
        let rows = projections::users::internal(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(User).collect())
    }
}
