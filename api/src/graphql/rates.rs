//! Hourly rates: per role or per person, overridable per client (admins set them; managers,
//! reviewers and admins read them).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::rate::{Money as DomainMoney, RateCommand, RateFor, RateScope};
use domain::Permission;
use projections::rates::RateRow;
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::graphql::context::Ctx;
use crate::graphql::types::Role;

/// Read models a rate mutation answers from.
const RATE_READ_MODELS: [&str; 1] = [projections::rates::NAME];

/// An amount of money in minor units (paise for INR).
#[derive(SimpleObject, Debug)]
pub(super) struct Money {
    pub(crate) minor: i64,
    /// ISO 4217 code.
    pub(crate) currency: String,
}

impl From<DomainMoney> for Money {
    fn from(money: DomainMoney) -> Self {
        Money {
            minor: money.minor,
            currency: money.currency,
        }
    }
}

/// An hourly rate and whose hours it prices.
#[derive(SimpleObject, Debug)]
pub(super) struct Rate {
    /// The role it prices (null for a person's rate).
    role: Option<Role>,
    /// The person it prices (null for a role's rate).
    user_id: Option<Uuid>,
    /// The one client it applies to (null: every client).
    client_id: Option<Uuid>,
    hourly: Money,
    updated_at: DateTime<Utc>,
}

impl From<RateRow> for Rate {
    fn from(row: RateRow) -> Self {
        let (role, user_id) = match row.scope.who {
            RateFor::Role(role) => (Some(role.into()), None),
            RateFor::Person(user_id) => (None, Some(user_id)),
        };
        Rate {
            role,
            user_id,
            client_id: row.scope.client_id,
            hourly: row.hourly.into(),
            updated_at: row.updated_at,
        }
    }
}

/// Whose hours a rate prices: a role or a person (exactly one), for every client or one.
#[derive(InputObject, Debug)]
pub(super) struct RateScopeInput {
    role: Option<Role>,
    user_id: Option<Uuid>,
    client_id: Option<Uuid>,
}

/// A rate to set.
#[derive(InputObject, Debug)]
pub(super) struct SetRateInput {
    scope: RateScopeInput,
    /// Per hour, in minor units.
    hourly_minor: i64,
    /// ISO 4217 code (INR by default).
    currency: Option<String>,
}

/// Result of a rate mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct RatesPayload {
    /// Every rate, as the read model shows them after the change.
    rates: Vec<Rate>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

async fn scope(ctx: &Context<'_>, input: RateScopeInput) -> Result<RateScope, ApiError> {
    let pool = &ctx.state().pool;
    let who = match (input.role, input.user_id) {
        (Some(role), None) => RateFor::Role(role.into()),
        (None, Some(user_id)) => {
            let user = projections::users::find(pool, user_id)
                .await?
                .ok_or_else(|| ApiError::new(Code::NotFound, "user not found"))?;
            if domain::Role::parse(&user.role).is_none_or(domain::Role::is_portal) {
                return Err(ApiError::bad_input(
                    "scope.userId: portal users log no time",
                ));
            }
            RateFor::Person(user_id)
        }
        _ => {
            return Err(ApiError::bad_input(
                "scope: name exactly one of role and userId",
            ))
        }
    };
    if let Some(client_id) = input.client_id {
        if projections::clients::find(pool, client_id).await?.is_none() {
            return Err(ApiError::new(Code::NotFound, "client not found"));
        }
    }
    Ok(RateScope {
        who,
        client_id: input.client_id,
    })
}

async fn rates(ctx: &Context<'_>) -> Result<Vec<Rate>, ApiError> {
    let rows = projections::rates::rates(&ctx.state().pool).await?;
    Ok(rows.into_iter().map(Rate::from).collect())
}

async fn change(
    ctx: &Context<'_>,
    command: impl FnOnce(DateTime<Utc>) -> RateCommand,
) -> Result<RatesPayload> {
    let viewer = ctx.request().auth.require(Permission::ManageRates)?;
    let command_ctx = ctx.command_context(&viewer);
    let state = ctx.state();
    let appended = state
        .bus
        .rates(&command_ctx, command(command_ctx.issued_at))
        .await
        .map_err(ApiError::from)?;
    let caught_up = state.caught_up(&RATE_READ_MODELS, appended).await;
    Ok(RatesPayload {
        rates: rates(ctx).await?,
        caught_up,
    })
}

/// Rate queries.
#[derive(Default, Debug)]
pub(super) struct RateQuery;

#[Object]
impl RateQuery {
    /// Every rate set (managers, reviewers and admins).
    async fn rates(&self, ctx: &Context<'_>) -> Result<Vec<Rate>> {
        ctx.request().auth.require(Permission::ApproveEffort)?;
        Ok(rates(ctx).await?)
    }

    /// What an hour of `userId` costs `clientId`: the most specific rate set (the person's
    /// for the client, their role's for the client, the person's, their role's), or null.
    async fn effective_rate(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        client_id: Uuid,
    ) -> Result<Option<Money>> {
        ctx.request().auth.require(Permission::ApproveEffort)?;
        let pool = &ctx.state().pool;
        let Some(user) = projections::users::find(pool, user_id)
            .await
            .map_err(ApiError::from)?
        else {
            return Err(ApiError::new(Code::NotFound, "user not found").into());
        };
        let Some(role) = domain::Role::parse(&user.role) else {
            return Ok(None);
        };
        let card = projections::rates::card(pool)
            .await
            .map_err(ApiError::from)?;
        Ok(card
            .rate_for(user_id, role, client_id)
            .cloned()
            .map(Money::from))
    }
}

/// Rate mutations (admins).
#[derive(Default, Debug)]
pub(super) struct RateMutation;

#[Object]
impl RateMutation {
    /// Sets the hourly rate of a role or a person, for every client or one.
    async fn set_rate(&self, ctx: &Context<'_>, input: SetRateInput) -> Result<RatesPayload> {
        ctx.request().auth.require(Permission::ManageRates)?;
        let scope = scope(ctx, input.scope).await?;
        change(ctx, |at| RateCommand::Set {
            scope,
            hourly_minor: input.hourly_minor,
            currency: input.currency,
            at,
        })
        .await
    }

    /// Removes a rate (the next less specific one applies again).
    async fn clear_rate(&self, ctx: &Context<'_>, scope: RateScopeInput) -> Result<RatesPayload> {
        ctx.request().auth.require(Permission::ManageRates)?;
        let scope = self::scope(ctx, scope).await?;
        change(ctx, |at| RateCommand::Clear { scope, at }).await
    }
}
