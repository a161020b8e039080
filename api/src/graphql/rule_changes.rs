//! Rule changes: drafts of a workflow template's next version, reviewed by four eyes and
//! published as that version.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::template::{ChecklistItemSpec, MilestoneSpec, RequestTemplate, StageSpec};
use projections::rule_changes::{RuleChangeFilter, RuleChangeRow, StepRow};
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::graphql::context::{staff, Ctx};
use crate::graphql::templates::{TemplateChange, TemplateStage};
use crate::graphql::types::{parse_persisted, Role, StageKey};

mod mutations;
pub(crate) use mutations::RuleChangeMutation;

/// Read models a rule change mutation answers from.
const RULE_CHANGE_READ_MODELS: [&str; 1] = [projections::rule_changes::NAME];

/// Where a rule change stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::rule_change::RuleChangeStatus")]
pub enum RuleChangeStatus {
    Draft,
    Submitted,
    /// Sent back with comments: its author revises and submits it again.
    Returned,
    Approved,
    /// A template version now; it never changes.
    Published,
}

/// A step of a rule change's review.
#[derive(SimpleObject, Debug)]
pub(super) struct RuleChangeStep {
    /// drafted, revised, submitted, approved, returned or published.
    step: String,
    by: Uuid,
    at: DateTime<Utc>,
    /// The approver's comment, or the comments it was returned with.
    comment: Option<String>,
}

impl From<StepRow> for RuleChangeStep {
    fn from(row: StepRow) -> Self {
        RuleChangeStep {
            step: row.step,
            by: row.by_user,
            at: row.at,
            comment: row.comment,
        }
    }
}

/// A draft of a template's next version, linked to the guidance it answers.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub(super) struct RuleChange {
    id: Uuid,
    template_id: Uuid,
    /// The published version it was drafted against.
    base_version: i32,
    guidance_id: Option<Uuid>,
    title: String,
    #[graphql(skip)]
    status_name: String,
    author_id: Uuid,
    drafted_at: DateTime<Utc>,
    /// The version it became, once published.
    published_version: Option<i32>,
    effective_on: Option<NaiveDate>,
    published_by: Option<Uuid>,
    published_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    #[graphql(skip)]
    stages: Vec<StageSpec>,
}

impl From<RuleChangeRow> for RuleChange {
    fn from(row: RuleChangeRow) -> Self {
        RuleChange {
            id: row.id,
            template_id: row.template_id,
            base_version: row.base_version,
            guidance_id: row.guidance_id,
            title: row.title,
            status_name: row.status,
            author_id: row.author_id,
            drafted_at: row.drafted_at,
            published_version: row.published_version,
            effective_on: row.effective_on,
            published_by: row.published_by,
            published_at: row.published_at,
            updated_at: row.updated_at,
            stages: serde_json::from_value(row.stages).unwrap_or_default(),
        }
    }
}

#[ComplexObject]
impl RuleChange {
    async fn status(&self) -> Option<RuleChangeStatus> {
        parse_persisted::<domain::rule_change::RuleChangeStatus>(&self.status_name).map(Into::into)
    }

    /// The definition it proposes.
    async fn stages(&self) -> Vec<TemplateStage> {
        self.stages
            .iter()
            .cloned()
            .map(TemplateStage::from)
            .collect()
    }

    /// What it changes in the version it was drafted against, stage by stage.
    async fn diff(&self, ctx: &Context<'_>) -> Result<Vec<TemplateChange>> {
        let base = base_stages(ctx, self.template_id, self.base_version).await?;
        Ok(domain::template::diff(&base, &self.stages)
            .into_iter()
            .map(TemplateChange::from)
            .collect())
    }

    /// What would differ for each project of its template, active or finished, had it run
    /// under this definition: its history replayed from the log, with clocks read at
    /// `asOf` (now by default). Lists only the projects where something would differ.
    async fn dry_run(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<DryRunReport> {
        let as_of = as_of.unwrap_or_else(Utc::now);
        let pool = &ctx.state().pool;
        let projects = projections::guidance::projects_on_template(pool, self.template_id)
            .await
            .map_err(ApiError::from)?;
        let ids: Vec<Uuid> = projects.iter().map(|p| p.project_id).collect();
        let histories = projections::audit::histories::<domain::project::Project>(pool, &ids)
            .await
            .map_err(ApiError::internal)?;
        let mut report = DryRunReport {
            as_of,
            projects_examined: i64::try_from(projects.len()).unwrap_or(i64::MAX),
            projects: Vec::new(),
        };
        for (id, history) in histories {
            let result = domain::project::dry_run(history, &self.stages, as_of);
            if result.is_empty() {
                continue;
            }
            if let Some(row) = projects.iter().find(|p| p.project_id == id) {
                report.projects.push(ProjectDryRun::new(row, result));
            }
        }
        Ok(report)
    }

    /// Each step of its review, in order, with who took it.
    async fn steps(&self, ctx: &Context<'_>) -> Result<Vec<RuleChangeStep>> {
        let rows = projections::rule_changes::steps(&ctx.state().pool, self.id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(RuleChangeStep::from).collect())
    }
}

/// What a rule change would change in its template's projects.
#[derive(SimpleObject, Debug)]
pub(super) struct DryRunReport {
    /// When the clocks were read.
    as_of: DateTime<Utc>,
    /// Projects on the template, whatever their status.
    projects_examined: i64,
    /// Those where something would differ.
    projects: Vec<ProjectDryRun>,
}

/// What would differ for one project.
#[derive(SimpleObject, Debug)]
pub(super) struct ProjectDryRun {
    project_id: Uuid,
    name: String,
    client_name: String,
    status: String,
    /// The version it runs on.
    template_version: i32,
    current_stage: String,
    /// Mandatory items of its current stage it would miss on top of what it misses now
    /// (none for a closed project).
    missing_items: Vec<DryRunItem>,
    /// Stages it left that the definition would have kept it in.
    refused_gates: Vec<DryRunGate>,
    /// Stage clocks that would have run out where its own did not.
    breached_clocks: Vec<DryRunClock>,
}

impl ProjectDryRun {
    fn new(
        row: &projections::guidance::ImpactedProjectRow,
        result: domain::project::DryRun,
    ) -> Self {
        let days = |d: i64| i32::try_from(d).unwrap_or(i32::MAX);
        ProjectDryRun {
            project_id: row.project_id,
            name: row.name.clone(),
            client_name: row.client_name.clone(),
            status: row.status.clone(),
            template_version: row.template_version,
            current_stage: row.current_stage.clone(),
            missing_items: result
                .missing_now
                .into_iter()
                .map(|i| DryRunItem {
                    stage: i.stage.into(),
                    key: i.key,
                })
                .collect(),
            refused_gates: result
                .refused_gates
                .into_iter()
                .map(|g| DryRunGate {
                    stage: g.stage.into(),
                    advanced_at: g.advanced_at,
                    missing_items: g.missing,
                })
                .collect(),
            breached_clocks: result
                .breached_clocks
                .into_iter()
                .map(|c| DryRunClock {
                    stage: c.stage.into(),
                    days_used: days(c.used_days),
                    days_allowed: days(c.allowed_days),
                    days_allowed_then: c.allowed_days_then.map(days),
                })
                .collect(),
        }
    }
}

/// A checklist item named by stage and key.
#[derive(SimpleObject, Debug)]
pub(super) struct DryRunItem {
    stage: StageKey,
    key: String,
}

/// A gate the project passed that the definition would have refused.
#[derive(SimpleObject, Debug)]
pub(super) struct DryRunGate {
    stage: StageKey,
    /// When the project really left the stage.
    advanced_at: DateTime<Utc>,
    /// The definition's mandatory items not verified or waived then.
    missing_items: Vec<String>,
}

/// A stage clock the definition would have seen run out.
#[derive(SimpleObject, Debug)]
pub(super) struct DryRunClock {
    stage: StageKey,
    days_used: i32,
    /// Under the definition (with the extension granted, as far as it allows one).
    days_allowed: i32,
    /// Under the version the project ran on (none: no clock).
    days_allowed_then: Option<i32>,
}

/// The stages of published `version` of a template.
async fn base_stages(
    ctx: &Context<'_>,
    template_id: Uuid,
    version: i32,
) -> Result<Vec<StageSpec>, ApiError> {
    let row = projections::templates::version(&ctx.state().pool, template_id, version)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound, "template version not found"))?;
    serde_json::from_value(row.stages)
        .map_err(|e| ApiError::internal(format!("stored template version: {e}")))
}

/// A checklist item of a proposed version.
#[derive(InputObject, Debug)]
pub(super) struct TemplateItemInput {
    /// lower_snake_case, unique within its stage; kept items keep their key.
    key: String,
    title: String,
    mandatory: bool,
    evidence_required: bool,
    responsible_role: Role,
    /// What a document request for it asks by default.
    request_template: Option<RequestTemplateInput>,
}

/// The document request a checklist item's evidence is asked with by default.
#[derive(InputObject, Debug)]
pub(super) struct RequestTemplateInput {
    instructions: String,
    /// Days the customer gets from the request (1 to 365; no due date when none).
    #[graphql(validator(minimum = 1, maximum = 365))]
    due_in_days: Option<i32>,
}

/// A billing milestone of a proposed stage.
#[derive(InputObject, Debug)]
pub(super) struct TemplateMilestoneInput {
    /// lower_snake_case, unique within the template.
    key: String,
    title: String,
    /// Minor units, above zero.
    amount_minor: i64,
    /// ISO 4217 code in capitals (INR).
    currency: String,
}

/// A stage of a proposed version.
#[derive(InputObject, Debug)]
pub(super) struct TemplateStageInput {
    key: StageKey,
    /// The stage's clock in days.
    #[graphql(validator(minimum = 1, maximum = 3650))]
    sla_days: Option<i32>,
    /// Days the clock may be extended by, once.
    #[graphql(validator(minimum = 1, maximum = 3650))]
    sla_extension_days: Option<i32>,
    #[graphql(validator(max_items = 100))]
    items: Vec<TemplateItemInput>,
    #[graphql(default, validator(max_items = 20))]
    milestones: Vec<TemplateMilestoneInput>,
}

fn stage_specs(stages: Vec<TemplateStageInput>) -> Vec<StageSpec> {
    let days = |d: Option<i32>| d.and_then(|d| u32::try_from(d).ok());
    stages
        .into_iter()
        .map(|stage| StageSpec {
            stage: stage.key.into(),
            sla_days: days(stage.sla_days),
            sla_extension_days: days(stage.sla_extension_days),
            items: stage
                .items
                .into_iter()
                .map(|i| ChecklistItemSpec {
                    key: i.key,
                    title: i.title,
                    mandatory: i.mandatory,
                    evidence_required: i.evidence_required,
                    responsible_role: i.responsible_role.into(),
                    request: i.request_template.map(|r| RequestTemplate {
                        instructions: r.instructions,
                        due_in_days: days(r.due_in_days),
                    }),
                })
                .collect(),
            milestones: stage
                .milestones
                .into_iter()
                .map(|m| MilestoneSpec {
                    key: m.key,
                    title: m.title,
                    amount_minor: m.amount_minor,
                    currency: m.currency,
                })
                .collect(),
        })
        .collect()
}

/// A new rule change.
#[derive(InputObject, Debug)]
pub(super) struct DraftRuleChangeInput {
    template_id: Uuid,
    /// The guidance it answers, if any (not one closed without action).
    guidance_id: Option<Uuid>,
    title: String,
    /// The proposed definition; the template's latest version when not given.
    #[graphql(validator(max_items = 5))]
    stages: Option<Vec<TemplateStageInput>>,
}

#[derive(SimpleObject, Debug)]
pub(super) struct RuleChangePayload {
    rule_change: Option<RuleChange>,
    caught_up: bool,
}

/// Rule change queries (internal users).
#[derive(Default, Debug)]
pub(super) struct RuleChangeQuery;

#[Object]
impl RuleChangeQuery {
    /// Rule changes, most recently changed first; by template, guidance and status.
    async fn rule_changes(
        &self,
        ctx: &Context<'_>,
        template_id: Option<Uuid>,
        guidance_id: Option<Uuid>,
        status: Option<RuleChangeStatus>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<RuleChange>> {
        staff(ctx)?;
        let status = status.map(|s| domain::rule_change::RuleChangeStatus::from(s).as_str());
        let filter = RuleChangeFilter {
            template_id,
            guidance_id,
            status,
        };
        let rows = projections::rule_changes::list(&ctx.state().pool, filter, first)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(RuleChange::from).collect())
    }

    async fn rule_change(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<RuleChange>> {
        staff(ctx)?;
        let row = projections::rule_changes::find(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(RuleChange::from))
    }
}
