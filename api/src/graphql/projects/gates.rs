//! Stage gates: stages with their clocks and checklists, verifying and waiving items, and
//! the maker-checker stage advance.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::project::GateCommand;
use domain::Permission;
use projections::projects::{AdvanceRow, ItemRow, StageRow};
use uuid::Uuid;

use super::{fraction, run, stage_key, ProjectPayload};
use crate::graphql::connection::objects;
use crate::graphql::context::Ctx;
use crate::graphql::types::{parse_persisted, ItemStatus, Role, StageKey};

/// A stage of a project, with its clock and checklist.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub(super) struct ProjectStage {
    /// Which stage.
    pub key: Option<StageKey>,
    /// Service-level clock in days (none: no clock).
    pub sla_days: Option<i32>,
    /// Extension the template allows, once.
    pub sla_extension_days: Option<i32>,
    /// Extension granted.
    pub extended_days: Option<i32>,
    /// When the stage started (none: not reached yet).
    pub started_at: Option<DateTime<Utc>>,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Estimate-weighted progress of the stage's tasks, 0 to 1.
    pub progress: f64,
    /// Checklist.
    pub items: Vec<ChecklistItem>,
}

impl ProjectStage {
    /// Builds a stage from its row and items.
    pub(super) fn new(row: StageRow, items: Vec<ChecklistItem>) -> Self {
        ProjectStage {
            key: stage_key(&row.stage),
            sla_days: row.sla_days,
            sla_extension_days: row.sla_extension_days,
            extended_days: row.extended_days,
            started_at: row.started_at,
            completed_at: row.completed_at,
            progress: fraction(row.progress),
            items,
        }
    }

    fn clock(&self) -> domain::project::StageClock {
        let days = |d: Option<i32>| d.and_then(|d| u32::try_from(d).ok());
        domain::project::StageClock {
            sla_days: days(self.sla_days),
            extended_days: days(self.extended_days),
            started_at: self.started_at,
            completed_at: self.completed_at,
        }
    }
}

#[ComplexObject]
impl ProjectStage {
    /// Whole days spent in the stage so far (or in all, once completed).
    async fn days_used(&self) -> Option<i64> {
        self.clock().used_days(Utc::now())
    }
    /// Days left on the clock (negative: overdue); none without a clock or before the start.
    async fn days_left(&self) -> Option<i64> {
        self.clock().days_left(Utc::now())
    }
    /// The clock ran out before the stage completed.
    async fn breached(&self) -> bool {
        self.clock().breached(Utc::now())
    }
}

/// A checklist item of a project stage.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ChecklistItem {
    key: String,
    title: String,
    mandatory: bool,
    evidence_required: bool,
    responsible_role: Option<Role>,
    status: Option<ItemStatus>,
    /// Why it was rejected or waived.
    reason: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

impl From<ItemRow> for ChecklistItem {
    fn from(row: ItemRow) -> Self {
        ChecklistItem {
            responsible_role: domain::Role::parse(&row.responsible_role).map(Into::into),
            status: parse_persisted::<domain::project::ItemStatus>(&row.status).map(Into::into),
            key: row.key,
            title: row.title,
            mandatory: row.mandatory,
            evidence_required: row.evidence_required,
            reason: row.reason,
            updated_at: row.updated_at,
        }
    }
}

/// A request to move a project to its next stage.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct StageAdvance {
    id: Uuid,
    project_id: Uuid,
    from: Option<StageKey>,
    /// None: completing the last stage.
    to: Option<StageKey>,
    requested_by: Uuid,
    requested_at: DateTime<Utc>,
    /// pending, approved or refused.
    decision: String,
    decided_by: Option<Uuid>,
    decided_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl From<AdvanceRow> for StageAdvance {
    fn from(row: AdvanceRow) -> Self {
        StageAdvance {
            from: stage_key(&row.from_stage),
            to: row.to_stage.as_deref().and_then(stage_key),
            id: row.id,
            project_id: row.project_id,
            requested_by: row.requested_by,
            requested_at: row.requested_at,
            decision: row.decision,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            reason: row.reason,
        }
    }
}

/// Stage-gate queries.
#[derive(Default, Debug)]
pub(crate) struct GateQuery;

#[Object]
impl GateQuery {
    /// Stage advances waiting for a second person, oldest first.
    async fn pending_stage_advances(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<StageAdvance>> {
        ctx.request().auth.require(Permission::ApproveGates)?;
        Ok(objects(
            projections::projects::pending_advances(&ctx.state().pool, first).await,
        )?)
    }
}

/// Stage-gate mutations.
#[derive(Default, Debug)]
pub(crate) struct GateMutation;

#[Object]
impl GateMutation {
    /// Verifies a checklist item that needs no evidence (evidence is verified by accepting
    /// its upload).
    async fn verify_checklist_item(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        stage: StageKey,
        key: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| {
                GateCommand::VerifyItem {
                    stage: stage.into(),
                    key,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Waives a checklist item (managers only, with a reason).
    async fn waive_checklist_item(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        stage: StageKey,
        key: String,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| {
                GateCommand::WaiveItem {
                    stage: stage.into(),
                    key,
                    reason,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Asks to move the project to its next stage. Refused, listing the missing items,
    /// unless every mandatory item of the current stage is verified or waived.
    async fn request_stage_advance(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
    ) -> Result<ProjectPayload> {
        let request_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(request_id),
            |actor, at| {
                GateCommand::RequestAdvance {
                    request_id,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Approves the pending advance (a manager or reviewer other than the requester).
    async fn approve_stage_advance(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(default)] comment: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| {
                GateCommand::DecideAdvance {
                    approve: true,
                    reason: comment,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Refuses the pending advance, with a reason.
    async fn refuse_stage_advance(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| {
                GateCommand::DecideAdvance {
                    approve: false,
                    reason,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Extends the current stage's clock by the template's extension, once (managers).
    async fn extend_stage_clock(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        reason: String,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| GateCommand::ExtendStageClock { reason, actor, at }.into(),
        )
        .await
    }
}
