//! The Ops Center's email outbox (admins): every message with its status, attempts and last
//! error, by status, recipient, kind and date; retry a failed one, cancel an unsent one.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Permission;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::{arguments, respond, CountField};
use crate::graphql::context::Ctx;
use reactions::courier::Refusal;
use reactions::mail::outbox::{self, OutboxFilter, OutboxRow};

/// Where an outbound message (an email, a webhook delivery) stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageStatus {
    /// Waiting for its (next) attempt.
    Queued,
    /// A courier is at it.
    Sending,
    /// The receiver accepted it (an SMTP 250, an HTTP 2xx).
    Sent,
    /// Refused for good, or out of attempts: send it again once mended.
    Failed,
    /// Cancelled by an admin.
    Cancelled,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            MessageStatus::Queued,
            MessageStatus::Sending,
            MessageStatus::Sent,
            MessageStatus::Failed,
            MessageStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A message of the outbox (its body is not shown: it may hold a one-time link).
#[derive(SimpleObject, Debug)]
pub(crate) struct EmailMessage {
    id: Uuid,
    /// set_password, password_reset, request_reminder, digest, or a notification's kind.
    kind: String,
    to: String,
    subject: String,
    status: Option<MessageStatus>,
    attempts: i32,
    /// The server's answer or the connection error of the last failed attempt.
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    /// When it is tried next (queued messages).
    next_attempt_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The admin who last retried or cancelled it.
    decided_by: Option<Uuid>,
}

impl From<OutboxRow> for EmailMessage {
    fn from(row: OutboxRow) -> Self {
        EmailMessage {
            status: MessageStatus::parse(&row.status),
            id: row.id,
            kind: row.kind,
            to: row.to_address,
            subject: row.subject,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
            next_attempt_at: row.next_attempt_at,
            updated_at: row.updated_at,
            decided_by: row.decided_by,
        }
    }
}

/// Which messages.
#[derive(InputObject, Default, Debug)]
pub(crate) struct EmailFilterInput {
    #[graphql(default)]
    statuses: Vec<MessageStatus>,
    /// Part of the recipient's address.
    recipient: Option<String>,
    kind: Option<String>,
    /// Queued at or after.
    since: Option<DateTime<Utc>>,
    /// Queued before.
    until: Option<DateTime<Utc>>,
}

/// Messages of one status.
#[derive(SimpleObject, Debug)]
pub(crate) struct MessageStatusCount {
    status: Option<MessageStatus>,
    messages: i64,
}

/// Outbox queries.
#[derive(Default, Debug)]
pub(crate) struct OutboxQuery;

#[Object]
impl OutboxQuery {
    /// The outbox, newest first.
    async fn email_messages(
        &self,
        ctx: &Context<'_>,
        filter: Option<EmailFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, EmailMessage, CountField>> {
        ctx.request().auth.require(Permission::Operate)?;
        let (first, after) = arguments(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let filter = OutboxFilter {
            statuses: filter
                .statuses
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            recipient: filter.recipient.filter(|r| !r.trim().is_empty()),
            kind: filter.kind,
            since: filter.since,
            until: filter.until,
        };
        let pool = &ctx.state().pool;
        Ok(respond(
            ctx,
            after.is_some(),
            outbox::list(pool, &filter, first, after.as_ref()),
            || outbox::count(pool, &filter),
            |row: &OutboxRow| (row.sort_value.clone(), row.id),
            EmailMessage::from,
        )
        .await?)
    }

    /// How many messages are in each status.
    async fn email_counts(&self, ctx: &Context<'_>) -> Result<Vec<MessageStatusCount>> {
        ctx.request().auth.require(Permission::Operate)?;
        let counts = outbox::counts(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(counts
            .into_iter()
            .map(|(status, messages)| MessageStatusCount {
                status: MessageStatus::parse(&status),
                messages,
            })
            .collect())
    }
}

/// An admin's action on a message as the API answers it: `NOT_FOUND`, or `BAD_USER_INPUT`
/// naming the statuses it applies to; logged when done.
pub(crate) fn decided(
    outcome: Result<(), Refusal>,
    what: &str,
    id: Uuid,
    action: &str,
    applies_to: &str,
) -> Result<(), ApiError> {
    match outcome {
        Ok(()) => {
            tracing::info!(%id, "{what} {action} by an admin");
            Ok(())
        }
        Err(Refusal::NotFound) => Err(ApiError::not_found(what)),
        Err(Refusal::Status(status)) => Err(ApiError::bad_input(format!(
            "only {applies_to} messages are {action} (this one is {status})"
        ))),
    }
}

/// Outbox mutations.
#[derive(Default, Debug)]
pub(crate) struct OutboxMutation;

async fn decided_answer(
    ctx: &Context<'_>,
    id: Uuid,
    outcome: Result<Result<(), Refusal>, sqlx::Error>,
    action: &str,
    applies_to: &str,
) -> Result<EmailMessage> {
    decided(
        outcome.map_err(ApiError::from)?,
        "email",
        id,
        action,
        applies_to,
    )?;
    let row = outbox::find(&ctx.state().pool, id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::not_found("email"))?;
    Ok(row.into())
}

#[Object]
impl OutboxMutation {
    /// Queues a failed or cancelled message again, its attempts counted anew.
    async fn retry_email(&self, ctx: &Context<'_>, id: Uuid) -> Result<EmailMessage> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        let outcome = outbox::retry(&ctx.state().pool, id, viewer.user_id).await;
        decided_answer(ctx, id, outcome, "retried", "failed or cancelled").await
    }

    /// Cancels a message not sent yet.
    async fn cancel_email(&self, ctx: &Context<'_>, id: Uuid) -> Result<EmailMessage> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        let outcome = outbox::cancel(&ctx.state().pool, id, viewer.user_id).await;
        decided_answer(ctx, id, outcome, "cancelled", "queued or failed").await
    }
}
