//! Audit queries: a record's events, and its state as of an instant (admins and auditors).

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::{Context, ContextSelectionSet, Object, OutputType, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Permission;
use projections::audit::{entries, state_as_of, AuditError, HistoryEntry};
use uuid::Uuid;

use super::connection::selects;
use super::context::Ctx;
use super::types::{AggregateType, ItemStatus, JsonText, LeadStage, ProjectStatus, StageKey};
use super::written::{Leaf, WriteFields, WrittenList};
use crate::error::ApiError;

/// Audit queries.
#[derive(Default, Debug)]
pub struct AuditQuery;

/// One event of a record's history.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct HistoryEvent {
    /// Unique event id.
    event_id: Uuid,
    /// Position in the global log.
    global_position: i64,
    /// Position in the record's stream, from 1.
    sequence: i64,
    /// Event type.
    event_type: String,
    /// Event version.
    event_version: String,
    /// Payload.
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

impl WriteFields for HistoryEvent {
    fn type_name() -> Cow<'static, str> {
        <Self as OutputType>::type_name()
    }

    fn write_field(&self, _: &ContextSelectionSet<'_>, field: &Field, out: &mut Vec<u8>) -> bool {
        match field.name.node.as_str() {
            "eventId" => self.event_id.write(out),
            "globalPosition" => self.global_position.write(out),
            "sequence" => self.sequence.write(out),
            "eventType" => self.event_type.write(out),
            "eventVersion" => self.event_version.write(out),
            "payload" => self.payload.write(out),
            "actorId" => self.actor_id.write(out),
            "actorRole" => self.actor_role.write(out),
            "correlationId" => self.correlation_id.write(out),
            "causationId" => self.causation_id.write(out),
            "requestId" => self.request_id.write(out),
            "recordedAt" => self.recorded_at.write(out),
            _ => return false,
        }
        true
    }
}

/// A lead as it stood at an instant.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct LeadAsOf {
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
#[graphql(serial)]
pub struct ProjectAsOf {
    id: Uuid,
    name: String,
    client_id: Option<Uuid>,
    status: ProjectStatus,
    current_stage: Option<StageKey>,
    stages: Vec<StageAsOf>,
}

/// A stage's checklist as it stood.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct StageAsOf {
    key: StageKey,
    items: Vec<ItemAsOf>,
}

/// A checklist item as it stood.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct ItemAsOf {
    key: String,
    title: String,
    mandatory: bool,
    status: ItemStatus,
}

fn audit_error(error: AuditError) -> ApiError {
    ApiError::internal(error)
}

#[Object]
impl AuditQuery {
    /// A record's events in order, with actor and time (admins and auditors).
    async fn history(
        &self,
        ctx: &Context<'_>,
        aggregate_type: AggregateType,
        aggregate_id: Uuid,
    ) -> Result<WrittenList<HistoryEvent>> {
        ctx.request().auth.require(Permission::ReadHistory)?;
        let selection = ctx.look_ahead();
        let events = entries(
            &ctx.state().pool,
            aggregate_type.persisted(),
            &aggregate_id.to_string(),
            |field| selects(&selection, field),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(WrittenList(
            events.into_iter().map(HistoryEvent::from).collect(),
        ))
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

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use chrono::TimeZone;

    use crate::graphql::written::testing::{answer, assert_same};

    use super::*;

    fn events() -> Vec<HistoryEvent> {
        let full = HistoryEvent {
            event_id: Uuid::from_u128(0x0192_0000_7000_8000_0000_0000_0000_00ab),
            global_position: 9_007_199_254_740_993,
            sequence: 1,
            event_type: "NoteAdded \"quoted\" \\ back\nslash \u{1} </script> Ünïcode ✓".to_owned(),
            event_version: "1".to_owned(),
            payload: JsonText(
                r#"{"NoteAdded": {"text": "a \"b\" \u0001 é", "n": [1, 2.5, null]}}"#.to_owned(),
            ),
            actor_id: Some(Uuid::from_u128(7)),
            actor_role: Some("admin".to_owned()),
            correlation_id: Some("c-1".to_owned()),
            causation_id: Some("tab\there".to_owned()),
            request_id: Some(String::new()),
            recorded_at: Utc
                .timestamp_opt(1_763_700_000, 123_456_789)
                .single()
                .expect("a valid instant"),
        };
        let bare = HistoryEvent {
            event_id: Uuid::nil(),
            global_position: -1,
            sequence: 2,
            event_type: String::new(),
            event_version: "2".to_owned(),
            payload: JsonText("{}".to_owned()),
            actor_id: None,
            actor_role: None,
            correlation_id: None,
            causation_id: None,
            request_id: None,
            recorded_at: Utc.timestamp_opt(0, 0).single().expect("a valid instant"),
        };
        vec![full, bare]
    }

    struct Sample;

    #[Object]
    impl Sample {
        async fn fast(&self) -> WrittenList<HistoryEvent> {
            WrittenList(events())
        }
        async fn slow(&self) -> Vec<HistoryEvent> {
            events()
        }
        async fn fast_none(&self) -> WrittenList<HistoryEvent> {
            WrittenList(Vec::new())
        }
        async fn slow_none(&self) -> Vec<HistoryEvent> {
            Vec::new()
        }
    }

    #[tokio::test]
    async fn written_history_is_what_async_graphql_resolves_byte_for_byte() {
        let schema = Schema::new(Sample, EmptyMutation, EmptySubscription);
        let introspection = schema
            .execute(r#"{ __type(name: "HistoryEvent") { fields { name } } }"#)
            .await
            .data
            .into_json()
            .expect("introspection is JSON");
        let fields: Vec<&str> = introspection["__type"]["fields"]
            .as_array()
            .expect("HistoryEvent has fields")
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert_eq!(fields.len(), 12);
        let all = format!("{{ LIST {{ {} }} }}", fields.join(" "));
        let selections = [
            all.as_str(),
            "{ LIST { sequence eventType payload actorId } }",
            "{ LIST { a: sequence sequence t: __typename __typename payload a: sequence b: eventType } }",
            "query { LIST { ...F ... on HistoryEvent { eventType sequence } ... { actorId } } } \
             fragment F on HistoryEvent { sequence eventId }",
            "query($yes: Boolean!) { LIST { sequence @include(if: $yes) eventType @skip(if: $yes) \
             ... @include(if: false) { actorRole } ...F @skip(if: $yes) recordedAt } } \
             fragment F on HistoryEvent { causationId }",
        ];
        for selection in selections {
            assert_same(&schema, ("fast", "slow"), selection, None).await;
            let (empty, _) = answer(&schema, "fastNone", selection, true, None).await;
            let (resolved, _) = answer(&schema, "slowNone", selection, true, None).await;
            assert_eq!(empty.replacen("\"fastNone\"", "\"slowNone\"", 1), resolved);
        }
    }
}
