//! In-app notifications: the viewer's list, the unread count, marking them read.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::user::UserCommand;
use projections::notifications::NotificationRow;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::objects;
use crate::graphql::context::Ctx;

/// An in-app notification.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct Notification {
    id: Uuid,
    /// Its recipient.
    user_id: Uuid,
    /// One of `notificationPreferences.kinds`.
    kind: String,
    title: String,
    body: String,
    project_id: Option<Uuid>,
    /// The request or task concerned.
    subject_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    read: bool,
    read_at: Option<DateTime<Utc>>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Notification {
            id: row.id,
            user_id: row.user_id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            project_id: row.project_id,
            subject_id: row.subject_id,
            created_at: row.created_at,
            read: row.read_at.is_some(),
            read_at: row.read_at,
        }
    }
}

/// Notification queries.
#[derive(Default, Debug)]
pub(super) struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// How notifications reach the viewer besides the app.
    async fn notification_preferences(&self, ctx: &Context<'_>) -> Result<NotificationPreferences> {
        let viewer = ctx.request().auth.viewer()?;
        preferences(ctx, viewer.user_id).await
    }

    /// The viewer's notifications, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] unread_only: bool,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<Notification>> {
        let viewer = ctx.request().auth.viewer()?;
        Ok(objects(
            projections::notifications::list(
                &ctx.state().pool,
                &projections::notifications::NotificationFilter {
                    user_id: Some(viewer.user_id),
                    kind: None,
                    unread_only,
                },
                first,
            )
            .await,
        )?)
    }

    /// How many unread notifications the viewer has.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let viewer = ctx.request().auth.viewer()?;
        Ok(
            projections::notifications::unread(&ctx.state().pool, viewer.user_id)
                .await
                .map_err(ApiError::from)?,
        )
    }
}

/// Notification mutations.
#[derive(Default, Debug)]
pub(super) struct NotificationMutation;

/// How notifications reach the viewer besides the app, where every one always shows.
#[derive(async_graphql::SimpleObject, Debug)]
pub(super) struct NotificationPreferences {
    /// Kinds never emailed.
    email_muted: Vec<String>,
    /// One email a day listing the day's notifications instead of one each.
    digest: bool,
    /// Kinds also sent by WhatsApp (opted in).
    whatsapp: Vec<String>,
    /// The number WhatsApp messages go to.
    whatsapp_number: Option<String>,
    /// Whether this server sends WhatsApp messages at all.
    whatsapp_available: bool,
    /// Every kind there is.
    kinds: Vec<String>,
}

async fn stored_preferences(
    ctx: &Context<'_>,
    user_id: Uuid,
) -> Result<projections::notifications::Preferences> {
    Ok(
        projections::notifications::preferences(&ctx.state().pool, user_id)
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default(),
    )
}

async fn preferences(ctx: &Context<'_>, user_id: Uuid) -> Result<NotificationPreferences> {
    let stored = stored_preferences(ctx, user_id).await?;
    Ok(NotificationPreferences {
        email_muted: stored.email_muted,
        digest: stored.digest,
        whatsapp: stored.whatsapp,
        whatsapp_number: stored.whatsapp_number,
        whatsapp_available: ctx.state().whatsapp_enabled,
        kinds: domain::user::NotificationKind::ALL
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
    })
}

/// Runs a command on the viewer's own user and waits for the notifications read model;
/// returns the viewer's id.
async fn on_viewer(
    ctx: &Context<'_>,
    command: impl FnOnce(chrono::DateTime<chrono::Utc>) -> UserCommand,
) -> Result<Uuid> {
    let viewer = ctx.request().auth.viewer()?;
    let command_ctx = ctx.command_context(&viewer);
    let state = ctx.state();
    let appended = state
        .bus
        .user(&command_ctx, viewer.user_id, command(command_ctx.issued_at))
        .await
        .map_err(ApiError::from)?;
    state
        .caught_up(&[projections::notifications::NAME], appended)
        .await;
    Ok(viewer.user_id)
}

#[Object]
impl NotificationMutation {
    /// Chooses which kinds of notification also come by email (all but `emailMuted`),
    /// whether as one daily digest of the day before instead of one email each, and which
    /// also come by WhatsApp (`whatsapp`, to `whatsappNumber`). An argument left out keeps
    /// its current choice.
    async fn set_notification_preferences(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_items = 20))] email_muted: Option<Vec<String>>,
        digest: Option<bool>,
        #[graphql(validator(max_items = 20))] whatsapp: Option<Vec<String>>,
        whatsapp_number: Option<String>,
    ) -> Result<NotificationPreferences> {
        let viewer = ctx.request().auth.viewer()?;
        let current = stored_preferences(ctx, viewer.user_id).await?;
        let whatsapp = whatsapp.unwrap_or(current.whatsapp);
        if !whatsapp.is_empty() && !ctx.state().whatsapp_enabled {
            return Err(ApiError::bad_input(
                "whatsapp: this server sends no WhatsApp messages (WHATSAPP_BSP_URL is not set)",
            )
            .into());
        }
        let user_id = on_viewer(ctx, |at| UserCommand::SetNotificationPreferences {
            email_muted: email_muted.unwrap_or(current.email_muted),
            digest: digest.unwrap_or(current.digest),
            whatsapp,
            // An empty number removes it.
            whatsapp_number: match whatsapp_number {
                Some(number) if number.trim().is_empty() => None,
                Some(number) => Some(number),
                None => current.whatsapp_number,
            },
            at,
        })
        .await?;
        preferences(ctx, user_id).await
    }

    /// Marks notifications read (all of them when `ids` is omitted).
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<Uuid>>,
    ) -> Result<i64> {
        let user_id = on_viewer(ctx, |at| UserCommand::MarkNotificationsRead { ids, at }).await?;
        Ok(
            projections::notifications::unread(&ctx.state().pool, user_id)
                .await
                .map_err(ApiError::from)?,
        )
    }
}
