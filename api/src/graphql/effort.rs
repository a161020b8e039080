//! Effort: time entries, weekly timesheets, their approval, and the approved effort
//! customers see.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::timesheet::week_start;
use domain::timesheet::{Approver, EntryInput, EntryState, TimesheetCommand, WorkRef};
use domain::Permission;
use projections::effort::{EntryRow, PendingWeek};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, Code};
use crate::graphql::context::Ctx;
use crate::graphql::loaders::Users;
use crate::graphql::projects::{visible_project, Project};
use crate::graphql::service::{visible_item, ServiceItem};
use crate::graphql::types::{parse_persisted, TimeEntryState};
use crate::graphql::users::User;
use crate::state::read_back;

mod mutations;
pub(crate) use mutations::EffortMutation;

/// Read models an effort mutation answers from.
const EFFORT_READ_MODELS: [&str; 1] = [projections::effort::NAME];

/// One time entry.
#[derive(Debug)]
pub(super) struct TimeEntry(EntryRow);

#[Object]
impl TimeEntry {
    async fn id(&self) -> Uuid {
        self.0.entry_id
    }
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let load = ctx
            .data_unchecked::<DataLoader<Users>>()
            .load_one(self.0.user_id);
        Ok(load.await.map_err(ApiError::from)?.map(User))
    }
    async fn date(&self) -> NaiveDate {
        self.0.date
    }
    /// Negative for a reversal.
    async fn minutes(&self) -> i32 {
        self.0.minutes
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn billable(&self) -> bool {
        self.0.billable
    }
    /// The project or service item it is logged on.
    async fn matter_id(&self) -> Uuid {
        self.0.matter_id
    }
    async fn project_id(&self) -> Option<Uuid> {
        self.0.project_id
    }
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        match self.0.project_id {
            Some(id) => Ok(visible_project(ctx, id).await?),
            None => Ok(None),
        }
    }
    async fn service_item_id(&self) -> Option<Uuid> {
        self.0.service_item_id
    }
    async fn service_item(&self, ctx: &Context<'_>) -> Result<Option<ServiceItem>> {
        match self.0.service_item_id {
            Some(id) => Ok(visible_item(ctx, id).await?.map(ServiceItem)),
            None => Ok(None),
        }
    }
    async fn task_id(&self) -> Option<Uuid> {
        self.0.task_id
    }
    async fn state(&self) -> Option<TimeEntryState> {
        parse_persisted::<EntryState>(&self.0.state).map(TimeEntryState::from)
    }
    /// Why the approver sent it back.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The approved entry this one reverses.
    async fn reverses(&self) -> Option<Uuid> {
        self.0.reverses
    }
    /// The productivity platform's id, for an entry that came from there (source external).
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// Who approved or rejected it last.
    async fn decided_by(&self) -> Option<Uuid> {
        self.0.decided_by
    }
    async fn logged_at(&self) -> DateTime<Utc> {
        self.0.logged_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A person's entries of one ISO week.
#[derive(SimpleObject, Debug)]
pub(super) struct Timesheet {
    user_id: Uuid,
    /// Monday of the week.
    week_start: NaiveDate,
    /// ISO week, as `2026-W48`.
    week: String,
    entries: Vec<TimeEntry>,
    total_minutes: i64,
    /// Minutes waiting for approval.
    submitted_minutes: i64,
    /// Minutes approved.
    approved_minutes: i64,
}

impl Timesheet {
    fn new(user_id: Uuid, start: NaiveDate, rows: Vec<EntryRow>) -> Self {
        let sum = |state: Option<EntryState>| {
            rows.iter()
                .filter(|r| state.is_none_or(|s| r.state == s.as_str()))
                .map(|r| i64::from(r.minutes))
                .sum()
        };
        let week = start.iso_week();
        Timesheet {
            user_id,
            week_start: start,
            week: format!("{}-W{:02}", week.year(), week.week()),
            total_minutes: sum(None),
            submitted_minutes: sum(Some(EntryState::Submitted)),
            approved_minutes: sum(Some(EntryState::Approved)),
            entries: rows.into_iter().map(TimeEntry).collect(),
        }
    }
}

/// A week waiting for approval.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub(super) struct PendingTimesheet {
    user_id: Uuid,
    week_start: NaiveDate,
    submitted_minutes: i64,
    submitted_entries: i64,
    submitted_at: DateTime<Utc>,
}

#[async_graphql::ComplexObject]
impl PendingTimesheet {
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let load = ctx
            .data_unchecked::<DataLoader<Users>>()
            .load_one(self.user_id);
        Ok(load.await.map_err(ApiError::from)?.map(User))
    }
}

impl From<PendingWeek> for PendingTimesheet {
    fn from(row: PendingWeek) -> Self {
        PendingTimesheet {
            user_id: row.user_id,
            week_start: row.week_start,
            submitted_minutes: row.minutes,
            submitted_entries: row.entries,
            submitted_at: row.submitted_at,
        }
    }
}

/// A time entry as typed.
#[derive(InputObject, Debug)]
pub(super) struct TimeEntryInput {
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    date: NaiveDate,
    /// 1 to 1440; at most 24 hours a day in all.
    minutes: i32,
    description: String,
    #[graphql(default = true)]
    billable: bool,
    /// The project worked on (or give `serviceItemId`).
    project_id: Option<Uuid>,
    /// One of the project's tasks.
    task_id: Option<Uuid>,
    /// The service item worked on: one routed to the viewer, or of a team they manage.
    service_item_id: Option<Uuid>,
}

/// Result of a time-entry mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct TimeEntryPayload {
    /// The entry (null once deleted).
    entry: Option<TimeEntry>,
    /// Its week.
    timesheet: Timesheet,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// Result of a timesheet mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct TimesheetPayload {
    timesheet: Timesheet,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// The matter the viewer logs on: a project they see (and a task of it), or a service
/// item they work on that is not cancelled.
async fn work(ctx: &Context<'_>, input: &TimeEntryInput) -> Result<WorkRef, ApiError> {
    match (input.project_id, input.service_item_id) {
        (Some(project_id), None) => {
            if visible_project(ctx, project_id).await?.is_none() {
                return Err(ApiError::new(Code::NotFound, "project not found"));
            }
            if let Some(task_id) = input.task_id {
                let tasks = projections::projects::tasks(&ctx.state().pool, project_id).await?;
                if !tasks.iter().any(|t| t.id == task_id) {
                    return Err(ApiError::new(
                        Code::NotFound,
                        "task not found on this project",
                    ));
                }
            }
            Ok(WorkRef::Project {
                project_id,
                task_id: input.task_id,
            })
        }
        (None, Some(service_item_id)) => {
            if input.task_id.is_some() {
                return Err(ApiError::bad_input(
                    "taskId: a task belongs to a project, not to a service item",
                ));
            }
            let item = visible_item(ctx, service_item_id)
                .await?
                .ok_or_else(|| ApiError::new(Code::NotFound, "service item not found"))?;
            let viewer = ctx.request().auth.viewer()?;
            let actor = crate::graphql::service::actor(ctx, &viewer, &item).await?;
            let assigned = projections::service::assignees(&ctx.state().pool, item.id)
                .await?
                .iter()
                .any(|a| a.user_id == viewer.user_id);
            if !assigned && !actor.manages_team {
                return Err(ApiError::new(
                    Code::Forbidden,
                    "time on a service item is logged by its assignees and its team's managers",
                ));
            }
            if item.status == domain::service::ServiceStatus::Cancelled.as_str() {
                return Err(ApiError::bad_input(
                    "serviceItemId: this service item is cancelled",
                ));
            }
            Ok(WorkRef::Service { service_item_id })
        }
        _ => Err(ApiError::bad_input(
            "projectId, serviceItemId: name exactly one of them",
        )),
    }
}

async fn entry_input(ctx: &Context<'_>, input: TimeEntryInput) -> Result<EntryInput, ApiError> {
    let work = work(ctx, &input).await?;
    Ok(EntryInput {
        date: input.date,
        minutes: input.minutes,
        description: input.description,
        billable: input.billable,
        work,
    })
}

/// Whether the month of `date` is closed for the client of matter `matter_id`.
async fn month_closed(
    ctx: &Context<'_>,
    matter_id: Uuid,
    date: NaiveDate,
) -> Result<bool, ApiError> {
    let month = domain::statement::Month::of(date);
    Ok(projections::statements::closed_for_matter(&ctx.state().pool, matter_id, month).await?)
}

/// The viewer's own entry, or `NOT_FOUND` (another person's entries are not theirs to change).
async fn own_entry(ctx: &Context<'_>, viewer: &Viewer, id: Uuid) -> Result<EntryRow, ApiError> {
    projections::effort::entry(&ctx.state().pool, id)
        .await?
        .filter(|e| e.user_id == viewer.user_id)
        .ok_or_else(|| ApiError::new(Code::NotFound, "time entry not found"))
}

async fn timesheet(
    ctx: &Context<'_>,
    user_id: Uuid,
    start: NaiveDate,
) -> Result<Timesheet, ApiError> {
    let rows = projections::effort::week(&ctx.state().pool, user_id, start).await?;
    Ok(Timesheet::new(user_id, start, rows))
}

/// Runs a command on `user_id`'s week of `date`; whether the effort read model caught up.
async fn run(
    ctx: &Context<'_>,
    viewer: &Viewer,
    user_id: Uuid,
    date: NaiveDate,
    command: impl FnOnce(DateTime<Utc>) -> TimesheetCommand,
) -> Result<bool, ApiError> {
    let command_ctx = ctx.command_context(viewer);
    let appended = ctx
        .state()
        .bus
        .timesheet(
            &command_ctx,
            user_id,
            date.iso_week(),
            command(command_ctx.issued_at),
        )
        .await?;
    Ok(ctx.state().caught_up(&EFFORT_READ_MODELS, appended).await)
}

/// The answer of a week's mutation: the week as the read model shows it.
async fn sheet_payload(
    ctx: &Context<'_>,
    user_id: Uuid,
    week_of: NaiveDate,
    caught_up: bool,
) -> Result<TimesheetPayload> {
    Ok(TimesheetPayload {
        timesheet: timesheet(ctx, user_id, week_start(week_of)).await?,
        caught_up,
    })
}

async fn entry_payload(
    ctx: &Context<'_>,
    user_id: Uuid,
    entry_id: Uuid,
    start: NaiveDate,
    mut caught_up: bool,
) -> Result<TimeEntryPayload> {
    let entry = read_back(
        projections::effort::entry(&ctx.state().pool, entry_id).await,
        &mut caught_up,
    )
    .map(TimeEntry);
    Ok(TimeEntryPayload {
        entry,
        timesheet: timesheet(ctx, user_id, start).await?,
        caught_up,
    })
}

/// The approver's standing towards `user_id`.
async fn approver(ctx: &Context<'_>, viewer: &Viewer, user_id: Uuid) -> Result<Approver, ApiError> {
    let manages_owner =
        projections::teams::manages(&ctx.state().pool, viewer.user_id, user_id).await?;
    Ok(Approver {
        user_id: viewer.user_id,
        role: viewer.role,
        manages_owner,
    })
}

/// Whether `viewer` may read `user_id`'s timesheets: a reviewer, an admin or an auditor, or
/// a manager of one of the person's teams.
async fn may_read(ctx: &Context<'_>, viewer: &Viewer, user_id: Uuid) -> Result<bool, ApiError> {
    if viewer.role == domain::Role::Manager {
        return Ok(projections::teams::manages(&ctx.state().pool, viewer.user_id, user_id).await?);
    }
    Ok(viewer.role.may(Permission::ApproveEffort) || viewer.role.may(Permission::ReadHistory))
}

/// Effort queries.
#[derive(Default, Debug)]
pub(super) struct EffortQuery;

#[Object]
impl EffortQuery {
    /// A person's timesheet of the week of `weekOf` (the viewer's own by default; another
    /// person's for reviewers, admins, auditors and the managers of their teams).
    async fn timesheet(
        &self,
        ctx: &Context<'_>,
        user_id: Option<Uuid>,
        #[graphql(validator(custom = "crate::graphql::types::Storable"))] week_of: NaiveDate,
    ) -> Result<Timesheet> {
        let viewer = ctx.request().auth.viewer()?;
        let user_id = user_id.unwrap_or(viewer.user_id);
        if user_id != viewer.user_id && !may_read(ctx, &viewer, user_id).await? {
            return Err(ApiError::new(
                Code::Forbidden,
                "another person's timesheet is for their approvers and auditors",
            )
            .into());
        }
        Ok(timesheet(ctx, user_id, week_start(week_of)).await?)
    }

    /// Weeks waiting for the viewer's approval, oldest first: a manager's are those of the
    /// members of their teams; a reviewer's and an admin's, everyone's (never their own).
    async fn effort_approval_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<PendingTimesheet>> {
        let viewer = ctx.request().auth.require(Permission::ApproveEffort)?;
        let manager = (viewer.role == domain::Role::Manager).then_some(viewer.user_id);
        let rows = projections::effort::pending(&ctx.state().pool, manager, first)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .filter(|r| r.user_id != viewer.user_id)
            .map(PendingTimesheet::from)
            .collect())
    }

    /// Approved effort, newest first, of one matter (a project or a service item) or of a
    /// client's matters (portal users: their own client's only; they never see other
    /// states).
    async fn approved_effort(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "projectId")] matter_id: Option<Uuid>,
        client_id: Option<Uuid>,
        #[graphql(default = 100, validator(minimum = 1, maximum = 500))] first: i64,
    ) -> Result<Vec<TimeEntry>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        let client_id = if viewer.role.is_portal() {
            Some(viewer.client_id.unwrap_or_else(Uuid::nil))
        } else {
            client_id
        };
        if let Some(id) = matter_id {
            let visible =
                visible_project(ctx, id).await?.is_some() || visible_item(ctx, id).await?.is_some();
            if !visible {
                return Ok(Vec::new());
            }
        }
        let rows = projections::effort::approved(&ctx.state().pool, matter_id, client_id, first)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(TimeEntry).collect())
    }
}
