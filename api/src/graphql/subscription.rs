//! Subscriptions over graphql-ws: live changes to leads and projects the subscriber may see.

use async_graphql::{Context, Result, Subscription as SubscriptionMacro};
use domain::Permission;
use futures::{Stream, StreamExt};
use projections::Notice;
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

use super::context::Ctx;
use super::leads::Lead;
use super::projects::Project;

/// The root subscription.
#[derive(Default, Debug)]
pub struct Subscription;

/// Turns the notice bus into a stream of (kind, id, client) changes.
fn changes(ctx: &Context<'_>, kind: &'static str) -> impl Stream<Item = (Uuid, Option<Uuid>)> {
    // A lagged receiver yields `Err` for the notices it missed; skip them, keep the stream.
    BroadcastStream::new(ctx.state().notices.subscribe()).filter_map(move |notice| async move {
        match notice {
            Ok(Notice::Changed {
                kind: k,
                id,
                client_id,
            }) if k == kind => Some((id, client_id)),
            _ => None,
        }
    })
}

#[SubscriptionMacro]
impl Subscription {
    /// Leads as they change (internal users with lead access); optionally one lead only.
    async fn lead_changed(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
    ) -> Result<impl Stream<Item = Lead>> {
        ctx.request().auth.require(Permission::ReadLeads)?;
        let pool = ctx.state().pool.clone();
        Ok(changes(ctx, "lead")
            .filter(move |(changed, _)| {
                std::future::ready(id.is_none_or(|wanted| wanted == *changed))
            })
            .filter_map(move |(changed, _)| {
                let pool = pool.clone();
                async move {
                    projections::leads::find(&pool, changed)
                        .await
                        .ok()
                        .flatten()
                        .map(Lead::from)
                }
            }))
    }

    /// Projects as they change; portal users only ever receive their own client's.
    async fn project_changed(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
    ) -> Result<impl Stream<Item = Project>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        let pool = ctx.state().pool.clone();
        Ok(changes(ctx, "project")
            .filter(move |(changed, client)| {
                let visible = client.is_some_and(|c| viewer.sees_client(c));
                std::future::ready(visible && id.is_none_or(|wanted| wanted == *changed))
            })
            .filter_map(move |(changed, _)| {
                let pool = pool.clone();
                async move {
                    projections::projects::find(&pool, changed)
                        .await
                        .ok()
                        .flatten()
                        .filter(|p| viewer.sees_client(p.client_id))
                        .map(Project)
                }
            }))
    }
}
