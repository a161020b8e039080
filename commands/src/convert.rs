//! Lead conversion: a won lead becomes a client, and optionally a project, in one
//! correlation (the `portal-access` reactor then gives the primary contact a portal user).

use domain::client::{ClientCommand, ContactInput};
use domain::lead::{Lead, LeadCommand, LeadStage};
use domain::project::{ProjectCommand, TemplateRef};
use domain::template::WorkflowTemplate;
use uuid::Uuid;

use crate::{Appended, CommandBus, CommandContext, CommandError};

/// The project to open when converting a lead.
#[derive(Debug, Clone)]
pub struct ProjectRequest {
    /// Template to use (its latest version in effect).
    pub template_id: Uuid,
    /// Project name.
    pub name: String,
}

/// Input of a lead conversion.
#[derive(Debug, Clone)]
pub struct ConvertLead {
    /// The won lead.
    pub lead_id: Uuid,
    /// Client name (defaults to the lead's company).
    pub client_name: Option<String>,
    /// Primary contact (defaults to the lead's contact).
    pub contact_name: Option<String>,
    /// Primary contact email (defaults to the lead's).
    pub contact_email: Option<String>,
    /// Primary contact phone (defaults to the lead's).
    pub contact_phone: Option<String>,
    /// Optional project.
    pub project: Option<ProjectRequest>,
}

/// What a conversion created.
#[derive(Debug, Clone, Copy)]
pub struct ConvertedLead {
    pub client_id: Uuid,
    /// The project, if any.
    pub project_id: Option<Uuid>,
    /// The portal user the primary contact gets (registered by a reactor).
    pub portal_user_id: Uuid,
    /// The last event appended.
    pub appended: Appended,
}

impl CommandBus {
    /// Converts a won lead into a client and optionally a project; the
    /// `PortalAccess` reactor (`reactions::access`) then invites the primary
    /// contact.
    ///
    /// Everything that can be refused is checked before the first append (lead state,
    /// contact, template, email uniqueness via the registry, reserved for the portal user
    /// to come), and the lead's own `LeadConverted` is the first append, so of two
    /// concurrent conversions exactly one proceeds. The client and project follow with the
    /// same correlation id, each caused by the conversion.
    pub async fn convert_lead(
        &self,
        ctx: &CommandContext,
        input: ConvertLead,
    ) -> Result<ConvertedLead, CommandError> {
        let lead: Lead = self.load(input.lead_id).await?;
        if lead.id.is_none() {
            return Err(CommandError::not_found("lead not found"));
        }
        if lead.client_id.is_some() {
            return Err(CommandError::Rejected {
                kind: domain::ErrorKind::Conflict,
                message: domain::lead::LeadError::AlreadyConverted.to_string(),
            });
        }
        if lead.stage != LeadStage::Won {
            return Err(CommandError::invalid(
                domain::lead::LeadError::NotWon(lead.stage).to_string(),
            ));
        }
        let client_id = Uuid::now_v7();
        let contact = ContactInput {
            contact_id: Uuid::now_v7(),
            name: input
                .contact_name
                .unwrap_or_else(|| lead.contact_name.clone()),
            email: input.contact_email.unwrap_or_else(|| lead.email.clone()),
            phone: input.contact_phone.or_else(|| lead.phone.clone()),
        };
        let client_name = input.client_name.unwrap_or_else(|| lead.company.clone());
        let validated = contact
            .clone()
            .validate(true)
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        domain::values::required_text("clientName", &client_name, domain::values::MAX_LINE)
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        let project = match input.project {
            Some(request) => {
                let template: WorkflowTemplate = self.load(request.template_id).await?;
                let version = template
                    .in_effect(ctx.issued_at.date_naive())
                    .ok_or_else(|| {
                        CommandError::invalid("projectTemplateId: no workflow template has this id")
                    })?;
                domain::values::required_text(
                    "projectName",
                    &request.name,
                    domain::values::MAX_LINE,
                )
                .map_err(|e| CommandError::invalid(e.to_string()))?;
                Some((
                    Uuid::now_v7(),
                    request.name,
                    TemplateRef {
                        template_id: request.template_id,
                        family: template.family.clone(),
                        version: version.version,
                    },
                    version.stages.clone(),
                ))
            }
            None => None,
        };
        let user_id = crate::users::portal_user_id(client_id);
        self.reserve_email(&validated.email, user_id).await?;

        let converted = self
            .execute(
                &self.leads,
                input.lead_id,
                LeadCommand::Convert {
                    client_id,
                    project_id: project.as_ref().map(|p| p.0),
                    at: ctx.issued_at,
                },
                ctx,
            )
            .await;
        if let Err(error) = converted {
            self.release_email(&validated.email, user_id).await;
            return Err(error);
        }
        let follow_up = ctx.caused_by(ctx.request_id);
        let mut appended = self
            .execute(
                &self.clients,
                client_id,
                ClientCommand::Create {
                    client_id,
                    name: client_name.clone(),
                    lead_id: Some(input.lead_id),
                    primary_contact: contact,
                    at: ctx.issued_at,
                },
                &follow_up,
            )
            .await?;
        let project_id = match project {
            Some((project_id, name, template, stages)) => {
                let command = ProjectCommand::Create {
                    project_id,
                    client_id,
                    name,
                    template,
                    stages,
                    at: ctx.issued_at,
                };
                appended = appended.max(
                    self.execute(&self.projects, project_id, command, &follow_up)
                        .await?,
                );
                Some(project_id)
            }
            None => None,
        };
        Ok(ConvertedLead {
            client_id,
            project_id,
            portal_user_id: user_id,
            appended,
        })
    }
}
