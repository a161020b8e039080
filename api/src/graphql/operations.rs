//! Operations: the state of the projection workers and the reactors, and the admin's
//! decisions on events a reactor parked.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::reaction::ReactionCommand;
use domain::Permission;
use uuid::Uuid;

use super::context::Ctx;
use crate::error::{ApiError, Code};

/// Status of one projection.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ProjectionStatus {
    /// Projection name.
    pub name: String,
    /// Global position of the last folded event.
    pub position: i64,
    /// Events seen since position zero.
    pub events_seen: i64,
    /// Events not yet folded.
    pub lag_events: i64,
    /// Age of the newest unfolded event relative to the last folded one, in seconds.
    pub lag_seconds: f64,
    /// Last error while failing.
    pub last_error: Option<String>,
    /// Whether it is failing or far behind.
    pub stalled: bool,
    /// The open transaction it waits on: it has events to fold that committed after that
    /// transaction began (in any database of the cluster), and reads none until it ends.
    pub waiting_on: Option<HorizonHolder>,
}

/// An open transaction that holds the projection workers back.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct HorizonHolder {
    pub database: Option<String>,
    /// Its backend's process id.
    pub pid: i32,
    /// Seconds since it began.
    pub age_seconds: f64,
    /// Its backend's state, where PostgreSQL shows it (`idle in transaction`, ...).
    pub state: Option<String>,
    /// Its client's application name.
    pub application: Option<String>,
}

impl From<projections::status::HorizonHolder> for HorizonHolder {
    fn from(h: projections::status::HorizonHolder) -> Self {
        Self {
            database: h.database,
            pid: h.pid,
            age_seconds: h.age_seconds,
            state: h.state,
            application: h.application,
        }
    }
}

/// A reactor: what it has passed, and the event it is stuck on, if any.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ReactorStatus {
    /// Reactor name.
    pub name: String,
    /// The id of its stream of admin decisions (`history(aggregateType: REACTOR, ...)`).
    pub stream_id: Uuid,
    /// Global position of the last event passed.
    pub position: i64,
    /// Events passed since it started.
    pub events_seen: i64,
    /// Events in the log after its position.
    pub lag_events: i64,
    /// Failed attempts at its next event (retried with backoff, parked at the limit).
    pub attempts: i32,
    /// That event's last error.
    pub last_error: Option<String>,
    /// Since when it has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// Events it parked that no admin has settled yet.
    pub parked: i64,
}

/// An event a reactor gave up on after its attempts.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ParkedReaction {
    pub reactor: String,
    /// The event it failed to react to (see `history`).
    pub event_id: Uuid,
    /// Its global position.
    pub position: i64,
    pub aggregate_type: String,
    pub event_type: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The last attempt's error.
    pub last_error: String,
    /// When it was (last) parked.
    pub parked_at: DateTime<Utc>,
    /// `RETRIED` (it succeeded) or `SKIPPED`, once an admin settled it.
    pub resolution: Option<String>,
    /// Who settled it.
    pub resolved_by: Option<Uuid>,
    /// When.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<reactions::runner::Parked> for ParkedReaction {
    fn from(p: reactions::runner::Parked) -> Self {
        Self {
            reactor: p.reactor,
            event_id: p.event_id,
            position: p.global_position,
            aggregate_type: p.aggregate_type,
            event_type: p.event_type,
            attempts: p.attempts,
            last_error: p.last_error,
            parked_at: p.parked_at,
            resolution: p.resolution.map(|r| r.to_uppercase()),
            resolved_by: p.resolved_by,
            resolved_at: p.resolved_at,
        }
    }
}

/// Operations queries (admins and operators).
#[derive(Default, Debug)]
pub(super) struct OperationsQuery;

#[Object]
impl OperationsQuery {
    /// Status of every projection.
    async fn projection_status(&self, ctx: &Context<'_>) -> Result<Vec<ProjectionStatus>> {
        ctx.request().auth.require(Permission::Operate)?;
        let rows = projections::status::all(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|s| ProjectionStatus {
                stalled: s.stalled(),
                name: s.name,
                position: s.position,
                events_seen: s.events_seen,
                lag_events: s.lag_events,
                lag_seconds: s.lag_seconds,
                last_error: s.last_error,
                waiting_on: s.waiting_on.map(Into::into),
            })
            .collect())
    }

    /// Status of every reactor.
    async fn reactor_status(&self, ctx: &Context<'_>) -> Result<Vec<ReactorStatus>> {
        ctx.request().auth.require(Permission::Operate)?;
        let rows = reactions::runner::status(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|s| ReactorStatus {
                stream_id: domain::reaction::stream_id(&s.name),
                name: s.name,
                position: s.position,
                events_seen: s.events_seen,
                lag_events: s.lag_events,
                attempts: s.attempts,
                last_error: s.last_error,
                failing_since: s.failing_since,
                parked: s.parked,
            })
            .collect())
    }

    /// Events reactors parked, unsettled first, newest first (at most 500).
    async fn parked_reactions(
        &self,
        ctx: &Context<'_>,
        reactor: Option<String>,
    ) -> Result<Vec<ParkedReaction>> {
        ctx.request().auth.require(Permission::Operate)?;
        let rows = reactions::runner::parked(&ctx.state().pool, reactor.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// Admins' decisions on parked events.
#[derive(Default, Debug)]
pub(super) struct OperationsMutation;

/// The parked event `event_id` of `reactor`.
async fn parked(
    ctx: &Context<'_>,
    reactor: &str,
    event_id: Uuid,
) -> Result<reactions::runner::Parked> {
    Ok(
        reactions::runner::parked_event(&ctx.state().pool, reactor, event_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::new(Code::NotFound, "reactor parked no such event"))?,
    )
}

/// The parked event `event_id` of `reactor`, unsettled, or why not.
async fn unsettled(
    ctx: &Context<'_>,
    reactor: &str,
    event_id: Uuid,
) -> Result<reactions::runner::Parked> {
    let parked = parked(ctx, reactor, event_id).await?;
    if parked.resolution.is_some() {
        return Err(ApiError::new(
            Code::Conflict,
            "this event was already settled: retried successfully or skipped",
        )
        .into());
    }
    Ok(parked)
}

#[Object]
impl OperationsMutation {
    /// Reacts to a parked event again, now, and records the retry. Answers the parked
    /// event afterwards: settled as `RETRIED` when it succeeded, still parked with the new
    /// error when it failed.
    async fn retry_parked_reaction(
        &self,
        ctx: &Context<'_>,
        reactor: String,
        event_id: Uuid,
    ) -> Result<ParkedReaction> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        unsettled(ctx, &reactor, event_id).await?;
        let state = ctx.state();
        let handler = state
            .reactors
            .iter()
            .find(|r| r.name() == reactor)
            .ok_or_else(|| ApiError::new(Code::NotFound, "no reactor has this name"))?;
        let outcome = reactions::runner::retry_parked(
            &state.pool,
            handler.as_ref(),
            event_id,
            Some(viewer.user_id),
        )
        .await
        .map_err(ApiError::from)?;
        let cmd = ctx.command_context(&viewer);
        state
            .bus
            .decide_parked_reaction(
                &cmd,
                &reactor,
                ReactionCommand::RecordRetry {
                    reactor: reactor.clone(),
                    event_id,
                    error: outcome.err().map(|e| e.to_string()),
                    at: cmd.issued_at,
                },
            )
            .await
            .map_err(ApiError::from)?;
        Ok(parked(ctx, &reactor, event_id).await?.into())
    }

    /// Gives up on a parked event for good, with a reason that is recorded.
    async fn skip_parked_reaction(
        &self,
        ctx: &Context<'_>,
        reactor: String,
        event_id: Uuid,
        reason: String,
    ) -> Result<ParkedReaction> {
        let viewer = ctx.request().auth.require(Permission::Operate)?;
        unsettled(ctx, &reactor, event_id).await?;
        let state = ctx.state();
        let cmd = ctx.command_context(&viewer);
        state
            .bus
            .decide_parked_reaction(
                &cmd,
                &reactor,
                ReactionCommand::Skip {
                    reactor: reactor.clone(),
                    event_id,
                    reason,
                    at: cmd.issued_at,
                },
            )
            .await
            .map_err(ApiError::from)?;
        reactions::runner::resolve(
            &state.pool,
            &reactor,
            event_id,
            "skipped",
            Some(viewer.user_id),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(parked(ctx, &reactor, event_id).await?.into())
    }
}
