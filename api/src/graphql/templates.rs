//! Workflow templates: the stages and checklists projects are built from.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Permission;
use projections::templates::TemplateRow;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::context::Ctx;
use crate::graphql::types::{Role, StageKey};

/// A workflow template (latest version).
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub struct WorkflowTemplate {
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
pub struct TemplateStage {
    key: StageKey,
    sla_days: Option<i32>,
    sla_extension_days: Option<i32>,
    items: Vec<TemplateItem>,
}

/// A checklist item of a template stage.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct TemplateItem {
    key: String,
    title: String,
    mandatory: bool,
    evidence_required: bool,
    responsible_role: Role,
}

impl From<domain::template::StageSpec> for TemplateStage {
    fn from(spec: domain::template::StageSpec) -> Self {
        TemplateStage {
            key: spec.stage.into(),
            sla_days: spec.sla_days.and_then(|d| i32::try_from(d).ok()),
            sla_extension_days: spec.sla_extension_days.and_then(|d| i32::try_from(d).ok()),
            items: spec
                .items
                .into_iter()
                .map(|i| TemplateItem {
                    key: i.key,
                    title: i.title,
                    mandatory: i.mandatory,
                    evidence_required: i.evidence_required,
                    responsible_role: i.responsible_role.into(),
                })
                .collect(),
        }
    }
}

/// Template queries.
#[derive(Default, Debug)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    /// Workflow templates with their latest version (internal users).
    async fn workflow_templates(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowTemplate>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        if viewer.role.is_portal() {
            return Err(ApiError::new(
                crate::error::Code::Forbidden,
                "portal users do not see workflow templates",
            )
            .into());
        }
        let rows = projections::templates::all(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WorkflowTemplate::from).collect())
    }
}
