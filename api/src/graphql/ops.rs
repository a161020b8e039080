//! The Ops Center (admins, `Operate`) beside the email outbox and the webhooks: the WhatsApp
//! outbox, everyone's notifications, and the counts of a follow-up dashboard. The upload
//! review queue is `reviewQueue`, parked reactions `parkedReactions`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Permission;
use projections::page::{self, Sort};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::{arguments, objects, respond, CountField};
use crate::graphql::context::Ctx;
use crate::graphql::notifications::Notification;
use crate::graphql::outbox::decided;
use crate::graphql::outbox::MessageStatus;
use reactions::courier;

/// A WhatsApp message handed (or to be handed) to the BSP; its text is not listed.
#[derive(SimpleObject, Debug, sqlx::FromRow)]
#[graphql(complex)]
pub(super) struct WhatsAppMessage {
    id: Uuid,
    /// The notification's kind.
    kind: String,
    user_id: Uuid,
    to_number: String,
    #[graphql(skip)]
    status: String,
    attempts: i32,
    /// The BSP's answer or the connection error of the last failed attempt.
    last_error: Option<String>,
    /// The BSP's id of the message.
    provider_message_id: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    next_attempt_at: DateTime<Utc>,
    decided_by: Option<Uuid>,
    #[graphql(skip)]
    sort_value: String,
}

#[async_graphql::ComplexObject]
impl WhatsAppMessage {
    async fn status(&self) -> Option<MessageStatus> {
        MessageStatus::parse(&self.status)
    }
}

const WHATSAPP_COLUMNS: &str = "id, kind, user_id, to_number, status, attempts, last_error, \
     provider_message_id, created_at, sent_at, next_attempt_at, decided_by";

const NEWEST: Sort = Sort {
    expr: "created_at",
    cast: "timestamptz",
    descending: true,
};

/// The counts of the follow-up dashboard.
#[derive(SimpleObject, Debug, sqlx::FromRow)]
pub(super) struct OpsDashboard {
    /// Emails waiting for their (next) attempt.
    emails_queued: i64,
    emails_failed: i64,
    webhook_deliveries_queued: i64,
    webhook_deliveries_failed: i64,
    /// Endpoints whose every attempt has failed lately.
    webhook_endpoints_failing: i64,
    webhook_endpoints_disabled: i64,
    whatsapp_queued: i64,
    whatsapp_failed: i64,
    /// Customer uploads waiting for a reviewer (`reviewQueue`).
    uploads_awaiting_review: i64,
    /// Time from the productivity platform waiting for a mapping (`externalTimeEntries`).
    external_time_in_review: i64,
    /// Reactions parked after failing (`parkedReactions`).
    parked_reactions: i64,
    /// Notifications nobody has read yet, everyone's.
    unread_notifications: i64,
}

/// Ops Center queries.
#[derive(Default, Debug)]
pub(super) struct OpsQuery;

#[Object]
impl OpsQuery {
    /// The counts of the follow-up dashboard, read together.
    async fn ops_dashboard(&self, ctx: &Context<'_>) -> Result<OpsDashboard> {
        ctx.request().auth.require(Permission::Operate)?;
        Ok(sqlx::query_as(
            "SELECT \
               (SELECT count(*) FROM email_outbox WHERE status IN ('queued', 'sending')) AS emails_queued, \
               (SELECT count(*) FROM email_outbox WHERE status = 'failed') AS emails_failed, \
               (SELECT count(*) FROM webhook_deliveries WHERE status IN ('queued', 'sending')) AS webhook_deliveries_queued, \
               (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed') AS webhook_deliveries_failed, \
               (SELECT count(*) FROM webhook_endpoint_health h JOIN webhook_endpoints e ON e.id = h.endpoint_id \
                 WHERE e.enabled AND h.failing_since IS NOT NULL) AS webhook_endpoints_failing, \
               (SELECT count(*) FROM webhook_endpoints WHERE NOT enabled) AS webhook_endpoints_disabled, \
               (SELECT count(*) FROM whatsapp_outbox WHERE status IN ('queued', 'sending')) AS whatsapp_queued, \
               (SELECT count(*) FROM whatsapp_outbox WHERE status = 'failed') AS whatsapp_failed, \
               (SELECT count(*) FROM document_uploads WHERE state = $1) AS uploads_awaiting_review, \
               (SELECT count(*) FROM external_entries WHERE status IN ('unmapped', 'refused')) AS external_time_in_review, \
               (SELECT count(*) FROM reactor_parked WHERE resolution IS NULL) AS parked_reactions, \
               (SELECT count(*) FROM notifications WHERE read_at IS NULL) AS unread_notifications",
        )
        .bind(domain::project::UploadState::Submitted.as_str())
        .fetch_one(&ctx.state().pool)
        .await
        .map_err(ApiError::from)?)
    }

    /// Everyone's notifications (or one person's, or of one kind), newest first.
    async fn ops_notifications(
        &self,
        ctx: &Context<'_>,
        user_id: Option<Uuid>,
        kind: Option<String>,
        #[graphql(default)] unread_only: bool,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<Notification>> {
        ctx.request().auth.require(Permission::Operate)?;
        let filter = projections::notifications::NotificationFilter {
            user_id,
            kind,
            unread_only,
        };
        Ok(objects(
            projections::notifications::list(&ctx.state().pool, &filter, first).await,
        )?)
    }

    /// The WhatsApp outbox, newest first.
    async fn whatsapp_messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] statuses: Vec<MessageStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WhatsAppMessage, CountField>> {
        ctx.request().auth.require(Permission::Operate)?;
        let (first, after) = arguments(first, after.as_deref())?;
        let statuses: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        let filter = |qb: &mut QueryBuilder<'_, Postgres>| {
            qb.push(" WHERE true");
            if !statuses.is_empty() {
                qb.push(" AND status = ANY(")
                    .push_bind(statuses.clone())
                    .push(")");
            }
        };
        let pool = &ctx.state().pool;
        Ok(respond(
            ctx,
            after.is_some(),
            page::fetch(
                pool,
                "whatsapp_outbox",
                WHATSAPP_COLUMNS,
                filter,
                NEWEST,
                first,
                after.as_ref(),
            ),
            || page::count(pool, "whatsapp_outbox", filter),
            |row: &WhatsAppMessage| (row.sort_value.clone(), row.id),
            |row| row,
        )
        .await?)
    }
}

/// Ops Center mutations.
#[derive(Default, Debug)]
pub(super) struct OpsMutation;

async fn decide_whatsapp(
    ctx: &Context<'_>,
    id: Uuid,
    set: &str,
    from: &[&str],
    action: &str,
    applies_to: &str,
) -> Result<WhatsAppMessage> {
    let viewer = ctx.request().auth.require(Permission::Operate)?;
    let pool = &ctx.state().pool;
    let outcome = courier::decide(
        pool,
        &reactions::whatsapp::OUTBOX,
        id,
        viewer.user_id,
        set,
        from,
    )
    .await
    .map_err(ApiError::from)?;
    decided(outcome, "WhatsApp message", id, action, applies_to)?;
    courier::wake(pool, &reactions::whatsapp::OUTBOX)
        .await
        .map_err(ApiError::from)?;
    let row: WhatsAppMessage = sqlx::query_as(&format!(
        "SELECT {WHATSAPP_COLUMNS}, ''::text AS sort_value FROM whatsapp_outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(pool)
    .await
    .map_err(ApiError::from)?;
    Ok(row)
}

#[Object]
impl OpsMutation {
    /// Queues a failed or cancelled WhatsApp message again, its attempts counted anew.
    async fn retry_whatsapp(&self, ctx: &Context<'_>, id: Uuid) -> Result<WhatsAppMessage> {
        decide_whatsapp(
            ctx,
            id,
            "status = 'queued', attempts = 0, next_attempt_at = now()",
            &["failed", "cancelled"],
            "retried",
            "failed or cancelled",
        )
        .await
    }

    /// Cancels a WhatsApp message not sent yet.
    async fn cancel_whatsapp(&self, ctx: &Context<'_>, id: Uuid) -> Result<WhatsAppMessage> {
        decide_whatsapp(
            ctx,
            id,
            "status = 'cancelled'",
            &["queued", "failed"],
            "cancelled",
            "queued or failed",
        )
        .await
    }
}
