//! Object types over the read models, with access checks on every nested hop.

use async_graphql::dataloader::DataLoader;

use super::loaders::{Clients, Users};
use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::{
    ComplexObject, Context, ContextSelectionSet, Lookahead, Object, OutputType, Result,
    SimpleObject,
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Permission;
use projections::clients::{ClientRow, ContactRow};
use projections::leads::{ActivityRow, LeadRow, ListedLead, NoteRow};
use projections::projects::{ItemRow, ProjectRow};
use projections::templates::TemplateRow;
use projections::users::UserRow;
use uuid::Uuid;

use super::connection::selects;
use super::context::{request_of, Ctx, RequestContext};
use super::delivery::{
    self, objects, ChangeProposal, ChecklistItem, DocumentRequest, ExpiryAlert, LiaisonEntry,
    Licence, Milestone, ProjectStage, StageAdvance, Task,
};
use super::types::{parse_persisted, LeadSource, LeadStage, ProjectStatus, Role, StageKey};
use super::written::{write_enum, write_nested, Leaf, WriteFields};
use crate::error::ApiError;

/// A lead in the sales pipeline.
#[derive(Debug)]
pub struct Lead {
    row: LeadRow,
    /// Owner and client when the list page's query read them already; `None` loads them.
    joined: Option<(Option<UserRow>, Option<ClientRow>)>,
}

impl From<LeadRow> for Lead {
    fn from(row: LeadRow) -> Self {
        Lead { row, joined: None }
    }
}

impl From<ListedLead> for Lead {
    fn from(listed: ListedLead) -> Self {
        Lead {
            row: listed.lead,
            joined: Some((listed.owner, listed.client)),
        }
    }
}

impl Lead {
    /// Whether a query that selects `node` on a lead reads the lead column `column` (a field
    /// of [`projections::leads::LEAD_COLUMNS`]): when it selects the field of that name, or
    /// the relation an id column leads to.
    pub fn reads(node: &Lookahead<'_>, column: &str) -> bool {
        match column {
            "owner_id" => node.field("owner").exists(),
            "client_id" => node.field("client").exists(),
            "project_id" => node.field("project").exists(),
            _ => selects(node, column),
        }
    }
}

#[Object(serial)]
impl Lead {
    async fn id(&self) -> Uuid {
        self.row.id
    }
    async fn company(&self) -> &str {
        &self.row.company
    }
    async fn contact_name(&self) -> &str {
        &self.row.contact_name
    }
    async fn email(&self) -> &str {
        &self.row.email
    }
    async fn phone(&self) -> Option<&str> {
        self.row.phone.as_deref()
    }
    async fn source(&self) -> Option<LeadSource> {
        parse_persisted::<domain::lead::LeadSource>(&self.row.source).map(Into::into)
    }
    async fn service_interest(&self) -> &str {
        &self.row.service_interest
    }
    async fn score(&self) -> Option<i32> {
        self.row.score
    }
    async fn stage(&self) -> Option<LeadStage> {
        parse_persisted::<domain::lead::LeadStage>(&self.row.stage).map(Into::into)
    }
    /// Why the lead was lost.
    async fn lost_reason(&self) -> Option<&str> {
        self.row.lost_reason.as_deref()
    }
    /// The latest follow-up date logged on an activity.
    async fn next_follow_up(&self) -> Option<NaiveDate> {
        self.row.next_follow_up
    }
    async fn note_count(&self) -> i32 {
        self.row.note_count
    }
    async fn activity_count(&self) -> i32 {
        self.row.activity_count
    }
    async fn captured_at(&self) -> DateTime<Utc> {
        self.row.captured_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// The salesperson who owns the lead.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        if let Some((owner, _)) = &self.joined {
            return Ok(owner.clone().map(User));
        }
        let Some(owner) = self.row.owner_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<Users>>()
            .load_one(owner)
            .await
            .map_err(ApiError::internal)?
            .map(User))
    }
    /// The client this lead converted into.
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        if let Some((_, client)) = &self.joined {
            return Ok(client.clone().map(Client));
        }
        let Some(client_id) = self.row.client_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<Clients>>()
            .load_one(client_id)
            .await
            .map_err(ApiError::internal)?
            .map(Client))
    }
    /// The project opened at conversion.
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        let Some(project_id) = self.row.project_id else {
            return Ok(None);
        };
        Ok(projections::projects::find(&ctx.state().pool, project_id)
            .await
            .map_err(ApiError::from)?
            .map(Project))
    }
    /// Notes, newest first.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<Note>> {
        Ok(projections::leads::notes(&ctx.state().pool, self.row.id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(Note)
            .collect())
    }
    /// Activities, newest first.
    async fn activities(&self, ctx: &Context<'_>) -> Result<Vec<Activity>> {
        Ok(
            projections::leads::activities(&ctx.state().pool, self.row.id)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(Activity)
                .collect(),
        )
    }
}

impl WriteFields for Lead {
    fn type_name() -> Cow<'static, str> {
        <Self as OutputType>::type_name()
    }

    /// Every field but `project`, `notes` and `activities` (they read the database), and
    /// `owner` and `client` when the page's query read them.
    fn write_field(&self, ctx: &ContextSelectionSet<'_>, field: &Field, out: &mut Vec<u8>) -> bool {
        let row = &self.row;
        match field.name.node.as_str() {
            "id" => row.id.write(out),
            "company" => row.company.write(out),
            "contactName" => row.contact_name.write(out),
            "email" => row.email.write(out),
            "phone" => row.phone.write(out),
            "source" => write_enum(
                parse_persisted::<domain::lead::LeadSource>(&row.source).map(LeadSource::from),
                out,
            ),
            "serviceInterest" => row.service_interest.write(out),
            "score" => row.score.write(out),
            "stage" => write_enum(
                parse_persisted::<domain::lead::LeadStage>(&row.stage).map(LeadStage::from),
                out,
            ),
            "lostReason" => row.lost_reason.write(out),
            "nextFollowUp" => row.next_follow_up.write(out),
            "noteCount" => row.note_count.write(out),
            "activityCount" => row.activity_count.write(out),
            "capturedAt" => row.captured_at.write(out),
            "updatedAt" => row.updated_at.write(out),
            "owner" => {
                let Some((owner, _)) = &self.joined else {
                    return false;
                };
                return write_nested(owner.as_ref().map(UserFields), ctx, field, out);
            }
            "client" => {
                let Some((_, client)) = &self.joined else {
                    return false;
                };
                return write_nested(client.as_ref().map(ClientFields), ctx, field, out);
            }
            _ => return false,
        }
        true
    }
}

/// A note on a lead.
#[derive(Debug)]
pub struct Note(pub NoteRow);

#[Object]
impl Note {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author_id(&self) -> Option<Uuid> {
        self.0.author_id
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// An activity on a lead.
#[derive(Debug)]
pub struct Activity(pub ActivityRow);

#[Object]
impl Activity {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn follow_up_on(&self) -> Option<NaiveDate> {
        self.0.follow_up_on
    }
    async fn author_id(&self) -> Option<Uuid> {
        self.0.author_id
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A customer firm.
#[derive(Debug)]
pub struct Client(pub ClientRow);

#[Object(serial)]
impl Client {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The lead it was converted from (internal users only).
    async fn lead_id(&self, ctx: &Context<'_>) -> Option<Uuid> {
        client_lead_id(&self.0, &ctx.request())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Contacts, primary first.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<Contact>> {
        Ok(projections::clients::contacts(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(Contact::from)
            .collect())
    }
    /// The client's projects, newest first.
    async fn projects(&self, ctx: &Context<'_>) -> Result<Vec<Project>> {
        let filter = projections::projects::ProjectFilter {
            client_id: Some(self.0.id),
            ..Default::default()
        };
        let page = projections::projects::list(
            &ctx.state().pool,
            &filter,
            projections::projects::ProjectSortField::CreatedAt,
            true,
            100,
            None,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(page.rows.into_iter().map(Project).collect())
    }
}

/// `Client.leadId` as `request` may see it: internal users only. The resolver and the
/// written path both call this, so the rule lives in one place.
fn client_lead_id(row: &ClientRow, request: &RequestContext) -> Option<Uuid> {
    let internal = request.auth.viewer().is_ok_and(|v| !v.role.is_portal());
    row.lead_id.filter(|_| internal)
}

/// A client row written as [`Client`] (every field but `contacts` and `projects`).
struct ClientFields<'a>(&'a ClientRow);

impl WriteFields for ClientFields<'_> {
    fn type_name() -> Cow<'static, str> {
        <Client as OutputType>::type_name()
    }

    fn write_field(&self, ctx: &ContextSelectionSet<'_>, field: &Field, out: &mut Vec<u8>) -> bool {
        let row = self.0;
        match field.name.node.as_str() {
            "id" => row.id.write(out),
            "name" => row.name.write(out),
            "leadId" => client_lead_id(row, &request_of(ctx)).write(out),
            "createdAt" => row.created_at.write(out),
            "updatedAt" => row.updated_at.write(out),
            _ => return false,
        }
        true
    }
}

/// A client contact.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub struct Contact {
    id: Uuid,
    name: String,
    email: String,
    phone: Option<String>,
    is_primary: bool,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Contact {
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            is_primary: row.is_primary,
        }
    }
}

/// A regulated project.
#[derive(Debug)]
pub struct Project(pub ProjectRow);

#[Object]
impl Project {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn client_id(&self) -> Uuid {
        self.0.client_id
    }
    /// The client (always the viewer's own for portal users).
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        Ok(ctx
            .data_unchecked::<DataLoader<Clients>>()
            .load_one(self.0.client_id)
            .await
            .map_err(ApiError::internal)?
            .map(Client))
    }
    async fn family(&self) -> &str {
        &self.0.family
    }
    async fn template_id(&self) -> Uuid {
        self.0.template_id
    }
    /// The template version the project is pinned to.
    async fn template_version(&self) -> i32 {
        self.0.template_version
    }
    async fn status(&self) -> Option<ProjectStatus> {
        parse_persisted::<domain::project::ProjectStatus>(&self.0.status).map(Into::into)
    }
    async fn current_stage(&self) -> Option<StageKey> {
        parse_persisted::<domain::template::StageKey>(&self.0.current_stage).map(Into::into)
    }
    async fn stage_started_at(&self) -> DateTime<Utc> {
        self.0.stage_started_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Stages in order with their checklists, clocks and progress.
    async fn stages(&self, ctx: &Context<'_>) -> Result<Vec<ProjectStage>> {
        let pool = &ctx.state().pool;
        let stages = projections::projects::stages(pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        let mut items = projections::projects::items(pool, self.0.id)
            .await
            .map_err(ApiError::from)?;
        Ok(stages
            .into_iter()
            .map(|stage| {
                let (mine, rest): (Vec<ItemRow>, Vec<ItemRow>) =
                    items.drain(..).partition(|i| i.stage == stage.stage);
                items = rest;
                ProjectStage::new(stage, mine.into_iter().map(ChecklistItem::from).collect())
            })
            .collect())
    }
    /// Estimate-weighted progress over the project's tasks, 0 to 1 (0 without tasks).
    async fn progress(&self) -> f64 {
        delivery::fraction(self.0.progress)
    }
    /// Tasks whose subtasks are all completed complete by themselves (else they go to review).
    async fn auto_complete_tasks(&self) -> bool {
        self.0.auto_complete_tasks
    }
    /// Every stage, Issue included, is complete.
    async fn stages_complete(&self) -> bool {
        self.0.stages_complete
    }
    /// The granted licence or registration, once recorded.
    async fn licence(&self) -> Option<Licence> {
        Some(Licence {
            number: self.0.licence_number.clone()?,
            issued_on: self.0.licence_issued_on?,
            expires_on: self.0.licence_expires_on?,
        })
    }
    /// Tasks with their subtasks, in creation order.
    async fn tasks(&self, ctx: &Context<'_>) -> Result<Vec<Task>> {
        Ok(Task::tree(
            projections::projects::tasks(&ctx.state().pool, self.0.id)
                .await
                .map_err(ApiError::from)?,
        ))
    }
    /// Document requests, newest first.
    async fn document_requests(&self, ctx: &Context<'_>) -> Result<Vec<DocumentRequest>> {
        let filter = projections::projects::RequestFilter {
            project_id: Some(self.0.id),
            ..Default::default()
        };
        Ok(projections::projects::requests(&ctx.state().pool, &filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(DocumentRequest)
            .collect())
    }
    /// Requests still waiting for the customer (open or rejected), for the portal.
    async fn pending_requests(&self, ctx: &Context<'_>) -> Result<Vec<DocumentRequest>> {
        let filter = projections::projects::RequestFilter {
            project_id: Some(self.0.id),
            statuses: vec!["open".into(), "rejected".into()],
            ..Default::default()
        };
        Ok(projections::projects::requests(&ctx.state().pool, &filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(DocumentRequest)
            .collect())
    }
    /// Correspondence with the regulator, newest first (internal).
    async fn liaison_log(&self, ctx: &Context<'_>) -> Result<Vec<LiaisonEntry>> {
        delivery::require_internal(ctx)?;
        Ok(objects(
            projections::projects::liaison(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Billing milestones (internal).
    async fn milestones(&self, ctx: &Context<'_>) -> Result<Vec<Milestone>> {
        delivery::require_internal(ctx)?;
        Ok(objects(
            projections::projects::milestones(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Stage-advance requests with their decisions, oldest first (internal).
    async fn stage_advances(&self, ctx: &Context<'_>) -> Result<Vec<StageAdvance>> {
        delivery::require_internal(ctx)?;
        Ok(objects(
            projections::projects::advances(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Changes proposed while closed pending updates, with their decisions (internal).
    async fn change_proposals(&self, ctx: &Context<'_>) -> Result<Vec<ChangeProposal>> {
        delivery::require_internal(ctx)?;
        Ok(objects(
            projections::projects::proposals(&ctx.state().pool, self.0.id).await,
        )?)
    }
    /// Licence expiry alerts raised.
    async fn expiry_alerts(&self, ctx: &Context<'_>) -> Result<Vec<ExpiryAlert>> {
        Ok(objects(
            projections::projects::alerts(&ctx.state().pool, self.0.id).await,
        )?)
    }
}

/// A user of ZippCRM.
#[derive(Debug)]
pub struct User(pub UserRow);

#[Object(serial)]
impl User {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Email (visible to the user themself and to internal users).
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        user_email(&self.0, &ctx.request())
    }
    async fn role(&self) -> Option<Role> {
        domain::Role::parse(&self.0.role).map(Into::into)
    }
    async fn client_id(&self) -> Option<Uuid> {
        self.0.client_id
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// `User.email` as `request` may see it: the user themself and internal users. The
/// resolver and the written path both call this, so the rule lives in one place.
fn user_email<'a>(row: &'a UserRow, request: &RequestContext) -> Option<&'a str> {
    let viewer = request.auth.viewer().ok()?;
    (viewer.user_id == row.id || !viewer.role.is_portal()).then_some(row.email.as_str())
}

/// A user row written as [`User`] (every field).
struct UserFields<'a>(&'a UserRow);

impl WriteFields for UserFields<'_> {
    fn type_name() -> Cow<'static, str> {
        <User as OutputType>::type_name()
    }

    fn write_field(&self, ctx: &ContextSelectionSet<'_>, field: &Field, out: &mut Vec<u8>) -> bool {
        let row = self.0;
        match field.name.node.as_str() {
            "id" => row.id.write(out),
            "displayName" => row.display_name.write(out),
            "email" => user_email(row, &request_of(ctx)).write(out),
            "role" => write_enum(domain::Role::parse(&row.role).map(Role::from), out),
            "clientId" => row.client_id.write(out),
            "active" => row.active.write(out),
            "createdAt" => row.created_at.write(out),
            _ => return false,
        }
        true
    }
}

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

/// Loads a project the viewer may see, or `NOT_FOUND` (never `FORBIDDEN`, which would
/// confirm that another client's project exists).
pub async fn visible_project(ctx: &Context<'_>, id: Uuid) -> Result<Option<Project>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
    let row = projections::projects::find(&ctx.state().pool, id).await?;
    Ok(row.filter(|p| viewer.sees_client(p.client_id)).map(Project))
}

/// Loads a client the viewer may see.
pub async fn visible_client(ctx: &Context<'_>, id: Uuid) -> Result<Option<Client>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadClients)?;
    if !viewer.sees_client(id) {
        return Ok(None);
    }
    Ok(projections::clients::find(&ctx.state().pool, id)
        .await?
        .map(Client))
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use chrono::TimeZone;

    use super::*;
    use crate::auth::{Auth, Viewer};
    use crate::graphql::written::testing::assert_same;
    use crate::graphql::written::Written;
    use crate::graphql::RequestContext;

    const OWNER: Uuid = Uuid::from_u128(0x11);
    const PORTAL_USER: Uuid = Uuid::from_u128(0x22);

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 987_654_321)
            .single()
            .expect("a valid instant")
    }

    /// A lead with every field set and its owner and client joined, one with nothing set
    /// and neither, and one whose stored names are not the API's (shown as null).
    fn leads() -> Vec<ListedLead> {
        let full = LeadRow {
            id: Uuid::from_u128(0x0192_0000_7000_8000_0000_0000_0000_00cd),
            company: "Käse \"& Söhne\" \\ NBFC\n".to_owned(),
            contact_name: "Meera </script>".to_owned(),
            email: "meera@example.com".to_owned(),
            phone: Some("+91 98 \u{1}".to_owned()),
            source: "referral".to_owned(),
            service_interest: "RBI NBFC registration".to_owned(),
            owner_id: Some(OWNER),
            score: Some(-70),
            stage: "negotiation".to_owned(),
            lost_reason: Some("budget".to_owned()),
            client_id: Some(Uuid::from_u128(0x33)),
            next_follow_up: NaiveDate::from_ymd_opt(2027, 3, 5),
            note_count: 3,
            activity_count: 2_147_483_647,
            captured_at: at(1_763_700_000),
            updated_at: at(1_763_700_100),
            ..LeadRow::default()
        };
        let owner = UserRow {
            id: OWNER,
            email: "owner@zipp.example".to_owned(),
            display_name: "Owner \u{2713}".to_owned(),
            role: "sales".to_owned(),
            client_id: Some(Uuid::from_u128(0x44)),
            active: true,
            created_at: at(1_700_000_000),
        };
        let client = ClientRow {
            id: Uuid::from_u128(0x33),
            name: "Client \"One\"".to_owned(),
            lead_id: Some(Uuid::from_u128(0x0192_0000_7000_8000_0000_0000_0000_00cd)),
            created_at: at(1_763_700_200),
            updated_at: at(1_763_700_300),
            ..ClientRow::default()
        };
        let bare = LeadRow {
            id: Uuid::nil(),
            source: "website".to_owned(),
            stage: "prospect".to_owned(),
            ..LeadRow::default()
        };
        let unknown = LeadRow {
            source: "fax".to_owned(),
            stage: "dormant".to_owned(),
            ..LeadRow::default()
        };
        let self_owned = UserRow {
            id: PORTAL_USER,
            role: "no such role".to_owned(),
            ..UserRow::default()
        };
        vec![
            ListedLead {
                lead: full,
                owner: Some(owner),
                client: Some(client),
            },
            ListedLead {
                lead: bare,
                owner: None,
                client: None,
            },
            ListedLead {
                lead: unknown,
                owner: Some(self_owned),
                client: Some(ClientRow::default()),
            },
        ]
    }

    struct Sample;

    #[Object]
    impl Sample {
        async fn fast(&self) -> Vec<Written<Lead>> {
            leads()
                .into_iter()
                .map(|l| Written(Lead::from(l)))
                .collect()
        }
        async fn slow(&self) -> Vec<Lead> {
            leads().into_iter().map(Lead::from).collect()
        }
    }

    fn viewer(user_id: Uuid, role: domain::Role) -> Option<RequestContext> {
        Some(RequestContext {
            auth: Auth::User(Viewer {
                user_id,
                role,
                client_id: None,
                session: None,
            }),
            request_id: Uuid::nil(),
            client: std::net::Ipv4Addr::LOCALHOST.into(),
        })
    }

    #[tokio::test]
    async fn a_written_lead_page_is_what_async_graphql_resolves_byte_for_byte() {
        let schema = Schema::new(Sample, EmptyMutation, EmptySubscription);
        let fields = |type_name: &'static str, io: &'static [&'static str]| {
            let schema = &schema;
            async move {
                let query = format!(r#"{{ __type(name: "{type_name}") {{ fields {{ name }} }} }}"#);
                let json = schema
                    .execute(query)
                    .await
                    .data
                    .into_json()
                    .expect("introspection is JSON");
                json["__type"]["fields"]
                    .as_array()
                    .expect("the type has fields")
                    .iter()
                    .filter_map(|f| f["name"].as_str())
                    .filter(|name| !io.contains(name))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            }
        };
        let user = fields("User", &[]).await.join(" ");
        let client = fields("Client", &["contacts", "projects"]).await.join(" ");
        let lead: Vec<String> = fields("Lead", &["project", "notes", "activities"])
            .await
            .into_iter()
            .map(|f| match f.as_str() {
                "owner" => format!("owner {{ {user} }}"),
                "client" => format!("client {{ {client} }}"),
                _ => f,
            })
            .collect();
        assert!(lead.len() >= 17, "{lead:?}");
        let all = format!("{{ LIST {{ {} }} }}", lead.join(" "));
        let selections = [
            all.as_str(),
            "{ LIST { id company score stage owner { id displayName email } client { id name } } }",
            "{ LIST { a: id id __typename t: __typename owner { __typename id o: email id } \
             stage s: stage client { n: name name } a: id } }",
            "query { LIST { ...L owner { ...U } ... on Lead { client { ... on Client { id } } } } } \
             fragment L on Lead { company score ... { source } } fragment U on User { displayName role }",
            "query($yes: Boolean!) { LIST { id @include(if: $yes) company @skip(if: $yes) \
             owner @skip(if: $yes) { id } ... @include(if: false) { email } ...F @skip(if: $yes) \
             client { leadId createdAt @include(if: $yes) } } } fragment F on Lead { phone }",
        ];
        let viewers = [
            None,
            viewer(OWNER, domain::Role::Admin),
            viewer(PORTAL_USER, domain::Role::Client),
            viewer(Uuid::from_u128(0x55), domain::Role::Client),
        ];
        for selection in selections {
            for viewer in viewers {
                assert_same(&schema, ("fast", "slow"), selection, viewer).await;
            }
        }
    }
}
