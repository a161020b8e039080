//! The webhook mutations: endpoints registered, changed, enabled and rotated; deliveries
//! sent again; the log replayed.

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use domain::webhook::{EndpointSpec, WebhookCommand, WebhookEndpoint as Endpoint};
use domain::Permission;
use reactions::courier;
use reactions::webhooks::Since;
use reactions::webhooks::{new_secret, store_secret};
use uuid::Uuid;

use super::*;
use crate::error::ApiError;
use crate::graphql::context::{shown_once, Ctx};
use crate::graphql::outbox::decided;
use crate::state::ReadBack;

/// Webhook mutations.
#[derive(Default, Debug)]
pub(crate) struct WebhookMutation;

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
