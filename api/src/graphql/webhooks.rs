//! Outbound webhooks in the Ops Center (admins, `Operate`): endpoints with their health,
//! deliveries failing first with every attempt, redelivery and replay of the log.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::webhook::{EndpointSpec, EventType};
use domain::Permission;
use projections::webhooks::{AttemptRow, DeliveryFilter, DeliveryRow, EndpointRow};
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::{arguments, respond, CountField};
use crate::graphql::context::Ctx;
use crate::graphql::outbox::MessageStatus;
use crate::graphql::types::{parse_persisted, Role};

mod mutations;
pub(crate) use mutations::WebhookMutation;

/// Read models a webhook mutation answers from.
const WEBHOOK_READ_MODELS: [&str; 1] = [projections::webhooks::NAME];

/// How long a rotated secret keeps signing beside the new one.
const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A documented event type (api.md describes each payload).
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::webhook::EventType")]
pub enum WebhookEventType {
    /// `project.created`: a project was opened for a client.
    ProjectCreated,
    /// `task.created`: a task was added to a project.
    TaskCreated,
    /// `task.assigned`: a task or subtask got an assignee.
    TaskAssigned,
    /// `task.status_changed`: a person changed a task's or subtask's status.
    TaskStatusChanged,
    /// `time_entries.approved`: a manager or reviewer approved time entries.
    TimeEntriesApproved,
}

/// A documented event type and who may receive it.
#[derive(SimpleObject, Debug)]
pub(super) struct WebhookEventTypeInfo {
    event_type: WebhookEventType,
    /// The `type` of its payloads, such as `task.created`.
    name: &'static str,
    /// The version of its `data` shape.
    version: u32,
    /// The roles an endpoint may have to receive it.
    roles: Vec<Role>,
}

/// Deliveries of one status.
#[derive(SimpleObject, Debug)]
pub(super) struct DeliveryStatusCount {
    status: Option<MessageStatus>,
    deliveries: i64,
}

fn status_counts(counts: Vec<(String, i64)>) -> Vec<DeliveryStatusCount> {
    counts
        .into_iter()
        .map(|(status, deliveries)| DeliveryStatusCount {
            status: MessageStatus::parse(&status),
            deliveries,
        })
        .collect()
}

/// A registered endpoint (its secret is shown once, when registered or rotated).
#[derive(Debug)]
pub(super) struct WebhookEndpoint(EndpointRow);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Empty: every type its role may receive.
    async fn event_types(&self) -> Vec<WebhookEventType> {
        self.0
            .event_types
            .iter()
            .filter_map(|t| EventType::parse(t))
            .map(WebhookEventType::from)
            .collect()
    }
    /// Whose view the payloads follow.
    async fn role(&self) -> Option<Role> {
        parse_persisted::<domain::Role>(&self.0.role).map(Role::from)
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Why it was disabled (by an admin, or after failing for too long).
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Since when every attempt has failed (none: healthy).
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }
    async fn last_success_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_success_at
    }
    async fn last_failure_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_failure_at
    }
    async fn created_by(&self) -> Option<Uuid> {
        self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its deliveries by status.
    async fn delivery_counts(&self, ctx: &Context<'_>) -> Result<Vec<DeliveryStatusCount>> {
        let counts = projections::webhooks::counts(&ctx.state().pool, Some(self.0.id))
            .await
            .map_err(ApiError::from)?;
        Ok(status_counts(counts))
    }
}

/// One attempt at a delivery.
#[derive(SimpleObject, Debug)]
pub(super) struct WebhookAttempt {
    attempt: i32,
    at: DateTime<Utc>,
    /// The HTTP status the endpoint answered (none: no answer).
    status_code: Option<i32>,
    latency_ms: i32,
    error: Option<String>,
    /// The first kilobyte of the answer.
    response_excerpt: Option<String>,
}

impl From<AttemptRow> for WebhookAttempt {
    fn from(row: AttemptRow) -> Self {
        WebhookAttempt {
            attempt: row.attempt,
            at: row.at,
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            error: row.error,
            response_excerpt: row.response_excerpt,
        }
    }
}

/// An event's delivery to an endpoint.
#[derive(Debug)]
pub(super) struct WebhookDelivery(DeliveryRow);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The `webhook-id` header: the same on every attempt, redelivery and replay.
    async fn webhook_id(&self) -> String {
        reactions::webhooks::webhook_id(self.0.id)
    }
    async fn endpoint_id(&self) -> Uuid {
        self.0.endpoint_id
    }
    async fn event_type(&self) -> Option<WebhookEventType> {
        EventType::parse(&self.0.event_type).map(WebhookEventType::from)
    }
    /// The event in the log (its history shows it).
    async fn event_id(&self) -> Uuid {
        self.0.event_id
    }
    async fn event_position(&self) -> i64 {
        self.0.event_position
    }
    /// When the event was recorded.
    async fn committed_at(&self) -> DateTime<Utc> {
        self.0.committed_at
    }
    async fn status(&self) -> Option<MessageStatus> {
        MessageStatus::parse(&self.0.status)
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The admin who last redelivered it.
    async fn decided_by(&self) -> Option<Uuid> {
        self.0.decided_by
    }
    /// The JSON body it sends.
    async fn payload(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(projections::webhooks::payload(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default())
    }
    /// Every attempt, first first.
    async fn attempt_log(&self, ctx: &Context<'_>) -> Result<Vec<WebhookAttempt>> {
        let rows = projections::webhooks::attempts(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WebhookAttempt::from).collect())
    }
}

/// Which deliveries.
#[derive(InputObject, Default, Debug)]
pub(super) struct DeliveryFilterInput {
    endpoint_id: Option<Uuid>,
    #[graphql(default)]
    statuses: Vec<MessageStatus>,
    event_type: Option<WebhookEventType>,
}

/// Webhook queries.
#[derive(Default, Debug)]
pub(super) struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The documented event types.
    async fn webhook_event_types(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEventTypeInfo>> {
        ctx.request().auth.require(Permission::Operate)?;
        Ok(EventType::ALL
            .into_iter()
            .map(|t| WebhookEventTypeInfo {
                event_type: t.into(),
                name: t.as_str(),
                version: t.version(),
                roles: domain::Role::ALL
                    .into_iter()
                    .filter(|r| t.roles().contains(&r.as_str()))
                    .map(Role::from)
                    .collect(),
            })
            .collect())
    }

    /// Every endpoint, failing ones first.
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        ctx.request().auth.require(Permission::Operate)?;
        let rows = projections::webhooks::endpoints(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WebhookEndpoint).collect())
    }

    async fn webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<Option<WebhookEndpoint>> {
        ctx.request().auth.require(Permission::Operate)?;
        let row = projections::webhooks::endpoint(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(WebhookEndpoint))
    }

    /// Deliveries, failing first (failed, then retrying), newest first within each.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeliveryFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDelivery, CountField>> {
        ctx.request().auth.require(Permission::Operate)?;
        let (first, after) = arguments(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let filter = DeliveryFilter {
            endpoint_id: filter.endpoint_id,
            statuses: filter
                .statuses
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            event_type: filter
                .event_type
                .map(|t| EventType::from(t).as_str().to_owned()),
        };
        let pool = &ctx.state().pool;
        Ok(respond(
            ctx,
            after.is_some(),
            projections::webhooks::deliveries(pool, &filter, first, after.as_ref()),
            || projections::webhooks::count_deliveries(pool, &filter),
            |row: &DeliveryRow| (row.sort_value.clone(), row.id),
            WebhookDelivery,
        )
        .await?)
    }

    async fn webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<Option<WebhookDelivery>> {
        ctx.request().auth.require(Permission::Operate)?;
        let row = projections::webhooks::delivery(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(WebhookDelivery))
    }

    /// Deliveries of every endpoint by status, for a dashboard.
    async fn webhook_counts(&self, ctx: &Context<'_>) -> Result<Vec<DeliveryStatusCount>> {
        ctx.request().auth.require(Permission::Operate)?;
        let counts = projections::webhooks::counts(&ctx.state().pool, None)
            .await
            .map_err(ApiError::from)?;
        Ok(status_counts(counts))
    }
}

/// An endpoint to register, or what an endpoint becomes.
#[derive(InputObject, Debug)]
pub(super) struct WebhookEndpointInput {
    /// An http(s) URL on the public internet.
    url: String,
    #[graphql(default)]
    description: String,
    /// Empty: every type the role may receive, including types documented later.
    #[graphql(default)]
    event_types: Vec<WebhookEventType>,
    /// Whose view the payloads follow; the types must be ones this role may receive.
    role: Role,
}

impl WebhookEndpointInput {
    fn spec(self) -> EndpointSpec {
        EndpointSpec {
            url: self.url,
            description: self.description,
            event_types: self.event_types.into_iter().map(EventType::from).collect(),
            role: self.role.into(),
        }
    }
}

/// An endpoint and its new signing secret (shown this once).
#[derive(SimpleObject, Debug)]
pub(super) struct WebhookEndpointWithSecret {
    endpoint: Option<WebhookEndpoint>,
    /// `whsec_…`: the key receivers verify `webhook-signature` with. Null only in the
    /// repeat of a request sent with an `Idempotency-Key`: the secret was shown once, in the
    /// first answer.
    secret: Option<String>,
    caught_up: bool,
}

/// What an endpoint mutation answers.
#[derive(SimpleObject, Debug)]
pub(super) struct WebhookEndpointPayload {
    endpoint: Option<WebhookEndpoint>,
    caught_up: bool,
}

/// What a replay did.
#[derive(SimpleObject, Debug)]
pub(super) struct WebhookReplay {
    /// Documented events read, of every type (`queued` counts the endpoint's).
    events: u64,
    /// Deliveries queued (again) for the endpoint.
    queued: u64,
    /// More remain: call again with `sincePosition` set to this.
    next_position: Option<i64>,
}
