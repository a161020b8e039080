//! Outbound webhooks in the Ops Center (admins, `Operate`): endpoints with their health,
//! deliveries failing first with every attempt, redelivery and replay of the log.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::webhook::{EndpointSpec, EventType, WebhookCommand, WebhookEndpoint as Endpoint};
use domain::Permission;
use projections::webhooks::{AttemptRow, DeliveryFilter, DeliveryRow, EndpointRow};
use reactions::webhooks::Since;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::{arguments, respond, CountField};
use crate::graphql::context::{shown_once, Ctx};
use crate::graphql::outbox::decided;
use crate::graphql::outbox::MessageStatus;
use crate::graphql::types::{parse_persisted, Role};
use crate::state::ReadBack;
use reactions::courier;
use reactions::webhooks::{new_secret, store_secret};

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

/// Webhook mutations.
#[derive(Default, Debug)]
pub(super) struct WebhookMutation;

async fn answer(
    ctx: &Context<'_>,
    id: Uuid,
    appended: commands::Appended,
) -> Result<(Option<WebhookEndpoint>, bool)> {
    let state = ctx.state();
    let ReadBack {
        record: endpoint,
        caught_up,
    } = state
        .after_append(
            &WEBHOOK_READ_MODELS,
            appended,
            projections::webhooks::endpoint(&state.pool, id),
        )
        .await
        .map(WebhookEndpoint);
    Ok((endpoint, caught_up))
}

/// Refuses a URL whose host is internal (or does not resolve) unless allowed.
async fn reachable(ctx: &Context<'_>, spec: &EndpointSpec) -> Result<(), ApiError> {
    ctx.state()
        .webhook_addresses
        .check_url(&spec.url)
        .await
        .map_err(|why| ApiError::bad_input(format!("url: {why}")))
}

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: impl FnOnce(Uuid, DateTime<Utc>) -> WebhookCommand,
) -> Result<WebhookEndpointPayload> {
    let viewer = ctx.request().auth.require(Permission::Operate)?;
    let command_ctx = ctx.command_context(&viewer);
    let command = command(viewer.user_id, command_ctx.issued_at);
    let appended = ctx
        .state()
        .bus
        .webhook_endpoint(&command_ctx, id, command)
        .await
        .map_err(ApiError::from)?;
    let (endpoint, caught_up) = answer(ctx, id, appended).await?;
    Ok(WebhookEndpointPayload {
        endpoint,
        caught_up,
    })
}

#[Object]
impl WebhookMutation {
    /// Registers an endpoint, enabled, with a new signing secret. It receives the events
    /// recorded after it; `replayWebhookEvents` sends earlier ones.
    async fn register_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> Result<WebhookEndpointWithSecret> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        let command_ctx = ctx.command_context(&viewer);
        let endpoint_id = Uuid::now_v7();
        let command = WebhookCommand::Register {
            endpoint_id,
            spec: input.spec(),
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        // Decided before the secret is stored, so a refused endpoint leaves nothing behind.
        let decided = Endpoint::default()
            .decide(command.clone())
            .map_err(|e| ApiError::bad_input(e.to_string()))?;
        if let Some(domain::webhook::WebhookEvent::WebhookEndpointRegistered { spec, .. }) =
            decided.first()
        {
            reachable(ctx, spec).await?;
        }
        let state = ctx.state();
        let secret = new_secret();
        store_secret(&state.pool, endpoint_id, &secret, command_ctx.issued_at)
            .await
            .map_err(ApiError::from)?;
        let appended = state
            .bus
            .webhook_endpoint(&command_ctx, endpoint_id, command)
            .await
            .map_err(ApiError::from)?;
        let (endpoint, caught_up) = answer(ctx, endpoint_id, appended).await?;
        Ok(WebhookEndpointWithSecret {
            endpoint,
            secret: Some(shown_once(ctx, secret)),
            caught_up,
        })
    }

    /// Changes an endpoint's URL, description, types or role (the same again changes
    /// nothing).
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: WebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        ctx.request().auth.require(Permission::Operate)?;
        let spec =
            EndpointSpec::parse(input.spec()).map_err(|e| ApiError::bad_input(e.to_string()))?;
        reachable(ctx, &spec).await?;
        run(ctx, id, |by, at| WebhookCommand::Update { spec, by, at }).await
    }

    /// Stops deliveries to an endpoint; they wait, and new events are not queued for it
    /// until it is enabled again (replay fills the gap).
    async fn disable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> Result<WebhookEndpointPayload> {
        run(ctx, id, |by, at| WebhookCommand::Disable {
            reason,
            by: Some(by),
            notify: vec![],
            at,
        })
        .await
    }

    /// Enables an endpoint again; its waiting deliveries go out, its failure clock starts
    /// anew.
    async fn enable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<WebhookEndpointPayload> {
        let payload = run(ctx, id, |by, at| WebhookCommand::Enable { by, at }).await?;
        sqlx::query("DELETE FROM webhook_endpoint_health WHERE endpoint_id = $1")
            .bind(id)
            .execute(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        courier::wake(&ctx.state().pool, &reactions::webhooks::DELIVERIES)
            .await
            .map_err(ApiError::from)?;
        Ok(payload)
    }

    /// A new signing secret, shown once; the previous one keeps signing beside it for a
    /// day so receivers can switch.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<WebhookEndpointWithSecret> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        let state = ctx.state();
        let command_ctx = ctx.command_context(&viewer);
        let command = WebhookCommand::RotateSecret {
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        let appended = state
            .bus
            .webhook_endpoint(&command_ctx, id, command)
            .await
            .map_err(ApiError::from)?;
        let secret = new_secret();
        let overlap = command_ctx.issued_at + chrono::Duration::hours(ROTATION_OVERLAP_HOURS);
        store_secret(&state.pool, id, &secret, overlap)
            .await
            .map_err(ApiError::from)?;
        let (endpoint, caught_up) = answer(ctx, id, appended).await?;
        Ok(WebhookEndpointWithSecret {
            endpoint,
            secret: Some(shown_once(ctx, secret)),
            caught_up,
        })
    }

    /// Sends a delivery again (sent, failed or cancelled), its attempts counted anew and
    /// under the same `webhook-id`.
    async fn redeliver_webhook(&self, ctx: &Context<'_>, id: Uuid) -> Result<WebhookDelivery> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        let pool = &ctx.state().pool;
        let outcome = courier::decide(
            pool,
            &reactions::webhooks::DELIVERIES,
            id,
            viewer.user_id,
            "status = 'queued', attempts = 0, next_attempt_at = now(), last_error = NULL",
            &["sent", "failed", "cancelled"],
        )
        .await
        .map_err(ApiError::from)?;
        decided(
            outcome,
            "webhook delivery",
            id,
            "redelivered",
            "sent, failed or cancelled",
        )?;
        courier::wake(pool, &reactions::webhooks::DELIVERIES)
            .await
            .map_err(ApiError::from)?;
        let row = projections::webhooks::delivery(pool, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("webhook delivery"))?;
        Ok(WebhookDelivery(row))
    }

    /// Queues for an enabled endpoint every event of its types since a position of the
    /// log (inclusive) or a time, delivered before or not, under their usual
    /// `webhook-id`s. At most 5,000 events a call: `nextPosition` says where to go on.
    async fn replay_webhook_events(
        &self,
        ctx: &Context<'_>,
        endpoint_id: Uuid,
        since_position: Option<i64>,
        since: Option<DateTime<Utc>>,
    ) -> Result<WebhookReplay> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        let since = match (since_position, since) {
            (Some(position), None) if position >= 0 => Since::Position(position),
            (None, Some(time)) => Since::Time(time),
            _ => {
                return Err(ApiError::bad_input(
                    "give either sincePosition (0 or more) or since, not both",
                )
                .into())
            }
        };
        let pool = &ctx.state().pool;
        let endpoint = projections::webhooks::endpoint(pool, endpoint_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
        if !endpoint.enabled {
            return Err(ApiError::bad_input(
                "this endpoint is disabled: enable it before replaying events to it",
            )
            .into());
        }
        let replayed = reactions::webhooks::replay(pool, endpoint_id, since)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        tracing::info!(%endpoint_id, by = %viewer.user_id, queued = replayed.queued, "webhook events replayed");
        Ok(WebhookReplay {
            events: replayed.events,
            queued: replayed.queued,
            next_position: replayed.next_position,
        })
    }
}
