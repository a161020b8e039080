//! The service desk: standalone client work owned by a team, routed by its managers to
//! consultants, with queues, "my work" and the portal's view.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::service::{Actor, ServiceItemCommand};
use domain::Permission;
use projections::service::{AssigneeRow, NoteRow, Queue, RoutingRow, ServiceItemRow};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, Code};
use crate::graphql::clients::{visible_client, Client};
use crate::graphql::context::{staff, Ctx};
use crate::graphql::loaders::Users;
use crate::graphql::projects::tasks::Task;
use crate::graphql::teams::Team;
use crate::graphql::types::parse_persisted;
use crate::graphql::users::User;
use crate::state::ReadBack;

mod mutations;
pub(crate) use mutations::ServiceMutation;

/// Read models a service desk mutation answers from.
const SERVICE_READ_MODELS: [&str; 1] = [projections::service::NAME];

/// What kind of work an item is.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::service::Category")]
pub enum ServiceCategory {
    Accounting,
    Gst,
    Legal,
    Secretarial,
    Advisory,
    Banking,
    /// Ad hoc work linked to a regulator (a notice, a query, an inspection).
    Regulatory,
}

/// How urgent an item is.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::service::Priority")]
pub enum ServicePriority {
    Low,
    Normal,
    High,
    Urgent,
}

/// Where an item stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::service::ServiceStatus")]
pub enum ServiceStatus {
    /// With its team, not yet routed.
    Open,
    Routed,
    InProgress,
    WaitingOnClient,
    Done,
    Cancelled,
}

/// A service desk item. Portal users see its title, status, due date and team; the other
/// fields are null for them.
#[derive(Debug)]
pub(super) struct ServiceItem(pub ServiceItemRow);

#[Object]
impl ServiceItem {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn client_id(&self) -> Uuid {
        self.0.client_id
    }
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        Ok(visible_client(ctx, self.0.client_id).await?)
    }
    async fn team_id(&self) -> Uuid {
        self.0.team_id
    }
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        let team = projections::teams::team(&ctx.state().pool, self.0.team_id)
            .await
            .map_err(ApiError::from)?;
        Ok(team.map(Team))
    }
    async fn category(&self) -> Option<ServiceCategory> {
        parse_persisted::<domain::service::Category>(&self.0.category).map(Into::into)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self, ctx: &Context<'_>) -> Option<&str> {
        staff(ctx).is_ok().then_some(self.0.description.as_str())
    }
    async fn priority(&self, ctx: &Context<'_>) -> Option<ServicePriority> {
        parse_persisted::<domain::service::Priority>(&self.0.priority)
            .filter(|_| staff(ctx).is_ok())
            .map(Into::into)
    }
    async fn due_on(&self) -> Option<NaiveDate> {
        self.0.due_on
    }
    /// Past its due date and not finished.
    async fn overdue(&self) -> bool {
        let open = !matches!(self.0.status.as_str(), "done" | "cancelled");
        open && self.0.due_on.is_some_and(|d| d < Utc::now().date_naive())
    }
    async fn status(&self) -> Option<ServiceStatus> {
        parse_persisted::<domain::service::ServiceStatus>(&self.0.status).map(Into::into)
    }
    /// Why it was cancelled.
    async fn cancel_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0
            .cancel_reason
            .as_deref()
            .filter(|_| staff(ctx).is_ok())
    }
    /// Who it is routed to now, with their budgets and the minutes they logged on it.
    async fn assignees(&self, ctx: &Context<'_>) -> Result<Option<Vec<ServiceAssignee>>> {
        if staff(ctx).is_err() {
            return Ok(None);
        }
        let rows = projections::service::assignees(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(rows.into_iter().map(ServiceAssignee).collect()))
    }
    /// Every routing, oldest first.
    async fn routings(&self, ctx: &Context<'_>) -> Result<Option<Vec<ServiceRouting>>> {
        if staff(ctx).is_err() {
            return Ok(None);
        }
        let rows = projections::service::routings(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(rows.into_iter().map(ServiceRouting::from).collect()))
    }
    /// Internal notes, oldest first (never shown in the portal).
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<Vec<ServiceNote>>> {
        if staff(ctx).is_err() {
            return Ok(None);
        }
        let rows = projections::service::notes(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(rows.into_iter().map(ServiceNote).collect()))
    }
    async fn opened_by(&self, ctx: &Context<'_>) -> Option<Uuid> {
        staff(ctx).is_ok().then_some(self.0.opened_by)
    }
    async fn opened_at(&self) -> DateTime<Utc> {
        self.0.opened_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

async fn user(ctx: &Context<'_>, id: Uuid) -> Result<Option<User>> {
    let load = ctx.data_unchecked::<DataLoader<Users>>().load_one(id);
    Ok(load.await.map_err(ApiError::from)?.map(User))
}

/// A consultant an item is routed to.
#[derive(Debug)]
pub(super) struct ServiceAssignee(AssigneeRow);

#[Object]
impl ServiceAssignee {
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.user_id).await
    }
    async fn budget_minutes(&self) -> Option<i32> {
        self.0.budget_minutes
    }
    /// Minutes they logged on the item (drafts, submitted and approved; not rejected).
    async fn logged_minutes(&self) -> i64 {
        self.0.logged_minutes
    }
    async fn routed_at(&self) -> DateTime<Utc> {
        self.0.routed_at
    }
}

/// One routing: who it went to, by whom.
#[derive(SimpleObject, Debug)]
pub(super) struct ServiceRouting {
    assignees: Vec<RoutedTo>,
    note: Option<String>,
    routed_by: Uuid,
    routed_at: DateTime<Utc>,
}

/// A consultant of a routing.
#[derive(SimpleObject, Debug)]
pub(super) struct RoutedTo {
    user_id: Uuid,
    budget_minutes: Option<i32>,
}

impl From<RoutingRow> for ServiceRouting {
    fn from(row: RoutingRow) -> Self {
        ServiceRouting {
            assignees: row
                .assignees
                .0
                .into_iter()
                .map(|a| RoutedTo {
                    user_id: a.user_id,
                    budget_minutes: a.budget_minutes,
                })
                .collect(),
            note: row.note,
            routed_by: row.routed_by,
            routed_at: row.routed_at,
        }
    }
}

/// An internal note on an item.
#[derive(Debug)]
pub(super) struct ServiceNote(NoteRow);

#[Object]
impl ServiceNote {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.by_user).await
    }
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
}

/// The item `id` if the viewer may see it (portal users: their own client's).
pub(super) async fn visible_item(
    ctx: &Context<'_>,
    id: Uuid,
) -> Result<Option<ServiceItemRow>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
    let row = projections::service::item(&ctx.state().pool, id).await?;
    Ok(row.filter(|r| viewer.sees_client(r.client_id)))
}

async fn found(ctx: &Context<'_>, id: Uuid) -> Result<ServiceItemRow, ApiError> {
    visible_item(ctx, id)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound, "service item not found"))
}

/// The viewer as an actor on `item`: whether they manage its owning team.
pub(super) async fn actor(
    ctx: &Context<'_>,
    viewer: &Viewer,
    item: &ServiceItemRow,
) -> Result<Actor, ApiError> {
    let manages_team =
        projections::teams::is_manager(&ctx.state().pool, item.team_id, viewer.user_id).await?;
    Ok(Actor {
        user_id: viewer.user_id,
        manages_team,
    })
}

/// Queue filters; every one optional.
#[derive(InputObject, Default, Debug)]
pub(super) struct ServiceQueueFilter {
    team_id: Option<Uuid>,
    /// Ignored for portal users, who only see their own client's.
    client_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    #[graphql(default)]
    statuses: Vec<ServiceStatus>,
    /// Only items past their due date and not finished.
    #[graphql(default)]
    overdue: bool,
    /// Only items not done or cancelled.
    #[graphql(default)]
    open: bool,
}

/// What the viewer has to do: their open project tasks and service items.
#[derive(SimpleObject, Debug)]
pub(super) struct MyWork {
    tasks: Vec<Task>,
    service_items: Vec<ServiceItem>,
}

/// Service desk queries.
#[derive(Default, Debug)]
pub(super) struct ServiceQuery;

#[Object]
impl ServiceQuery {
    /// A queue of service items, earliest due first (undated last), then oldest: by team,
    /// client, assignee, status or overdue. `after` is the id of the last item of the
    /// previous page. Portal users see their own client's items.
    async fn service_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: ServiceQueueFilter,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<ServiceItem>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        let client_id = if viewer.role.is_portal() {
            Some(viewer.client_id.unwrap_or_else(Uuid::nil))
        } else {
            filter.client_id
        };
        let after = match after {
            Some(id) => {
                let last = found(ctx, id).await.map_err(|_| {
                    ApiError::bad_input("after: not the id of an item of this queue")
                })?;
                Some((last.due_on, last.opened_at, last.id))
            }
            None => None,
        };
        let queue = Queue {
            team_id: filter.team_id,
            client_id,
            assignee: filter.assignee_id,
            statuses: filter
                .statuses
                .into_iter()
                .map(|s| domain::service::ServiceStatus::from(s).as_str().to_owned())
                .collect(),
            overdue_on: filter.overdue.then(|| Utc::now().date_naive()),
            open_only: filter.open,
        };
        let rows = projections::service::queue(&ctx.state().pool, &queue, first, after)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ServiceItem).collect())
    }

    async fn service_item(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<ServiceItem>> {
        Ok(visible_item(ctx, id).await?.map(ServiceItem))
    }

    /// The viewer's open project tasks and the service items routed to them.
    async fn my_work(&self, ctx: &Context<'_>) -> Result<MyWork> {
        let viewer = ctx.request().auth.require(Permission::WorkService)?;
        let pool = &ctx.state().pool;
        let tasks = projections::projects::assigned_to(pool, viewer.user_id)
            .await
            .map_err(ApiError::from)?;
        let queue = Queue {
            assignee: Some(viewer.user_id),
            open_only: true,
            ..Queue::default()
        };
        let items = projections::service::queue(pool, &queue, 500, None)
            .await
            .map_err(ApiError::from)?;
        Ok(MyWork {
            tasks: tasks
                .into_iter()
                .flat_map(|row| Task::tree(vec![row]))
                .collect(),
            service_items: items.into_iter().map(ServiceItem).collect(),
        })
    }
}

/// A new service item.
#[derive(InputObject, Debug)]
pub(super) struct OpenServiceItemInput {
    client_id: Uuid,
    /// The owning team.
    team_id: Uuid,
    category: ServiceCategory,
    title: String,
    #[graphql(default)]
    description: String,
    #[graphql(default_with = "ServicePriority::Normal")]
    priority: ServicePriority,
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    due_on: Option<NaiveDate>,
}

/// Changes to an item; omitted fields stay as they are.
#[derive(InputObject, Debug)]
pub(super) struct UpdateServiceItemInput {
    category: Option<ServiceCategory>,
    title: Option<String>,
    description: Option<String>,
    priority: Option<ServicePriority>,
    /// A date, or null to clear it.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    due_on: async_graphql::MaybeUndefined<NaiveDate>,
}

/// A consultant to route to.
#[derive(InputObject, Debug)]
pub(super) struct AssignmentInput {
    user_id: Uuid,
    /// Minutes budgeted for them (1 to 60000).
    budget_minutes: Option<i32>,
}

/// Result of a service item mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct ServiceItemPayload {
    service_item: Option<ServiceItem>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// Runs a command on item `id` and answers with the item as the read model shows it.
async fn run(
    ctx: &Context<'_>,
    viewer: &Viewer,
    id: Uuid,
    command: impl FnOnce(DateTime<Utc>) -> ServiceItemCommand,
) -> Result<ServiceItemPayload> {
    let state = ctx.state();
    let command_ctx = ctx.command_context(viewer);
    let appended = state
        .bus
        .service_item(&command_ctx, id, command(command_ctx.issued_at))
        .await
        .map_err(ApiError::from)?;
    let ReadBack {
        record: item,
        caught_up,
    } = state
        .after_append(
            &SERVICE_READ_MODELS,
            appended,
            projections::service::item(&state.pool, id),
        )
        .await
        .map(ServiceItem);
    Ok(ServiceItemPayload {
        service_item: item,
        caught_up,
    })
}

/// An active internal user: whom an item may be routed to.
async fn consultant(ctx: &Context<'_>, user_id: Uuid) -> Result<(), ApiError> {
    let user = projections::users::find(&ctx.state().pool, user_id).await?;
    match user {
        Some(u) if u.active && domain::Role::parse(&u.role).is_some_and(|r| !r.is_portal()) => {
            Ok(())
        }
        _ => Err(ApiError::bad_input(format!(
            "assignees: no active internal user has the id {user_id}"
        ))),
    }
}

/// The viewer (who may work the service desk) and the item, with their standing on it.
async fn working(ctx: &Context<'_>, id: Uuid) -> Result<(Viewer, ServiceItemRow, Actor), ApiError> {
    let viewer = ctx.request().auth.require(Permission::WorkService)?;
    let item = found(ctx, id).await?;
    let actor = actor(ctx, &viewer, &item).await?;
    Ok((viewer, item, actor))
}
