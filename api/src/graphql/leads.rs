//! The sales pipeline: the `Lead` type with its notes and activities, lead lists, and
//! capturing, working and converting leads.

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, InputObject, Lookahead, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Permission;
use projections::leads::{
    ActivityRow, LeadFilter, LeadRow, LeadSelection, LeadSortField, ListedLead, NoteRow,
};
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::clients::Client;
use crate::graphql::connection::{self, search_text, selects, CountField};
use crate::graphql::context::Ctx;
use crate::graphql::loaders::{Clients, Users};
use crate::graphql::projects::Project;
use crate::graphql::types::{
    parse_persisted, persisted_name, LeadSource, LeadStage, SortDirection,
};
use crate::graphql::users::User;
use crate::graphql::written::{fields, Written};

mod mutations;
pub(crate) use mutations::LeadMutation;

/// A lead in the sales pipeline.
#[derive(Debug)]
pub(super) struct Lead {
    row: LeadRow,
    /// Owner and client when the list page's query read them already; `None` loads them.
    joined: Option<(Option<User>, Option<Client>)>,
}

impl From<LeadRow> for Lead {
    fn from(row: LeadRow) -> Self {
        Lead { row, joined: None }
    }
}

impl From<ListedLead> for Lead {
    fn from(listed: ListedLead) -> Self {
        Lead {
            row: listed.lead,
            joined: Some((listed.owner.map(User), listed.client.map(Client))),
        }
    }
}

impl Lead {
    /// Whether a query that selects `node` on a lead reads the lead column `column` (a field
    /// of [`projections::leads::LEAD_COLUMNS`]): when it selects the field of that name, or
    /// the relation an id column leads to.
    pub(super) fn reads(node: &Lookahead<'_>, column: &str) -> bool {
        match column {
            "owner_id" => node.field("owner").exists(),
            "client_id" => node.field("client").exists(),
            "project_id" => node.field("project").exists(),
            _ => selects(node, column),
        }
    }
}

fields! {
    impl Lead (self, ctx) {
        "id" fn id() -> Uuid { self.row.id }
        "company" fn company() -> &str { &self.row.company }
        "contactName" fn contact_name() -> &str { &self.row.contact_name }
        "email" fn email() -> &str { &self.row.email }
        "phone" fn phone() -> Option<&str> { self.row.phone.as_deref() }
        "source" fn source() -> Option<LeadSource> {
            parse_persisted::<domain::lead::LeadSource>(&self.row.source).map(LeadSource::from)
        }
        "serviceInterest" fn service_interest() -> &str { &self.row.service_interest }
        "score" fn score() -> Option<i32> { self.row.score }
        "stage" fn stage() -> Option<LeadStage> {
            parse_persisted::<domain::lead::LeadStage>(&self.row.stage).map(LeadStage::from)
        }
        /// Why the lead was lost.
        "lostReason" fn lost_reason() -> Option<&str> { self.row.lost_reason.as_deref() }
        /// The latest follow-up date logged on an activity.
        "nextFollowUp" fn next_follow_up() -> Option<NaiveDate> { self.row.next_follow_up }
        "noteCount" fn note_count() -> i32 { self.row.note_count }
        "activityCount" fn activity_count() -> i32 { self.row.activity_count }
        "capturedAt" fn captured_at() -> DateTime<Utc> { self.row.captured_at }
        "updatedAt" fn updated_at() -> DateTime<Utc> { self.row.updated_at }
        nested:
        /// The salesperson who owns the lead.
        "owner" fn owner() -> Option<User> {
            in_hand: self.joined.as_ref().map(|(owner, _)| owner.as_ref()),
            load: {
                let Some(owner) = self.row.owner_id else {
                    return Ok(None);
                };
                let load = ctx.data_unchecked::<DataLoader<Users>>().load_one(owner);
                Ok(load.await.map_err(ApiError::from)?.map(User))
            }
        }
        /// The client this lead converted into.
        "client" fn client() -> Option<Client> {
            in_hand: self.joined.as_ref().map(|(_, client)| client.as_ref()),
            load: {
                let Some(client_id) = self.row.client_id else {
                    return Ok(None);
                };
                let load = ctx.data_unchecked::<DataLoader<Clients>>().load_one(client_id);
                Ok(load.await.map_err(ApiError::from)?.map(Client))
            }
        }
        resolved:
        /// The project opened at conversion.
        async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
            let Some(project_id) = self.row.project_id else {
                return Ok(None);
            };
            let read = projections::projects::find(&ctx.state().pool, project_id);
            Ok(read.await.map_err(ApiError::from)?.map(Project))
        }
        /// Notes, newest first.
        async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<Note>> {
            let read = projections::leads::notes(&ctx.state().pool, self.row.id);
            let rows = read.await.map_err(ApiError::from)?;
            Ok(rows.into_iter().map(Note).collect())
        }
        /// Activities, newest first.
        async fn activities(&self, ctx: &Context<'_>) -> Result<Vec<Activity>> {
            let read = projections::leads::activities(&ctx.state().pool, self.row.id);
            let rows = read.await.map_err(ApiError::from)?;
            Ok(rows.into_iter().map(Activity).collect())
        }
    }
}

/// A note on a lead.
#[derive(Debug)]
pub(super) struct Note(pub NoteRow);

#[Object]
impl Note {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author_id(&self) -> Option<Uuid> {
        self.0.author_id
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// An activity on a lead.
#[derive(Debug)]
pub(super) struct Activity(pub ActivityRow);

#[Object]
impl Activity {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn follow_up_on(&self) -> Option<NaiveDate> {
        self.0.follow_up_on
    }
    async fn author_id(&self) -> Option<Uuid> {
        self.0.author_id
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// Lead list filters.
#[derive(InputObject, Default, Debug)]
pub(super) struct LeadFilterInput {
    /// Any of these stages.
    stages: Option<Vec<LeadStage>>,
    /// Owned by this user.
    owner_id: Option<Uuid>,
    /// From this source.
    source: Option<LeadSource>,
    /// Text in company, contact name or email.
    search: Option<String>,
    /// Follow-up due on or before this date.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
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
    Score,
    /// Company name.
    Company,
}

#[derive(InputObject, Default, Debug)]
pub(super) struct LeadSort {
    #[graphql(default)]
    field: LeadSortBy,
    #[graphql(default)]
    direction: SortDirection,
}

/// Lead queries.
#[derive(Default, Debug)]
pub(super) struct LeadQuery;

#[Object]
impl LeadQuery {
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
            let node = |row| Written(Lead::from(row));
            Ok(connection::respond(ctx, after.is_some(), page, count, key, node).await?)
        } else {
            let page =
                projections::leads::list(pool, &filter, field, descending, first, after, lead);
            let key = |r: &LeadRow| (r.sort_value.clone(), r.id);
            let node = |row| Written(Lead::from(row));
            Ok(connection::respond(ctx, after.is_some(), page, count, key, node).await?)
        }
    }
}

#[cfg(test)]
mod tests;
