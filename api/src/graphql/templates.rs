//! Workflow templates: the stages and checklists projects are built from.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use projections::templates::TemplateRow;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::camel_case;
use crate::graphql::context::{staff, Ctx};
use crate::graphql::types::{Role, StageKey};

/// A workflow template (latest version).
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub(super) struct WorkflowTemplate {
    id: Uuid,
    family: String,
    name: String,
    /// Latest published version.
    version: i32,
    published_at: DateTime<Utc>,
    #[graphql(skip)]
    stages: Vec<domain::template::StageSpec>,
}

#[ComplexObject]
impl WorkflowTemplate {
    /// Stages of the latest version.
    async fn stages(&self) -> Vec<TemplateStage> {
        self.stages
            .iter()
            .cloned()
            .map(TemplateStage::from)
            .collect()
    }
}

impl From<TemplateRow> for WorkflowTemplate {
    fn from(row: TemplateRow) -> Self {
        WorkflowTemplate {
            id: row.id,
            family: row.family,
            name: row.name,
            version: row.latest_version,
            published_at: row.published_at,
            stages: serde_json::from_value(row.stages).unwrap_or_default(),
        }
    }
}

/// A stage of a template version.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct TemplateStage {
    key: StageKey,
    sla_days: Option<i32>,
    sla_extension_days: Option<i32>,
    items: Vec<TemplateItem>,
    /// Billing milestones, billable once the stage is complete.
    milestones: Vec<TemplateMilestone>,
}

/// A billing milestone of a template stage (a project created from the version has it).
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct TemplateMilestone {
    key: String,
    title: String,
    /// Minor units.
    amount_minor: i64,
    currency: String,
}

impl From<domain::template::MilestoneSpec> for TemplateMilestone {
    fn from(m: domain::template::MilestoneSpec) -> Self {
        TemplateMilestone {
            key: m.key,
            title: m.title,
            amount_minor: m.amount_minor,
            currency: m.currency,
        }
    }
}

/// What a document request for a checklist item asks unless told otherwise.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct RequestTemplate {
    instructions: String,
    /// Days the customer gets (no due date when none).
    due_in_days: Option<i32>,
}

/// A checklist item of a template stage.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct TemplateItem {
    key: String,
    title: String,
    mandatory: bool,
    evidence_required: bool,
    responsible_role: Role,
    /// The document request its evidence is asked with by default.
    request_template: Option<RequestTemplate>,
}

impl From<domain::template::StageSpec> for TemplateStage {
    fn from(spec: domain::template::StageSpec) -> Self {
        TemplateStage {
            key: spec.stage.into(),
            sla_days: spec.sla_days.and_then(|d| i32::try_from(d).ok()),
            sla_extension_days: spec.sla_extension_days.and_then(|d| i32::try_from(d).ok()),
            items: spec.items.into_iter().map(TemplateItem::from).collect(),
            milestones: spec
                .milestones
                .into_iter()
                .map(TemplateMilestone::from)
                .collect(),
        }
    }
}

impl From<domain::template::ChecklistItemSpec> for TemplateItem {
    fn from(i: domain::template::ChecklistItemSpec) -> Self {
        TemplateItem {
            key: i.key,
            title: i.title,
            mandatory: i.mandatory,
            evidence_required: i.evidence_required,
            responsible_role: i.responsible_role.into(),
            request_template: i.request.map(|r| RequestTemplate {
                instructions: r.instructions,
                due_in_days: r.due_in_days.and_then(|d| i32::try_from(d).ok()),
            }),
        }
    }
}

/// One published version of a template.
#[derive(SimpleObject, Debug)]
pub(super) struct TemplateVersion {
    version: i32,
    published_at: DateTime<Utc>,
    /// The rule change that published it (none for the seeded first versions).
    rule_change_id: Option<Uuid>,
    /// When it takes effect, as its rule change said.
    effective_on: Option<chrono::NaiveDate>,
    stages: Vec<TemplateStage>,
}

impl From<projections::templates::VersionRow> for TemplateVersion {
    fn from(row: projections::templates::VersionRow) -> Self {
        TemplateVersion {
            version: row.version,
            published_at: row.published_at,
            rule_change_id: row.rule_change_id,
            effective_on: row.effective_on,
            stages: serde_json::from_value::<Vec<domain::template::StageSpec>>(row.stages)
                .unwrap_or_default()
                .into_iter()
                .map(TemplateStage::from)
                .collect(),
        }
    }
}

/// What kind of difference a [`TemplateChange`] is.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum TemplateChangeKind {
    ItemAdded,
    ItemRemoved,
    ItemChanged,
    /// A stage's clock (`slaDays`) or its extension (`slaExtensionDays`).
    ClockChanged,
    MilestoneAdded,
    MilestoneRemoved,
    MilestoneChanged,
}

/// One difference between two versions of a template.
#[derive(SimpleObject, Debug)]
pub(super) struct TemplateChange {
    kind: TemplateChangeKind,
    stage: StageKey,
    /// The checklist item's key (item changes).
    item_key: Option<String>,
    /// The milestone's key (milestone changes).
    milestone_key: Option<String>,
    /// What changed: `title`, `mandatory`, `evidenceRequired`, `responsibleRole`, `request`
    /// (items); `slaDays`, `slaExtensionDays` (clocks); `title`, `amountMinor`, `currency`
    /// (milestones).
    fields: Vec<String>,
    /// The item before (changed and removed items).
    before: Option<TemplateItem>,
    /// The item after (changed and added items).
    after: Option<TemplateItem>,
    before_days: Option<i32>,
    after_days: Option<i32>,
    /// The milestone before (changed and removed milestones).
    milestone_before: Option<TemplateMilestone>,
    /// The milestone after (changed and added milestones).
    milestone_after: Option<TemplateMilestone>,
}

impl From<domain::template::Change> for TemplateChange {
    fn from(change: domain::template::Change) -> Self {
        use domain::template::Change as C;
        let blank = |kind, stage: domain::template::StageKey| TemplateChange {
            kind,
            stage: stage.into(),
            item_key: None,
            milestone_key: None,
            fields: Vec::new(),
            before: None,
            after: None,
            before_days: None,
            after_days: None,
            milestone_before: None,
            milestone_after: None,
        };
        match change {
            C::ItemAdded { stage, item } => TemplateChange {
                item_key: Some(item.key.clone()),
                after: Some(item.into()),
                ..blank(TemplateChangeKind::ItemAdded, stage)
            },
            C::ItemRemoved { stage, item } => TemplateChange {
                item_key: Some(item.key.clone()),
                before: Some(item.into()),
                ..blank(TemplateChangeKind::ItemRemoved, stage)
            },
            C::ItemChanged {
                stage,
                before,
                after,
                fields,
            } => TemplateChange {
                item_key: Some(after.key.clone()),
                fields: fields.into_iter().map(camel_case).collect(),
                before: Some(before.into()),
                after: Some(after.into()),
                ..blank(TemplateChangeKind::ItemChanged, stage)
            },
            C::ClockChanged {
                stage,
                field,
                before,
                after,
            } => TemplateChange {
                fields: vec![camel_case(field)],
                before_days: before.and_then(|d| i32::try_from(d).ok()),
                after_days: after.and_then(|d| i32::try_from(d).ok()),
                ..blank(TemplateChangeKind::ClockChanged, stage)
            },
            C::MilestoneAdded { stage, milestone } => TemplateChange {
                milestone_key: Some(milestone.key.clone()),
                milestone_after: Some(milestone.into()),
                ..blank(TemplateChangeKind::MilestoneAdded, stage)
            },
            C::MilestoneRemoved { stage, milestone } => TemplateChange {
                milestone_key: Some(milestone.key.clone()),
                milestone_before: Some(milestone.into()),
                ..blank(TemplateChangeKind::MilestoneRemoved, stage)
            },
            C::MilestoneChanged {
                stage,
                before,
                after,
                fields,
            } => TemplateChange {
                milestone_key: Some(after.key.clone()),
                fields: fields.into_iter().map(camel_case).collect(),
                milestone_before: Some(before.into()),
                milestone_after: Some(after.into()),
                ..blank(TemplateChangeKind::MilestoneChanged, stage)
            },
        }
    }
}

async fn versions(
    ctx: &Context<'_>,
    template_id: Uuid,
) -> Result<Vec<projections::templates::VersionRow>, ApiError> {
    let rows = projections::templates::versions(&ctx.state().pool, template_id).await?;
    if rows.is_empty() {
        return Err(ApiError::new(
            crate::error::Code::NotFound,
            "template not found",
        ));
    }
    Ok(rows)
}

/// Template queries.
#[derive(Default, Debug)]
pub(super) struct TemplateQuery;

#[Object]
impl TemplateQuery {
    /// Workflow templates with their latest version (internal users).
    async fn workflow_templates(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowTemplate>> {
        staff(ctx)?;
        let rows = projections::templates::all(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WorkflowTemplate::from).collect())
    }

    /// Every published version of a template, oldest first (published versions never
    /// change).
    async fn template_versions(
        &self,
        ctx: &Context<'_>,
        template_id: Uuid,
    ) -> Result<Vec<TemplateVersion>> {
        staff(ctx)?;
        Ok(versions(ctx, template_id)
            .await?
            .into_iter()
            .map(TemplateVersion::from)
            .collect())
    }

    /// What changes from version `from` to version `to` of a template, stage by stage.
    async fn template_diff(
        &self,
        ctx: &Context<'_>,
        template_id: Uuid,
        from: i32,
        to: i32,
    ) -> Result<Vec<TemplateChange>> {
        staff(ctx)?;
        let rows = versions(ctx, template_id).await?;
        let stages = |version: i32| -> Result<Vec<domain::template::StageSpec>, ApiError> {
            let row = rows.iter().find(|r| r.version == version).ok_or_else(|| {
                ApiError::new(
                    crate::error::Code::NotFound,
                    format!("this template has no version {version}"),
                )
            })?;
            Ok(serde_json::from_value(row.stages.clone()).unwrap_or_default())
        };
        let (before, after) = (stages(from)?, stages(to)?);
        Ok(domain::template::diff(&before, &after)
            .into_iter()
            .map(TemplateChange::from)
            .collect())
    }
}
