//! The effort mutations: entries logged, changed and reversed; weeks submitted, approved
//! and rejected.

use async_graphql::{Context, Object, Result};
use chrono::NaiveDate;
use domain::timesheet::week_start;
use domain::timesheet::TimesheetCommand;
use domain::Permission;
use uuid::Uuid;

use super::*;
use crate::graphql::context::Ctx;

/// Effort mutations.
#[derive(Default, Debug)]
pub(crate) struct EffortMutation;

#[Object]
impl EffortMutation {
    /// Logs a draft entry of the viewer's own time.
    async fn log_time(&self, ctx: &Context<'_>, input: TimeEntryInput) -> Result<TimeEntryPayload> {
        let viewer = ctx.request().auth.require(Permission::LogTime)?;
        let entry = entry_input(ctx, input).await?;
        let (date, entry_id) = (entry.date, Uuid::now_v7());
        let month_closed = month_closed(ctx, entry.work.matter_id(), date).await?;
        let user_id = viewer.user_id;
        let caught_up = run(ctx, &viewer, user_id, date, |at| TimesheetCommand::Log {
            user_id,
            entry_id,
            entry,
            month_closed,
            external_id: None,
            at,
        })
        .await?;
        entry_payload(ctx, user_id, entry_id, week_start(date), caught_up).await
    }

    /// Changes a draft or rejected entry of the viewer's (within its week).
    async fn edit_time_entry(
        &self,
        ctx: &Context<'_>,
        entry_id: Uuid,
        input: TimeEntryInput,
    ) -> Result<TimeEntryPayload> {
        let viewer = ctx.request().auth.require(Permission::LogTime)?;
        let current = own_entry(ctx, &viewer, entry_id).await?;
        let entry = entry_input(ctx, input).await?;
        let month_closed = month_closed(ctx, current.matter_id, current.date).await?
            || month_closed(ctx, entry.work.matter_id(), entry.date).await?;
        let user_id = viewer.user_id;
        let caught_up = run(ctx, &viewer, user_id, current.date, |at| {
            TimesheetCommand::Edit {
                user_id,
                entry_id,
                entry,
                month_closed,
                at,
            }
        })
        .await?;
        entry_payload(ctx, user_id, entry_id, current.week_start, caught_up).await
    }

    /// Deletes a draft or rejected entry of the viewer's.
    async fn delete_time_entry(
        &self,
        ctx: &Context<'_>,
        entry_id: Uuid,
    ) -> Result<TimeEntryPayload> {
        let viewer = ctx.request().auth.require(Permission::LogTime)?;
        let current = own_entry(ctx, &viewer, entry_id).await?;
        let user_id = viewer.user_id;
        let caught_up = run(ctx, &viewer, user_id, current.date, |at| {
            TimesheetCommand::Delete {
                user_id,
                entry_id,
                at,
            }
        })
        .await?;
        entry_payload(ctx, user_id, entry_id, current.week_start, caught_up).await
    }

    /// Submits the viewer's draft and rejected entries of the week of `weekOf`.
    async fn submit_timesheet(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(custom = "crate::graphql::types::Storable"))] week_of: NaiveDate,
    ) -> Result<TimesheetPayload> {
        let viewer = ctx.request().auth.require(Permission::LogTime)?;
        let user_id = viewer.user_id;
        let caught_up = run(ctx, &viewer, user_id, week_of, |at| {
            TimesheetCommand::Submit { user_id, at }
        })
        .await?;
        sheet_payload(ctx, user_id, week_of, caught_up).await
    }

    /// Approves every submitted entry of a person's week (a reviewer, or a manager of one of
    /// their teams; never one's own).
    async fn approve_timesheet(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        #[graphql(validator(custom = "crate::graphql::types::Storable"))] week_of: NaiveDate,
    ) -> Result<TimesheetPayload> {
        let viewer = ctx.request().auth.require(Permission::ApproveEffort)?;
        let approver = approver(ctx, &viewer, user_id).await?;
        let caught_up = run(ctx, &viewer, user_id, week_of, |at| {
            TimesheetCommand::Approve { approver, at }
        })
        .await?;
        sheet_payload(ctx, user_id, week_of, caught_up).await
    }

    /// Sends submitted entries of a person's week back with a reason.
    async fn reject_time_entries(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        #[graphql(validator(custom = "crate::graphql::types::Storable"))] week_of: NaiveDate,
        #[graphql(validator(max_items = 500))] entry_ids: Vec<Uuid>,
        reason: String,
    ) -> Result<TimesheetPayload> {
        let viewer = ctx.request().auth.require(Permission::ApproveEffort)?;
        let approver = approver(ctx, &viewer, user_id).await?;
        let caught_up = run(ctx, &viewer, user_id, week_of, |at| {
            TimesheetCommand::Reject {
                approver,
                entry_ids,
                reason,
                at,
            }
        })
        .await?;
        sheet_payload(ctx, user_id, week_of, caught_up).await
    }

    /// Logs a draft reversing one of the viewer's approved entries, with a reason.
    async fn reverse_time_entry(
        &self,
        ctx: &Context<'_>,
        entry_id: Uuid,
        reason: String,
    ) -> Result<TimeEntryPayload> {
        let viewer = ctx.request().auth.require(Permission::LogTime)?;
        let original = own_entry(ctx, &viewer, entry_id).await?;
        let (user_id, reversal) = (viewer.user_id, Uuid::now_v7());
        let caught_up = run(ctx, &viewer, user_id, original.date, |at| {
            TimesheetCommand::Reverse {
                user_id,
                entry_id: reversal,
                original: entry_id,
                reason,
                at,
            }
        })
        .await?;
        entry_payload(ctx, user_id, reversal, original.week_start, caught_up).await
    }
}
