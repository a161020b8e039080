//! Clients: the `Client` type with its contacts, and client lists (portal users see only
//! their own).

use async_graphql::connection::Connection;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Permission;
use projections::clients::{ClientFilter, ClientRow, ClientSortField, ContactRow};
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::{self, search_text, CountField};
use crate::graphql::context::request_of;
use crate::graphql::context::Ctx;
use crate::graphql::projects::Project;
use crate::graphql::types::SortDirection;
use crate::graphql::written::fields;

/// A customer firm.
#[derive(Debug, Clone)]
pub(super) struct Client(pub ClientRow);

fields! {
    impl Client (self, ctx) {
        "id" fn id() -> Uuid { self.0.id }
        "name" fn name() -> &str { &self.0.name }
        /// The lead it was converted from (internal users only).
        "leadId" fn lead_id(ctx) -> Option<Uuid> {
            let viewer = request_of(ctx).auth.viewer().ok();
            self.0.lead_id.filter(|_| viewer.is_some_and(|v| !v.role.is_portal()))
        }
        "createdAt" fn created_at() -> DateTime<Utc> { self.0.created_at }
        "updatedAt" fn updated_at() -> DateTime<Utc> { self.0.updated_at }
        nested:
        resolved:
        /// Contacts, primary first.
        async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<Contact>> {
            let read = projections::clients::contacts(&ctx.state().pool, self.0.id);
            let rows = read.await.map_err(ApiError::from)?;
            Ok(rows.into_iter().map(Contact::from).collect())
        }
        /// The client's projects, newest first.
        async fn projects(&self, ctx: &Context<'_>) -> Result<Vec<Project>> {
            let filter = projections::projects::ProjectFilter {
                client_id: Some(self.0.id),
                ..Default::default()
            };
            let read = projections::projects::list(
                &ctx.state().pool,
                &filter,
                projections::projects::ProjectSortField::CreatedAt,
                true,
                100,
                None,
            );
            let page = read.await.map_err(ApiError::from)?;
            Ok(page.rows.into_iter().map(Project).collect())
        }
    }
}

/// A client contact.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct Contact {
    id: Uuid,
    name: String,
    email: String,
    phone: Option<String>,
    is_primary: bool,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Contact {
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            is_primary: row.is_primary,
        }
    }
}

/// Loads a client the viewer may see.
pub(super) async fn visible_client(
    ctx: &Context<'_>,
    id: Uuid,
) -> Result<Option<Client>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadClients)?;
    if !viewer.sees_client(id) {
        return Ok(None);
    }
    Ok(projections::clients::find(&ctx.state().pool, id)
        .await?
        .map(Client))
}

/// Client list filters.
#[derive(InputObject, Default, Debug)]
pub(super) struct ClientFilterInput {
    /// Text in the name.
    search: Option<String>,
}

/// Client sort fields.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ClientSortBy {
    /// Creation time.
    #[default]
    CreatedAt,
    Name,
}

#[derive(InputObject, Default, Debug)]
pub(super) struct ClientSort {
    #[graphql(default)]
    field: ClientSortBy,
    #[graphql(default)]
    direction: SortDirection,
}

/// Client queries.
#[derive(Default, Debug)]
pub(super) struct ClientQuery;

#[Object]
impl ClientQuery {
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
}
