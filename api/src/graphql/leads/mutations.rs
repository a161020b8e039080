//! The lead mutations: capture, update, move, notes, activities, follow-ups, conversion.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{NaiveDate, Utc};
use commands::{Appended, ConvertLead, ProjectRequest};
use domain::lead::{ActivityInput, CaptureLeadInput, LeadCommand};
use domain::Permission;
use uuid::Uuid;

use super::*;
use crate::error::ApiError;
use crate::graphql::clients::Client;
use crate::graphql::context::Ctx;
use crate::graphql::projects::Project;
use crate::graphql::types::{LeadSource, LeadStage};
use crate::state::{read_back, ReadBack};

/// Lead mutations.
#[derive(Default, Debug)]
pub(crate) struct LeadMutation;

/// A new lead.
#[derive(InputObject, Debug)]
pub(super) struct CaptureLeadInputGql {
    /// Company name.
    company: String,
    /// Contact person.
    contact_name: String,
    /// Contact email.
    email: String,
    /// Contact phone.
    phone: Option<String>,
    /// Where the lead came from.
    source: LeadSource,
    /// Service the company is interested in.
    service_interest: String,
    /// Owner; defaults to the capturing user.
    owner_id: Option<Uuid>,
}

/// An activity to log.
#[derive(InputObject, Debug)]
pub(super) struct LogActivityInput {
    /// Call, meeting, email, ...
    kind: String,
    /// What happened.
    summary: String,
    /// When to follow up.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    follow_up_on: Option<NaiveDate>,
}

/// The primary contact at conversion (each field defaults to the lead's).
#[derive(InputObject, Debug, Default)]
pub(super) struct PrimaryContactInput {
    name: Option<String>,
    /// Email; becomes the portal login.
    email: Option<String>,
    phone: Option<String>,
}

/// The project to open at conversion.
#[derive(InputObject, Debug)]
pub(super) struct ConvertProjectInput {
    /// Workflow template (its latest version is used and pinned).
    template_id: Uuid,
    /// Project name.
    name: String,
}

/// Conversion of a won lead.
#[derive(InputObject, Debug)]
pub(super) struct ConvertLeadInput {
    /// The won lead.
    lead_id: Uuid,
    /// Client name (defaults to the lead's company).
    client_name: Option<String>,
    primary_contact: Option<PrimaryContactInput>,
    /// Optional project.
    project: Option<ConvertProjectInput>,
}

/// Result of a lead mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct LeadPayload {
    /// The lead as the read model shows it.
    lead: Option<Lead>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

/// Result of a conversion.
#[derive(SimpleObject, Debug)]
pub(super) struct ConvertLeadPayload {
    /// The converted lead.
    lead: Option<Lead>,
    /// The new client.
    client: Option<Client>,
    /// The new project, if one was requested.
    project: Option<Project>,
    /// The primary contact's portal user id (a set-password email is queued).
    portal_user_id: Uuid,
    /// False when the read models had not caught up within the wait bound.
    caught_up: bool,
}

async fn lead_payload(ctx: &Context<'_>, id: Uuid, appended: Appended) -> Result<LeadPayload> {
    let state = ctx.state();
    // A caller that asks only whether the read model caught up does not pay for a read.
    let wanted = ctx.look_ahead().field("lead").exists();
    let read = async {
        match wanted {
            true => projections::leads::find(&state.pool, id).await,
            false => Ok(None),
        }
    };
    let ReadBack {
        record: lead,
        caught_up,
    } = state
        .after_append(&[projections::leads::NAME], appended, read)
        .await
        .map(Lead::from);
    Ok(LeadPayload { lead, caught_up })
}

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: impl FnOnce(chrono::DateTime<Utc>) -> LeadCommand,
) -> Result<LeadPayload> {
    let viewer = ctx.request().auth.require(Permission::WriteLeads)?;
    let command_ctx = ctx.command_context(&viewer);
    let appended = ctx
        .state()
        .bus
        .lead(&command_ctx, id, command(command_ctx.issued_at))
        .await
        .map_err(ApiError::from)?;
    lead_payload(ctx, id, appended).await
}

async fn check_owner(ctx: &Context<'_>, owner_id: Uuid) -> Result<(), ApiError> {
    let owner = projections::users::find(&ctx.state().pool, owner_id).await?;
    match owner {
        Some(user) if user.active && user.client_id.is_none() => Ok(()),
        _ => Err(ApiError::bad_input(
            "ownerId: no active internal user has this id",
        )),
    }
}

#[Object]
impl LeadMutation {
    /// Captures a new lead in the Prospect stage.
    async fn capture_lead(
        &self,
        ctx: &Context<'_>,
        input: CaptureLeadInputGql,
    ) -> Result<LeadPayload> {
        let viewer = ctx.request().auth.require(Permission::WriteLeads)?;
        let owner_id = input.owner_id.unwrap_or(viewer.user_id);
        if input.owner_id.is_some() {
            check_owner(ctx, owner_id).await?;
        }
        let input = CaptureLeadInput {
            company: input.company,
            contact_name: input.contact_name,
            email: input.email,
            phone: input.phone,
            source: input.source.into(),
            service_interest: input.service_interest,
            owner_id: Some(owner_id),
        };
        let (id, appended) = ctx
            .state()
            .bus
            .capture_lead(&ctx.command_context(&viewer), input)
            .await
            .map_err(ApiError::from)?;
        lead_payload(ctx, id, appended).await
    }

    /// Gives a lead to another owner.
    async fn assign_lead(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        owner_id: Uuid,
    ) -> Result<LeadPayload> {
        ctx.request().auth.require(Permission::WriteLeads)?;
        check_owner(ctx, owner_id).await?;
        run(ctx, id, |at| LeadCommand::Assign { owner_id, at }).await
    }

    /// Scores a lead from 0 to 100.
    async fn score_lead(&self, ctx: &Context<'_>, id: Uuid, score: i32) -> Result<LeadPayload> {
        run(ctx, id, |at| LeadCommand::Score { score, at }).await
    }

    /// Moves a lead between open stages (Prospect, Qualified, Proposal, Negotiation).
    async fn move_lead_stage(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        stage: LeadStage,
    ) -> Result<LeadPayload> {
        run(ctx, id, |at| LeadCommand::MoveStage {
            to: stage.into(),
            at,
        })
        .await
    }

    /// Closes a lead as won (from Proposal or Negotiation).
    async fn mark_lead_won(&self, ctx: &Context<'_>, id: Uuid) -> Result<LeadPayload> {
        run(ctx, id, |at| LeadCommand::Win { at }).await
    }

    /// Closes a lead as lost; the reason is required.
    async fn mark_lead_lost(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> Result<LeadPayload> {
        run(ctx, id, |at| LeadCommand::Lose { reason, at }).await
    }

    /// Adds a note to a lead.
    async fn add_lead_note(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        body: String,
    ) -> Result<LeadPayload> {
        run(ctx, id, |at| LeadCommand::AddNote {
            note_id: Uuid::now_v7(),
            body,
            at,
        })
        .await
    }

    /// Logs an activity, optionally with a follow-up date.
    async fn log_lead_activity(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: LogActivityInput,
    ) -> Result<LeadPayload> {
        let activity = ActivityInput {
            activity_id: Uuid::now_v7(),
            kind: input.kind,
            summary: input.summary,
            follow_up_on: input.follow_up_on,
        };
        run(ctx, id, |at| LeadCommand::LogActivity { activity, at }).await
    }

    /// Converts a won lead into a client with its primary contact (who gets a portal user
    /// and a set-password email), optionally opening a project from a workflow template.
    /// Converting twice is refused.
    async fn convert_lead(
        &self,
        ctx: &Context<'_>,
        input: ConvertLeadInput,
    ) -> Result<ConvertLeadPayload> {
        let viewer = ctx.request().auth.require(Permission::ConvertLeads)?;
        let contact = input.primary_contact.unwrap_or_default();
        let request = ConvertLead {
            lead_id: input.lead_id,
            client_name: input.client_name,
            contact_name: contact.name,
            contact_email: contact.email,
            contact_phone: contact.phone,
            project: input.project.map(|p| ProjectRequest {
                template_id: p.template_id,
                name: p.name,
            }),
        };
        let state = ctx.state();
        let converted = state
            .bus
            .convert_lead(&ctx.command_context(&viewer), request)
            .await
            .map_err(ApiError::from)?;
        // The portal-access reactor too: once it has passed the client, the portal user
        // is registered and the set-password message queued.
        let mut caught_up = state
            .caught_up(
                &[
                    projections::leads::NAME,
                    projections::clients::NAME,
                    projections::projects::NAME,
                    projections::users::NAME,
                    reactions::access::PortalAccess::NAME,
                ],
                converted.appended,
            )
            .await;
        let pool = &state.pool;
        let lead = read_back(
            projections::leads::find(pool, input.lead_id).await,
            &mut caught_up,
        );
        let client = read_back(
            projections::clients::find(pool, converted.client_id).await,
            &mut caught_up,
        );
        let project = match converted.project_id {
            Some(id) => read_back(projections::projects::find(pool, id).await, &mut caught_up),
            None => None,
        };
        Ok(ConvertLeadPayload {
            lead: lead.map(Lead::from),
            client: client.map(Client),
            project: project.map(Project),
            portal_user_id: converted.portal_user_id,
            caught_up,
        })
    }
}
