//! The regulator liaison log, and the changes held for a second person's decision: record
//! changes while a project is closed pending updates, and moves to a newer version of its
//! template.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::{ChangeCommand, NewLiaisonEntry};
use domain::Permission;
use projections::projects::{LiaisonRow, ProposalRow};
use uuid::Uuid;

use super::{proposal_number, run, ProjectPayload};
use crate::error::{ApiError, Code};
use crate::graphql::connection::objects;
use crate::graphql::context::Ctx;
use crate::graphql::types::{parse_persisted, Direction};

/// Correspondence with the regulator.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct LiaisonEntry {
    id: Uuid,
    date: NaiveDate,
    regulator: String,
    direction: Option<Direction>,
    summary: String,
    attachments: Vec<String>,
    recorded_by: Uuid,
    recorded_at: DateTime<Utc>,
}

impl From<LiaisonRow> for LiaisonEntry {
    fn from(row: LiaisonRow) -> Self {
        LiaisonEntry {
            direction: parse_persisted::<domain::project::Direction>(&row.direction)
                .map(Into::into),
            id: row.id,
            date: row.date,
            regulator: row.regulator,
            summary: row.summary,
            attachments: row.attachments,
            recorded_by: row.recorded_by,
            recorded_at: row.recorded_at,
        }
    }
}

/// A change held until someone else decides it: a record change to a project closed
/// pending updates, or a move to a newer template version.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ChangeProposal {
    project_id: Uuid,
    /// Number on the project (pass it to `approveProjectChange` / `refuseProjectChange`).
    number: i64,
    /// liaison_entry, licence or template_version.
    kind: String,
    /// What the change does, in one line.
    summary: String,
    proposed_by: Uuid,
    proposed_at: DateTime<Utc>,
    /// pending, approved or refused.
    decision: String,
    decided_by: Option<Uuid>,
    decided_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl From<ProposalRow> for ChangeProposal {
    fn from(row: ProposalRow) -> Self {
        ChangeProposal {
            project_id: row.project_id,
            number: row.number,
            kind: row.kind,
            summary: row.summary,
            proposed_by: row.proposed_by,
            proposed_at: row.proposed_at,
            decision: row.decision,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            reason: row.reason,
        }
    }
}

/// A liaison log entry.
#[derive(InputObject, Debug)]
pub(super) struct LiaisonEntryInput {
    /// Date of the correspondence (not in the future).
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    date: NaiveDate,
    /// Regulator (RBI, SEBI, IRDAI, ...).
    regulator: String,
    direction: Direction,
    summary: String,
    /// Attachment references (file names, document numbers; at most 20).
    #[graphql(default)]
    attachments: Vec<String>,
}

/// Liaison and change queries.
#[derive(Default, Debug)]
pub(crate) struct ChangeQuery;

#[Object]
impl ChangeQuery {
    /// Held changes waiting for a second person, oldest first.
    async fn pending_project_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<ChangeProposal>> {
        ctx.request().auth.require(Permission::ApproveGates)?;
        Ok(objects(
            projections::projects::pending_proposals(&ctx.state().pool, first).await,
        )?)
    }
}

/// Liaison and change mutations.
#[derive(Default, Debug)]
pub(crate) struct ChangeMutation;

#[Object]
impl ChangeMutation {
    /// Logs correspondence with the regulator.
    async fn add_liaison_entry(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: LiaisonEntryInput,
    ) -> Result<ProjectPayload> {
        let entry_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(entry_id),
            |actor, at| {
                ChangeCommand::AddLiaisonEntry {
                    entry: NewLiaisonEntry {
                        entry_id,
                        date: input.date,
                        regulator: input.regulator,
                        direction: input.direction.into(),
                        summary: input.summary,
                        attachments: input.attachments,
                    },
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Proposes moving a project to a later version of its template (the latest when
    /// `version` is not given): held as a change until a manager, reviewer or admin other
    /// than the proposer approves it. Managers and admins propose.
    async fn propose_template_move(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(validator(minimum = 1))] version: Option<i32>,
    ) -> Result<ProjectPayload> {
        ctx.request().auth.require(Permission::ApproveGates)?;
        let project = super::visible_project(ctx, project_id)
            .await?
            .ok_or_else(|| ApiError::new(Code::NotFound, "project not found"))?;
        let pool = &ctx.state().pool;
        let target = match version {
            Some(version) => {
                projections::templates::version(pool, project.0.template_id, version).await
            }
            None => projections::templates::versions(pool, project.0.template_id)
                .await
                .map(|mut all| all.pop()),
        }
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::new(Code::NotFound, "this template has no such version"))?;
        let stages = serde_json::from_value(target.stages)
            .map_err(|e| ApiError::internal(format!("stored template version: {e}")))?;
        let version = u32::try_from(target.version).unwrap_or_default();
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| {
                ChangeCommand::ProposeTemplateMove {
                    version,
                    stages,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Approves a held change (a manager or reviewer other than the proposer); the change
    /// is applied in the same append.
    async fn approve_project_change(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(validator(minimum = 1))] number: i64,
        #[graphql(default)] comment: String,
    ) -> Result<ProjectPayload> {
        let proposal = proposal_number(number)?;
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| {
                ChangeCommand::DecideChange {
                    proposal,
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

    /// Refuses a proposed change, with a reason; nothing of it is applied.
    async fn refuse_project_change(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        #[graphql(validator(minimum = 1))] number: i64,
        reason: String,
    ) -> Result<ProjectPayload> {
        let proposal = proposal_number(number)?;
        run(
            ctx,
            project_id,
            Permission::ApproveGates,
            None,
            |actor, at| {
                ChangeCommand::DecideChange {
                    proposal,
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
}
