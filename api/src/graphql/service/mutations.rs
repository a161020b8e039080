//! The service desk mutations: items opened, changed, routed, moved, cancelled and noted.

use async_graphql::{Context, Object, Result};
use domain::service::{Assignment, ServiceItemChanges, ServiceItemCommand, ServiceItemInput};
use domain::Permission;
use uuid::Uuid;

use super::*;
use crate::error::{ApiError, Code};
use crate::graphql::clients::visible_client;
use crate::graphql::context::Ctx;

/// Service desk mutations.
#[derive(Default, Debug)]
pub(crate) struct ServiceMutation;

#[Object]
impl ServiceMutation {
    /// Opens a service item for a client, owned by a team.
    async fn open_service_item(
        &self,
        ctx: &Context<'_>,
        input: OpenServiceItemInput,
    ) -> Result<ServiceItemPayload> {
        let viewer = ctx.request().auth.require(Permission::WorkService)?;
        if visible_client(ctx, input.client_id).await?.is_none() {
            return Err(ApiError::new(Code::NotFound, "client not found").into());
        }
        let pool = &ctx.state().pool;
        if projections::teams::team(pool, input.team_id)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            return Err(ApiError::new(Code::NotFound, "team not found").into());
        }
        let id = Uuid::now_v7();
        let item = ServiceItemInput {
            client_id: input.client_id,
            team_id: input.team_id,
            category: input.category.into(),
            title: input.title,
            description: input.description,
            priority: input.priority.into(),
            due_on: input.due_on,
        };
        let by = viewer.user_id;
        run(ctx, &viewer, id, |at| ServiceItemCommand::Open {
            service_item_id: id,
            item,
            by,
            at,
        })
        .await
    }

    /// Changes an item's details (its assignees and its team's managers).
    async fn update_service_item(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateServiceItemInput,
    ) -> Result<ServiceItemPayload> {
        let (viewer, _, actor) = working(ctx, id).await?;
        let changes = ServiceItemChanges {
            category: input.category.map(Into::into),
            title: input.title,
            description: input.description,
            priority: input.priority.map(Into::into),
            due_on: match input.due_on {
                async_graphql::MaybeUndefined::Undefined => None,
                async_graphql::MaybeUndefined::Null => Some(None),
                async_graphql::MaybeUndefined::Value(d) => Some(Some(d)),
            },
        };
        run(ctx, &viewer, id, |at| ServiceItemCommand::Update {
            actor,
            changes,
            at,
        })
        .await
    }

    /// Routes an item to consultants, replacing its current assignees (a manager of the
    /// owning team only); each routing stays in its history.
    async fn route_service_item(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(validator(max_items = 20))] assignees: Vec<AssignmentInput>,
        note: Option<String>,
    ) -> Result<ServiceItemPayload> {
        let (viewer, _, actor) = working(ctx, id).await?;
        for a in &assignees {
            consultant(ctx, a.user_id).await?;
        }
        let assignees = assignees
            .into_iter()
            .map(|a| Assignment {
                user_id: a.user_id,
                budget_minutes: a.budget_minutes,
            })
            .collect();
        run(ctx, &viewer, id, |at| ServiceItemCommand::Route {
            actor,
            assignees,
            note,
            at,
        })
        .await
    }

    /// Moves an item to In progress, Waiting on client or Done (or a done one back to In
    /// progress): its assignees and its team's managers.
    async fn set_service_item_status(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        status: ServiceStatus,
    ) -> Result<ServiceItemPayload> {
        let (viewer, _, actor) = working(ctx, id).await?;
        run(ctx, &viewer, id, |at| ServiceItemCommand::SetStatus {
            actor,
            status: status.into(),
            at,
        })
        .await
    }

    /// Cancels an item with a reason (a manager of the owning team).
    async fn cancel_service_item(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> Result<ServiceItemPayload> {
        let (viewer, _, actor) = working(ctx, id).await?;
        run(ctx, &viewer, id, |at| ServiceItemCommand::Cancel {
            actor,
            reason,
            at,
        })
        .await
    }

    /// Adds an internal note (never shown in the portal).
    async fn add_service_note(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        body: String,
    ) -> Result<ServiceItemPayload> {
        let (viewer, _, _) = working(ctx, id).await?;
        let by = viewer.user_id;
        run(ctx, &viewer, id, |at| ServiceItemCommand::AddNote {
            note_id: Uuid::now_v7(),
            body,
            by,
            at,
        })
        .await
    }
}
