//! Audit queries: a record's events, and its state as of an instant (admins and auditors).

use async_graphql::connection::Connection;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Permission;
use projections::audit::{state_as_of, AuditError, HistoryEntry, HistoryFilter};
use uuid::Uuid;

use super::connection::{self, selects, CountField};
use super::context::Ctx;
use super::types::{AggregateType, ItemStatus, JsonText, LeadStage, ProjectStatus, StageKey};
use crate::error::ApiError;

/// Audit queries.
#[derive(Default, Debug)]
pub(super) struct AuditQuery;

/// Which of a record's events `history` lists.
#[derive(InputObject, Debug, Default)]
pub struct HistoryFilterInput {
    /// Only events of these types (for example `StageAdvanced`); at most 50.
    event_types: Option<Vec<String>>,
    /// Recorded at or after this instant.
    #[graphql(validator(custom = "super::types::Storable"))]
    from: Option<DateTime<Utc>>,
    /// Recorded before this instant.
    #[graphql(validator(custom = "super::types::Storable"))]
    until: Option<DateTime<Utc>>,
}

impl TryFrom<HistoryFilterInput> for HistoryFilter {
    type Error = ApiError;

    fn try_from(input: HistoryFilterInput) -> Result<Self, ApiError> {
        if let Some(types) = &input.event_types {
            if types.len() > 50 {
                return Err(ApiError::bad_input("eventTypes: at most 50 event types"));
            }
            if types.iter().any(|t| t.is_empty() || t.len() > 100) {
                return Err(ApiError::bad_input(
                    "eventTypes: each is an event type name of 1 to 100 characters",
                ));
            }
        }
        if let (Some(from), Some(until)) = (input.from, input.until) {
            if until <= from {
                return Err(ApiError::bad_input("until: must be after from"));
            }
        }
        Ok(HistoryFilter {
            event_types: input.event_types,
            from: input.from,
            until: input.until,
        })
    }
}

/// One event of a record's history.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct HistoryEvent {
    event_id: Uuid,
    /// Position in the global log.
    global_position: i64,
    /// Position in the record's stream, from 1.
    sequence: i64,
    event_type: String,
    /// Version of the payload's shape.
    event_version: String,
    /// The event's data, tagged by its type.
    payload: JsonText,
    /// Acting user (none for the system).
    actor_id: Option<Uuid>,
    /// The actor's role.
    actor_role: Option<String>,
    /// Groups the events of one user action.
    correlation_id: Option<String>,
    /// What caused it.
    causation_id: Option<String>,
    /// The HTTP request.
    request_id: Option<String>,
    /// When it was committed.
    recorded_at: DateTime<Utc>,
}

impl From<HistoryEntry> for HistoryEvent {
    fn from(event: HistoryEntry) -> Self {
        HistoryEvent {
            actor_id: event.actor_id.and_then(|a| Uuid::parse_str(&a).ok()),
            actor_role: event.actor_role,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            request_id: event.request_id,
            event_id: event.event_id,
            global_position: event.global_position,
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            payload: JsonText(event.payload),
            recorded_at: event.recorded_at,
        }
    }
}

/// A lead as it stood at an instant.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct LeadAsOf {
    id: Uuid,
    company: String,
    contact_name: String,
    email: String,
    stage: LeadStage,
    owner_id: Option<Uuid>,
    score: Option<i32>,
    lost_reason: Option<String>,
    note_count: i32,
    activity_count: i32,
    next_follow_up: Option<NaiveDate>,
    client_id: Option<Uuid>,
    updated_at: Option<DateTime<Utc>>,
}

/// A project as it stood at an instant.
#[derive(SimpleObject, Debug)]
#[graphql(serial, complex)]
pub(super) struct ProjectAsOf {
    id: Uuid,
    name: String,
    client_id: Option<Uuid>,
    status: ProjectStatus,
    current_stage: Option<StageKey>,
    stages: Vec<StageAsOf>,
    /// The template it ran on then.
    template_id: Option<Uuid>,
    /// The version of that template it ran on then.
    template_version: Option<i32>,
}

#[async_graphql::ComplexObject]
impl ProjectAsOf {
    /// The rules that governed it then: the template version it ran on, as published.
    async fn template_definition(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::graphql::templates::TemplateVersion>> {
        let (Some(template_id), Some(version)) = (self.template_id, self.template_version) else {
            return Ok(None);
        };
        let row = projections::templates::version(&ctx.state().pool, template_id, version)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(Into::into))
    }
}

/// A stage's checklist as it stood.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct StageAsOf {
    key: StageKey,
    items: Vec<ItemAsOf>,
}

/// A checklist item as it stood.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ItemAsOf {
    key: String,
    title: String,
    mandatory: bool,
    status: ItemStatus,
}

fn audit_error(error: AuditError) -> ApiError {
    match error {
        AuditError::Database(error) => ApiError::from(error),
        other => ApiError::internal(other),
    }
}

#[Object]
impl AuditQuery {
    /// A record's events in stream order, a page at a time, with actor and time (admins and
    /// auditors).
    async fn history(
        &self,
        ctx: &Context<'_>,
        aggregate_type: AggregateType,
        aggregate_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilterInput>,
    ) -> Result<Connection<String, HistoryEvent, CountField>> {
        ctx.request().auth.require(Permission::ReadHistory)?;
        let (first, cursor) = connection::arguments(first, after.as_deref())?;
        // A history cursor carries the event's sequence in its stream.
        let after = cursor
            .map(|c| c.value.parse::<i64>())
            .transpose()
            .map_err(|_| ApiError::bad_input("after: not a cursor of a history"))?;
        let filter = HistoryFilter::try_from(filter.unwrap_or_default())?;
        let pool = &ctx.state().pool;
        let id = aggregate_id.to_string();
        let stream = (aggregate_type.persisted(), id.as_str());
        let node = connection::node_selection(ctx);
        let page = projections::audit::history(pool, stream, &filter, after, first, |field| {
            selects(&node, field)
        });
        let count = || projections::audit::history_count(pool, stream, &filter);
        let key = |e: &HistoryEntry| (e.sequence.to_string(), e.event_id);
        Ok(connection::respond(ctx, after.is_some(), page, count, key, HistoryEvent::from).await?)
    }

    /// A lead as it stood at `at`, folded from its events (admins and auditors).
    async fn lead_as_of(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(validator(custom = "super::types::Storable"))] at: DateTime<Utc>,
    ) -> Result<Option<LeadAsOf>> {
        ctx.request().auth.require(Permission::ReadHistory)?;
        let state = state_as_of::<domain::lead::Lead>(&ctx.state().pool, &id.to_string(), at)
            .await
            .map_err(audit_error)?;
        Ok(state.and_then(|lead| {
            Some(LeadAsOf {
                id: lead.id?,
                next_follow_up: lead.activities.iter().filter_map(|a| a.follow_up_on).max(),
                note_count: i32::try_from(lead.notes.len()).unwrap_or(i32::MAX),
                activity_count: i32::try_from(lead.activities.len()).unwrap_or(i32::MAX),
                company: lead.company,
                contact_name: lead.contact_name,
                email: lead.email,
                stage: lead.stage.into(),
                owner_id: lead.owner_id,
                score: lead.score,
                lost_reason: lead.lost_reason,
                client_id: lead.client_id,
                updated_at: lead.updated_at,
            })
        }))
    }

    /// A project as it stood at `at`, with each checklist item's state then (admins and auditors).
    async fn project_as_of(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(validator(custom = "super::types::Storable"))] at: DateTime<Utc>,
    ) -> Result<Option<ProjectAsOf>> {
        ctx.request().auth.require(Permission::ReadHistory)?;
        let state = state_as_of::<domain::project::Project>(&ctx.state().pool, &id.to_string(), at)
            .await
            .map_err(audit_error)?;
        Ok(state.and_then(|project| {
            Some(ProjectAsOf {
                id: project.id?,
                template_id: project.template.as_ref().map(|t| t.template_id),
                template_version: project
                    .template
                    .as_ref()
                    .and_then(|t| i32::try_from(t.version).ok()),
                name: project.name,
                client_id: project.client_id,
                status: project.status.into(),
                current_stage: project.current_stage.map(Into::into),
                stages: project
                    .stages
                    .into_iter()
                    .map(|s| StageAsOf {
                        key: s.stage.into(),
                        items: s
                            .items
                            .into_iter()
                            .map(|i| ItemAsOf {
                                key: i.key,
                                title: i.title,
                                mandatory: i.mandatory,
                                status: i.status.into(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
        }))
    }
}
