//! The regulatory library: guidance items, their impact assessment, and the projects they
//! touch.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::guidance::{GuidanceCommand, GuidanceInput, TemplateImpact};
use domain::Permission;
use projections::guidance::{GuidanceRow, ImpactRow, ImpactedProjectRow};
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::graphql::context::{staff, Ctx};
use crate::graphql::types::{parse_persisted, StageKey};
use crate::state::ReadBack;

/// Read models a guidance mutation answers from.
const GUIDANCE_READ_MODELS: [&str; 1] = [projections::guidance::NAME];

/// Where a guidance item stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::guidance::GuidanceStatus")]
pub enum GuidanceStatus {
    New,
    Assessed,
    /// Carried into a template version by a rule change.
    Actioned,
    /// Closed: it changes nothing the firm runs.
    NoAction,
}

/// How much a guidance item changes.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::guidance::Severity")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// A regulator's guidance item.
#[derive(Debug)]
pub(super) struct Guidance(GuidanceRow);

#[Object]
impl Guidance {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn regulator(&self) -> &str {
        &self.0.regulator
    }
    /// The circular's reference, unique per regulator.
    async fn circular_ref(&self) -> &str {
        &self.0.circular_ref
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn issued_on(&self) -> NaiveDate {
        self.0.issued_on
    }
    async fn effective_on(&self) -> Option<NaiveDate> {
        self.0.effective_on
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Template families it touches.
    async fn families(&self) -> &[String] {
        &self.0.families
    }
    async fn status(&self) -> Option<GuidanceStatus> {
        parse_persisted::<domain::guidance::GuidanceStatus>(&self.0.status).map(Into::into)
    }
    /// The latest assessment's severity.
    async fn severity(&self) -> Option<Severity> {
        self.0
            .severity
            .as_deref()
            .and_then(parse_persisted::<domain::guidance::Severity>)
            .map(Into::into)
    }
    /// The latest assessment's narrative.
    async fn narrative(&self) -> Option<&str> {
        self.0.narrative.as_deref()
    }
    /// Why it was closed without action.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    async fn assessed_by(&self) -> Option<Uuid> {
        self.0.assessed_by
    }
    async fn assessed_at(&self) -> Option<DateTime<Utc>> {
        self.0.assessed_at
    }
    /// The templates the latest assessment touches.
    async fn impacts(&self, ctx: &Context<'_>) -> Result<Vec<GuidanceImpact>> {
        let rows = projections::guidance::impacts(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(GuidanceImpact::from).collect())
    }
    /// Its source documents, in the order attached.
    async fn documents(&self, ctx: &Context<'_>) -> Result<Vec<GuidanceDocument>> {
        let rows = projections::guidance::documents(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(GuidanceDocument::from).collect())
    }
    /// The rule changes drafted to answer it, most recently changed first.
    async fn rule_changes(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::rule_changes::RuleChange>> {
        let filter = projections::rule_changes::RuleChangeFilter {
            guidance_id: Some(self.0.id),
            ..Default::default()
        };
        let rows = projections::rule_changes::list(&ctx.state().pool, filter, 200)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
    async fn recorded_by(&self) -> Uuid {
        self.0.recorded_by
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A source document of a guidance item (attached with `POST /files/guidance/{id}`).
#[derive(SimpleObject, Debug)]
pub(super) struct GuidanceDocument {
    id: Uuid,
    file_name: String,
    size_bytes: i64,
    media_type: String,
    /// Hex SHA-256 of the content.
    sha256: String,
    attached_by: Uuid,
    attached_at: DateTime<Utc>,
    /// Where to download it (with the same bearer token).
    download_path: String,
}

impl From<projections::guidance::DocumentRow> for GuidanceDocument {
    fn from(row: projections::guidance::DocumentRow) -> Self {
        GuidanceDocument {
            download_path: format!("/files/guidance-documents/{}", row.id),
            id: row.id,
            file_name: row.file_name,
            size_bytes: row.size_bytes,
            media_type: row.media_type,
            sha256: row.sha256,
            attached_by: row.attached_by,
            attached_at: row.attached_at,
        }
    }
}

/// A template an assessment touches, and where.
#[derive(SimpleObject, Debug)]
pub(super) struct GuidanceImpact {
    template_id: Uuid,
    /// Stages touched (the whole template when empty).
    stages: Vec<StageKey>,
    /// Checklist item keys touched.
    items: Vec<String>,
}

impl From<ImpactRow> for GuidanceImpact {
    fn from(row: ImpactRow) -> Self {
        GuidanceImpact {
            template_id: row.template_id,
            stages: row
                .stages
                .iter()
                .filter_map(|s| parse_persisted::<domain::template::StageKey>(s))
                .map(Into::into)
                .collect(),
            items: row.items,
        }
    }
}

/// A project on a touched template.
#[derive(SimpleObject, Debug)]
pub(super) struct ImpactedProject {
    project_id: Uuid,
    name: String,
    client_id: Uuid,
    client_name: String,
    template_id: Uuid,
    /// The version it runs on.
    template_version: i32,
    status: String,
    current_stage: String,
    /// Who works it: the assignees of its open tasks and whoever opened it.
    owners: Vec<Uuid>,
}

impl From<ImpactedProjectRow> for ImpactedProject {
    fn from(r: ImpactedProjectRow) -> Self {
        ImpactedProject {
            project_id: r.project_id,
            name: r.name,
            client_id: r.client_id,
            client_name: r.client_name,
            template_id: r.template_id,
            template_version: r.template_version,
            status: r.status,
            current_stage: r.current_stage,
            owners: r.owners,
        }
    }
}

/// Projects on a template version.
#[derive(SimpleObject, Debug)]
pub(super) struct VersionCount {
    template_id: Uuid,
    template_version: i32,
    projects: i64,
}

/// What a guidance item touches: the active and on-hold projects on its templates.
#[derive(SimpleObject, Debug)]
pub(super) struct ImpactedProjects {
    projects: Vec<ImpactedProject>,
    project_count: i64,
    client_count: i64,
    by_version: Vec<VersionCount>,
}

/// Guidance queries (internal users).
#[derive(Default, Debug)]
pub(super) struct GuidanceQuery;

#[Object]
impl GuidanceQuery {
    /// Guidance, newest issued first; by regulator and status.
    async fn guidance(
        &self,
        ctx: &Context<'_>,
        regulator: Option<String>,
        status: Option<GuidanceStatus>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<Guidance>> {
        staff(ctx)?;
        let regulator = regulator.map(|r| r.trim().to_uppercase());
        let status = status.map(|s| domain::guidance::GuidanceStatus::from(s).as_str());
        let rows =
            projections::guidance::list(&ctx.state().pool, regulator.as_deref(), status, first)
                .await
                .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Guidance).collect())
    }

    async fn guidance_item(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Guidance>> {
        staff(ctx)?;
        let row = projections::guidance::find(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(Guidance))
    }

    /// The active and on-hold projects on the templates a guidance item's latest assessment
    /// touches, with their clients, by template version.
    async fn impacted_projects(
        &self,
        ctx: &Context<'_>,
        guidance_id: Uuid,
    ) -> Result<ImpactedProjects> {
        staff(ctx)?;
        let rows = projections::guidance::impacted_projects(&ctx.state().pool, guidance_id)
            .await
            .map_err(ApiError::from)?;
        let mut clients: Vec<Uuid> = rows.iter().map(|r| r.client_id).collect();
        clients.sort();
        clients.dedup();
        let mut by_version: Vec<VersionCount> = Vec::new();
        for row in &rows {
            match by_version.last_mut() {
                Some(v)
                    if v.template_id == row.template_id
                        && v.template_version == row.template_version =>
                {
                    v.projects += 1;
                }
                _ => by_version.push(VersionCount {
                    template_id: row.template_id,
                    template_version: row.template_version,
                    projects: 1,
                }),
            }
        }
        Ok(ImpactedProjects {
            project_count: i64::try_from(rows.len()).unwrap_or(i64::MAX),
            client_count: i64::try_from(clients.len()).unwrap_or(i64::MAX),
            by_version,
            projects: rows.into_iter().map(ImpactedProject::from).collect(),
        })
    }
}

/// A new guidance item.
#[derive(InputObject, Debug)]
pub(super) struct RecordGuidanceInput {
    /// RBI, SEBI, IRDAI, or another regulator's code.
    regulator: String,
    circular_ref: String,
    title: String,
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    issued_on: NaiveDate,
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    effective_on: Option<NaiveDate>,
    summary: String,
    #[graphql(default, validator(max_items = 20))]
    families: Vec<String>,
}

/// A template an assessment touches.
#[derive(InputObject, Debug)]
pub(super) struct TemplateImpactInput {
    template_id: Uuid,
    #[graphql(default)]
    stages: Vec<StageKey>,
    /// Checklist item keys of the template's latest version.
    #[graphql(default, validator(max_items = 200))]
    items: Vec<String>,
}

#[derive(SimpleObject, Debug)]
pub(super) struct GuidancePayload {
    guidance: Option<Guidance>,
    caught_up: bool,
}

/// Guidance mutations (managers, reviewers, admins).
#[derive(Default, Debug)]
pub(super) struct GuidanceMutation;

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: impl FnOnce(Uuid, DateTime<Utc>) -> GuidanceCommand,
) -> Result<GuidancePayload> {
    let viewer = ctx.request().auth.require(Permission::AssessGuidance)?;
    let state = ctx.state();
    let command_ctx = ctx.command_context(&viewer);
    let appended = state
        .bus
        .guidance(
            &command_ctx,
            id,
            command(viewer.user_id, command_ctx.issued_at),
        )
        .await
        .map_err(ApiError::from)?;
    let ReadBack {
        record: guidance,
        caught_up,
    } = state
        .after_append(
            &GUIDANCE_READ_MODELS,
            appended,
            projections::guidance::find(&state.pool, id),
        )
        .await
        .map(Guidance);
    Ok(GuidancePayload {
        guidance,
        caught_up,
    })
}

/// Each impact's template exists and its item keys are checklist items of the template's
/// latest version (in the stages named, when any are).
async fn checked(
    ctx: &Context<'_>,
    impacts: Vec<TemplateImpactInput>,
) -> Result<Vec<TemplateImpact>, ApiError> {
    let templates = projections::templates::all(&ctx.state().pool).await?;
    let mut out = Vec::with_capacity(impacts.len());
    for impact in impacts {
        let template = templates
            .iter()
            .find(|t| t.id == impact.template_id)
            .ok_or_else(|| ApiError::new(Code::NotFound, "template not found"))?;
        let stages: Vec<domain::template::StageSpec> =
            serde_json::from_value(template.stages.clone()).unwrap_or_default();
        let named: Vec<domain::template::StageKey> =
            impact.stages.iter().map(|s| (*s).into()).collect();
        for key in &impact.items {
            let known = stages
                .iter()
                .filter(|s| named.is_empty() || named.contains(&s.stage))
                .any(|s| s.items.iter().any(|i| &i.key == key));
            if !known {
                return Err(ApiError::bad_input(format!(
                    "items: '{key}' is not a checklist item of {} (version {}) in the stages named",
                    template.name, template.latest_version
                )));
            }
        }
        out.push(TemplateImpact {
            template_id: impact.template_id,
            stages: named,
            items: impact.items,
        });
    }
    Ok(out)
}

#[Object]
impl GuidanceMutation {
    /// Records a regulator's circular (once per regulator and reference).
    async fn record_guidance(
        &self,
        ctx: &Context<'_>,
        input: RecordGuidanceInput,
    ) -> Result<GuidancePayload> {
        let regulator =
            domain::guidance::regulator_code(&input.regulator).map_err(ApiError::from)?;
        let id = domain::guidance::stream_id(&regulator, &input.circular_ref);
        let guidance = GuidanceInput {
            regulator,
            circular_ref: input.circular_ref,
            title: input.title,
            issued_on: input.issued_on,
            effective_on: input.effective_on,
            summary: input.summary,
            families: input.families,
        };
        run(ctx, id, |by, at| GuidanceCommand::Record {
            guidance_id: id,
            guidance,
            by,
            at,
        })
        .await
    }

    /// Records an assessment of a guidance item's impact (replacing the previous one).
    async fn assess_guidance(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(validator(max_items = 50))] impacts: Vec<TemplateImpactInput>,
        severity: Severity,
        narrative: String,
    ) -> Result<GuidancePayload> {
        ctx.request().auth.require(Permission::AssessGuidance)?;
        let impacts = checked(ctx, impacts).await?;
        run(ctx, id, |by, at| GuidanceCommand::Assess {
            impacts,
            severity: severity.into(),
            narrative,
            by,
            at,
        })
        .await
    }

    /// Closes a guidance item that changes nothing the firm runs, with a reason.
    async fn close_guidance_without_action(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> Result<GuidancePayload> {
        run(ctx, id, |by, at| GuidanceCommand::NoAction {
            reason,
            by,
            at,
        })
        .await
    }
}
