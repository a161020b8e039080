//! Monthly effort statements: issued by a manager, frozen, read by the client's portal
//! users, exported as CSV.

use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::rate::Money as DomainMoney;
use domain::statement::{Month, StatementCommand, StatementLine as Line};
use domain::Permission;
use projections::statements::{LineRow, StatementRow};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, Code};
use crate::exports::StatementExport;
use crate::graphql::clients::visible_client;
use crate::graphql::context::Ctx;
use crate::graphql::rates::Money;
use crate::state::ReadBack;

/// Read models a statement mutation answers from.
const STATEMENT_READ_MODELS: [&str; 1] = [projections::statements::NAME];

/// A client's effort statement of one month.
#[derive(Debug)]
pub(super) struct Statement {
    row: StatementRow,
    lines: Vec<LineRow>,
}

/// A line of a statement: one approved entry, priced when billable.
#[derive(SimpleObject, Debug)]
pub(super) struct StatementLine {
    entry_id: Uuid,
    /// The issue (revision) that stated it.
    revision: i32,
    date: NaiveDate,
    user_id: Uuid,
    /// The project or service item.
    matter_id: Uuid,
    task_id: Option<Uuid>,
    /// Negative for a reversal.
    minutes: i32,
    billable: bool,
    /// The hourly rate it was priced at (null when none was set).
    hourly: Option<Money>,
    /// What it costs (billable lines only).
    amount: Option<Money>,
    /// Dated before the statement's month: a correction or a late approval.
    carried_over: bool,
}

/// Effort summed over some lines.
#[derive(SimpleObject, Debug, Default)]
pub(super) struct EffortTotal {
    /// The consultant or matter summed over (null for the whole statement).
    id: Option<Uuid>,
    billable_minutes: i64,
    non_billable_minutes: i64,
    /// One amount per currency.
    amounts: Vec<Money>,
}

fn total(id: Option<Uuid>, lines: &[&LineRow]) -> EffortTotal {
    let mut amounts: BTreeMap<String, i64> = BTreeMap::new();
    let mut sum = EffortTotal {
        id,
        ..EffortTotal::default()
    };
    for line in lines {
        let minutes = i64::from(line.minutes);
        if line.billable {
            sum.billable_minutes += minutes;
        } else {
            sum.non_billable_minutes += minutes;
        }
        if let (Some(amount), Some(currency)) = (line.amount_minor, &line.currency) {
            *amounts.entry(currency.clone()).or_default() += amount;
        }
    }
    sum.amounts = amounts
        .into_iter()
        .map(|(currency, minor)| Money::from(DomainMoney { minor, currency }))
        .collect();
    sum
}

fn grouped(lines: &[LineRow], key: impl Fn(&LineRow) -> Uuid) -> Vec<EffortTotal> {
    let mut groups: BTreeMap<Uuid, Vec<&LineRow>> = BTreeMap::new();
    for line in lines {
        groups.entry(key(line)).or_default().push(line);
    }
    groups
        .into_iter()
        .map(|(id, lines)| total(Some(id), &lines))
        .collect()
}

fn money(minor: Option<i64>, currency: &Option<String>) -> Option<Money> {
    Some(Money::from(DomainMoney {
        minor: minor?,
        currency: currency.clone()?,
    }))
}

#[Object]
impl Statement {
    async fn id(&self) -> Uuid {
        self.row.id
    }
    async fn client_id(&self) -> Uuid {
        self.row.client_id
    }
    /// As `2026-11`.
    async fn month(&self) -> &str {
        &self.row.month
    }
    /// How many times it was issued (once more after each reopening).
    async fn revision(&self) -> i32 {
        self.row.revision
    }
    /// Issued and not reopened since: the month takes no new or changed entries.
    async fn closed(&self) -> bool {
        self.row.closed
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        self.row.issued_at
    }
    /// Why the month was reopened last (internal users).
    async fn reopened_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        let internal = ctx
            .request()
            .auth
            .viewer()
            .is_ok_and(|v| !v.role.is_portal());
        self.row.reopened_reason.as_deref().filter(|_| internal)
    }
    /// Its lines, by date.
    async fn lines(&self) -> Vec<StatementLine> {
        self.lines
            .iter()
            .map(|l| StatementLine {
                entry_id: l.entry_id,
                revision: l.revision,
                date: l.date,
                user_id: l.user_id,
                matter_id: l.matter_id,
                task_id: l.task_id,
                minutes: l.minutes,
                billable: l.billable,
                hourly: money(l.hourly_minor, &l.currency),
                amount: money(l.amount_minor, &l.currency),
                carried_over: l.carried_over,
            })
            .collect()
    }
    /// The whole statement.
    async fn total(&self) -> EffortTotal {
        total(None, &self.lines.iter().collect::<Vec<_>>())
    }
    /// Per matter (project or service item).
    async fn per_matter(&self) -> Vec<EffortTotal> {
        grouped(&self.lines, |l| l.matter_id)
    }
    /// Per consultant.
    async fn per_consultant(&self) -> Vec<EffortTotal> {
        grouped(&self.lines, |l| l.user_id)
    }
    /// The lines as CSV (RFC 4180, a header row first; hours to two decimals, amounts in
    /// minor units). Also a download: `/files/statements/{clientId}/{month}.csv` (and `.pdf`).
    async fn csv(&self, ctx: &Context<'_>) -> Result<String> {
        let export =
            StatementExport::load(&ctx.state().pool, self.row.clone(), self.lines.clone()).await?;
        Ok(export.csv())
    }
}

async fn load(ctx: &Context<'_>, row: StatementRow) -> Result<Statement, ApiError> {
    let lines = projections::statements::lines(&ctx.state().pool, row.id).await?;
    Ok(Statement { row, lines })
}

/// A client the viewer may see, or `NOT_FOUND`.
async fn client(ctx: &Context<'_>, client_id: Uuid) -> Result<(), ApiError> {
    match visible_client(ctx, client_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::new(Code::NotFound, "client not found")),
    }
}

/// Statement queries.
#[derive(Default, Debug)]
pub(super) struct StatementQuery;

#[Object]
impl StatementQuery {
    /// A client's issued statements, newest month first (portal users: their own client's).
    async fn statements(&self, ctx: &Context<'_>, client_id: Uuid) -> Result<Vec<Statement>> {
        client(ctx, client_id).await?;
        let rows = projections::statements::statements(&ctx.state().pool, client_id)
            .await
            .map_err(ApiError::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(load(ctx, row).await?);
        }
        Ok(out)
    }

    /// A client's statement of `month` (`2026-11`), once issued.
    async fn statement(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        month: String,
    ) -> Result<Option<Statement>> {
        client(ctx, client_id).await?;
        let month = Month::parse("month", &month).map_err(ApiError::from)?;
        let row = projections::statements::statement(&ctx.state().pool, client_id, month)
            .await
            .map_err(ApiError::from)?;
        Ok(match row {
            Some(row) => Some(load(ctx, row).await?),
            None => None,
        })
    }
}

/// The lines the statement of `month` states now: the client's approved entries dated up
/// to its end that no statement holds yet, priced at the rate card's rates.
async fn lines(ctx: &Context<'_>, client_id: Uuid, month: Month) -> Result<Vec<Line>, ApiError> {
    let pool = &ctx.state().pool;
    let until = month
        .last_day()
        .ok_or_else(|| ApiError::bad_input("month: not a month"))?;
    let entries = projections::statements::unstated(pool, client_id, until).await?;
    let card = projections::rates::card(pool).await?;
    let mut roles = HashMap::new();
    let mut lines = Vec::with_capacity(entries.len());
    for e in entries {
        if let std::collections::hash_map::Entry::Vacant(slot) = roles.entry(e.user_id) {
            let user = projections::users::find(pool, e.user_id).await?;
            slot.insert(user.and_then(|u| domain::Role::parse(&u.role)));
        }
        let hourly = roles
            .get(&e.user_id)
            .copied()
            .flatten()
            .and_then(|role| card.rate_for(e.user_id, role, client_id))
            .cloned();
        lines.push(Line::priced(
            e.entry_id,
            (e.date, month),
            (e.user_id, e.matter_id, e.task_id),
            (e.minutes, e.billable),
            hourly,
        ));
    }
    Ok(lines)
}

async fn answer(
    ctx: &Context<'_>,
    client_id: Uuid,
    month: Month,
    appended: commands::Appended,
) -> Result<StatementPayload> {
    let state = ctx.state();
    let read = projections::statements::statement(&state.pool, client_id, month);
    let ReadBack {
        record: row,
        caught_up,
    } = state
        .after_append(&STATEMENT_READ_MODELS, appended, read)
        .await;
    let statement = match row {
        Some(row) => Some(load(ctx, row).await?),
        None => None,
    };
    Ok(StatementPayload {
        statement,
        caught_up,
    })
}

/// Result of a statement mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct StatementPayload {
    statement: Option<Statement>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// Statement mutations (managers and admins).
#[derive(Default, Debug)]
pub(super) struct StatementMutation;

fn issuer(ctx: &Context<'_>) -> Result<Viewer, ApiError> {
    ctx.request().auth.require(Permission::IssueStatements)
}

#[Object]
impl StatementMutation {
    /// Issues a client's statement of a month that is over (`2026-11`): its approved effort
    /// not stated before, frozen, and the month closed to new and changed entries.
    async fn issue_statement(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        month: String,
    ) -> Result<StatementPayload> {
        let viewer = issuer(ctx)?;
        client(ctx, client_id).await?;
        let month = Month::parse("month", &month).map_err(ApiError::from)?;
        let lines = lines(ctx, client_id, month).await?;
        let command_ctx = ctx.command_context(&viewer);
        let command = StatementCommand::Issue {
            client_id,
            month,
            lines,
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .statement(&command_ctx, client_id, month, command)
            .await
            .map_err(ApiError::from)?;
        answer(ctx, client_id, month, appended).await
    }

    /// Reopens an issued month, with a reason: entries dated in it may change again, and the
    /// statement is issued again as its next revision.
    async fn reopen_month(
        &self,
        ctx: &Context<'_>,
        client_id: Uuid,
        month: String,
        reason: String,
    ) -> Result<StatementPayload> {
        let viewer = issuer(ctx)?;
        client(ctx, client_id).await?;
        let month = Month::parse("month", &month).map_err(ApiError::from)?;
        let command_ctx = ctx.command_context(&viewer);
        let command = StatementCommand::Reopen {
            reason,
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .statement(&command_ctx, client_id, month, command)
            .await
            .map_err(ApiError::from)?;
        answer(ctx, client_id, month, appended).await
    }
}
