//! The `rule-publication` reactor: what follows a rule change's publication.
//!
//! `RuleChangePublished` is the decision (`CommandBus::publish_rule_change` takes it under a
//! per-template lock); this reactor makes the template version, marks the guidance
//! actioned and tells the owners of projects left on an older version. The template's
//! stream refuses a version under a number it has (`TemplateError::Moved`), so a version is
//! never published twice.

use std::sync::Arc;

use async_trait::async_trait;
use commands::CommandBus;
use domain::guidance::GuidanceCommand;
use domain::project::ProjectCommand;
use domain::rule_change::RuleChangeEvent;
use domain::template::{Publication, TemplateCommand, WorkflowTemplate};
use projections::runner::decode;
use projections::StoredEvent;
use uuid::Uuid;

use crate::runner::{reaction_context, ReactionError, Reactor};

/// Carries out a published rule change: publishes its template version, marks its
/// guidance actioned, and tells the owners (`projections::guidance::OWNERS`) of every
/// project still on an older version of the template. Each step lands once (reaction
/// keys).
#[derive(Debug)]
pub(crate) struct RulePublication {
    /// The command bus.
    pub bus: Arc<CommandBus>,
}

impl RulePublication {
    /// Persisted name.
    pub(crate) const NAME: &'static str = "rule-publication";
}

/// A project behind a newly published version, and who to tell.
#[derive(sqlx::FromRow)]
struct Behind {
    id: Uuid,
    owners: Vec<Uuid>,
}

#[async_trait]
impl Reactor for RulePublication {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["RuleChange"]
    }

    fn after(&self) -> &'static [&'static str] {
        &[projections::projects::NAME]
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        let RuleChangeEvent::RuleChangePublished {
            template_id,
            version,
            stages,
            effective_on,
            guidance_id,
            ..
        } = decode(event)?
        else {
            return Ok(());
        };
        let Some(rule_change_id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let template: WorkflowTemplate = self.bus.load(template_id).await?;
        let ctx = reaction_context(self.bus.pool(), Self::NAME, event, "publish").await?;
        let publish = TemplateCommand::PublishVersion {
            template_id,
            family: template.family.clone(),
            name: template.name.clone(),
            stages,
            publication: Some(Publication {
                rule_change_id,
                version,
                effective_on,
            }),
            at: event.recorded_at,
        };
        self.bus.template(&ctx, template_id, publish).await?;
        if let Some(guidance_id) = guidance_id {
            let ctx = reaction_context(self.bus.pool(), Self::NAME, event, "action").await?;
            let action = GuidanceCommand::Action {
                rule_change_id,
                template_id,
                version,
                at: event.recorded_at,
            };
            self.bus.guidance(&ctx, guidance_id, action).await?;
        }
        let behind: Vec<Behind> = sqlx::query_as(&format!(
            "SELECT p.id, {OWNERS} AS owners FROM project_view p \
              WHERE p.template_id = $1 AND p.template_version < $2 AND p.status <> 'closed' \
              ORDER BY p.id",
            OWNERS = projections::guidance::OWNERS
        ))
        .bind(template_id)
        .bind(i64::from(version))
        .fetch_all(self.bus.pool())
        .await?;
        for project in behind {
            let ctx = reaction_context(
                self.bus.pool(),
                Self::NAME,
                event,
                &format!("note/{}", project.id),
            )
            .await?;
            let note = ProjectCommand::NoteNewerTemplateVersion {
                version,
                rule_change_id,
                notify: project.owners,
                at: event.recorded_at,
            };
            self.bus.project(&ctx, project.id, note).await?;
        }
        Ok(())
    }
}
