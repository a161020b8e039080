//! The rule change mutations: drafted, revised, submitted, approved, returned and
//! published.

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use domain::rule_change::{Person, RuleChange as RuleChangeState, RuleChangeCommand};
use domain::Permission;
use uuid::Uuid;

use super::*;
use crate::auth::Viewer;
use crate::error::{ApiError, Code};
use crate::graphql::context::Ctx;
use crate::state::ReadBack;

/// Rule change mutations: managers, reviewers and admins draft; a reviewer or an admin who
/// is not the author approves, returns and publishes.
#[derive(Default, Debug)]
pub(crate) struct RuleChangeMutation;

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: impl FnOnce(&Viewer, DateTime<Utc>) -> RuleChangeCommand,
) -> Result<RuleChangePayload> {
    let viewer = ctx.request().auth.require(Permission::AssessGuidance)?;
    let command_ctx = ctx.command_context(&viewer);
    let command = command(&viewer, command_ctx.issued_at);
    let appended = ctx.state().bus.rule_change(&command_ctx, id, command).await;
    answer(ctx, id, appended).await
}

/// The rule change once the read model has it (or the flag saying it had not yet).
async fn answer(
    ctx: &Context<'_>,
    id: Uuid,
    appended: Result<commands::Appended, commands::CommandError>,
) -> Result<RuleChangePayload> {
    let state = ctx.state();
    let appended = appended.map_err(ApiError::from)?;
    let ReadBack {
        record: rule_change,
        caught_up,
    } = state
        .after_append(
            &RULE_CHANGE_READ_MODELS,
            appended,
            projections::rule_changes::find(&state.pool, id),
        )
        .await
        .map(RuleChange::from);
    Ok(RuleChangePayload {
        rule_change,
        caught_up,
    })
}

fn person(viewer: &Viewer) -> Person {
    Person {
        user_id: viewer.user_id,
        role: viewer.role,
    }
}

#[Object]
impl RuleChangeMutation {
    /// Drafts the next version of a template, starting from its latest version's
    /// definition unless `stages` is given.
    async fn draft_rule_change(
        &self,
        ctx: &Context<'_>,
        input: DraftRuleChangeInput,
    ) -> Result<RuleChangePayload> {
        ctx.request().auth.require(Permission::AssessGuidance)?;
        let pool = &ctx.state().pool;
        let latest = projections::templates::versions(pool, input.template_id)
            .await
            .map_err(ApiError::from)?
            .pop()
            .ok_or_else(|| ApiError::new(Code::NotFound, "template not found"))?;
        if let Some(guidance_id) = input.guidance_id {
            let guidance = projections::guidance::find(pool, guidance_id)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::new(Code::NotFound, "guidance not found"))?;
            if guidance.status == domain::guidance::GuidanceStatus::NoAction.as_str() {
                return Err(ApiError::bad_input(
                    "guidanceId: this guidance was closed without action",
                )
                .into());
            }
        }
        let stages = match input.stages {
            Some(stages) => stage_specs(stages),
            None => serde_json::from_value(latest.stages)
                .map_err(|e| ApiError::internal(format!("stored template version: {e}")))?,
        };
        let id = Uuid::now_v7();
        let base_version = u32::try_from(latest.version).unwrap_or_default();
        run(ctx, id, |viewer, at| RuleChangeCommand::Draft {
            rule_change_id: id,
            template_id: input.template_id,
            base_version,
            guidance_id: input.guidance_id,
            title: input.title,
            stages,
            by: viewer.user_id,
            at,
        })
        .await
    }

    /// Replaces a draft's (or a returned change's) definition; its author only.
    async fn revise_rule_change(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(validator(max_items = 5))] stages: Vec<TemplateStageInput>,
    ) -> Result<RuleChangePayload> {
        let stages = stage_specs(stages);
        run(ctx, id, |viewer, at| RuleChangeCommand::Revise {
            stages,
            by: viewer.user_id,
            at,
        })
        .await
    }

    /// Submits a draft for review; its author only, and only if it changes something.
    async fn submit_rule_change(&self, ctx: &Context<'_>, id: Uuid) -> Result<RuleChangePayload> {
        ctx.request().auth.require(Permission::AssessGuidance)?;
        let change: RuleChangeState = ctx.state().bus.load(id).await.map_err(ApiError::from)?;
        let Some(template_id) = change.template_id else {
            return Err(ApiError::new(Code::NotFound, "rule change not found").into());
        };
        let base_version = i32::try_from(change.base_version).unwrap_or(i32::MAX);
        let base = base_stages(ctx, template_id, base_version).await?;
        let changes = domain::template::diff(&base, &change.stages).len();
        run(ctx, id, |viewer, at| RuleChangeCommand::Submit {
            changes,
            by: viewer.user_id,
            at,
        })
        .await
    }

    /// Approves a submitted change: a reviewer or an admin who is not its author.
    async fn approve_rule_change(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        comment: Option<String>,
    ) -> Result<RuleChangePayload> {
        run(ctx, id, |viewer, at| RuleChangeCommand::Approve {
            by: person(viewer),
            comment,
            at,
        })
        .await
    }

    /// Returns a submitted change to its author with comments: a reviewer or an admin who
    /// is not its author.
    async fn return_rule_change(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        comments: String,
    ) -> Result<RuleChangePayload> {
        run(ctx, id, |viewer, at| RuleChangeCommand::Return {
            by: person(viewer),
            comments,
            at,
        })
        .await
    }

    /// Publishes an approved change as the template's next version, taking effect on
    /// `effectiveOn`: a reviewer or an admin who is not its author. Refused with CONFLICT
    /// when the template moved past the version it was drafted against. The version, the
    /// guidance marked actioned and the notes to impacted projects' owners follow from the
    /// `rule-publication` reactor.
    async fn publish_rule_change(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(validator(custom = "crate::graphql::types::Storable"))] effective_on: NaiveDate,
    ) -> Result<RuleChangePayload> {
        let viewer = ctx.request().auth.require(Permission::AssessGuidance)?;
        let command_ctx = ctx.command_context(&viewer);
        let appended = ctx
            .state()
            .bus
            .publish_rule_change(&command_ctx, id, person(&viewer), effective_on)
            .await;
        answer(ctx, id, appended).await
    }
}
