//! Rule changes: their commands, their publication serialized per template, and the
//! `rule-publication` reactor that carries a published change out.
//!
//! `RuleChangePublished` is the decision. Two changes drafted against the same base could
//! both pass their own check between a publication and the reactor's template version, so
//! [`CommandBus::publish_rule_change`] decides under a per-template transaction lock and
//! counts the versions already decided in the log, not only those the template has. The
//! template's stream refuses a version under a number it has (`TemplateError::Moved`), so
//! the reactor can never publish one twice.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::guidance::GuidanceCommand;
use domain::project::ProjectCommand;
use domain::rule_change::{Person, RuleChange, RuleChangeCommand, RuleChangeEvent};
use domain::template::{Publication, TemplateCommand, WorkflowTemplate};
use projections::reactor::{ReactionError, Reactor};
use projections::runner::decode;
use projections::StoredEvent;
use uuid::Uuid;

use crate::{Appended, CommandBus, CommandContext, CommandError};

impl CommandBus {
    /// Runs a command on a rule change (publication goes through
    /// [`Self::publish_rule_change`]).
    pub async fn rule_change(
        &self,
        ctx: &CommandContext,
        rule_change_id: Uuid,
        command: RuleChangeCommand,
    ) -> Result<Appended, CommandError> {
        if matches!(command, RuleChangeCommand::Publish { .. }) {
            return Err(CommandError::invalid(
                "rule changes are published through publish_rule_change",
            ));
        }
        self.execute(&self.rule_changes, rule_change_id, command, ctx)
            .await
    }

    /// Publishes an approved rule change as the version after its base, effective on
    /// `effective_on`, one publication per template at a time.
    pub async fn publish_rule_change(
        &self,
        ctx: &CommandContext,
        rule_change_id: Uuid,
        by: Person,
        effective_on: NaiveDate,
    ) -> Result<Appended, CommandError> {
        let change: RuleChange = self.load(rule_change_id).await?;
        let Some(template_id) = change.template_id else {
            return Err(CommandError::not_found("rule change not found"));
        };
        // A transaction that only holds the lock has no xid: it holds no worker's horizon
        // back, and a dropped request rolls it back, releasing the lock.
        let mut lock = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("rule-publication:{template_id}"))
            .execute(&mut *lock)
            .await?;
        let current_version = self.decided_version(template_id).await?;
        let command = RuleChangeCommand::Publish {
            by,
            effective_on,
            current_version,
            at: ctx.issued_at,
        };
        let appended = self
            .execute(&self.rule_changes, rule_change_id, command, ctx)
            .await;
        lock.rollback().await?;
        appended
    }

    /// The template's latest version, counting versions published rule changes decided
    /// that the reactor has not made yet.
    async fn decided_version(&self, template_id: Uuid) -> Result<u32, CommandError> {
        let template: WorkflowTemplate = self.load(template_id).await?;
        let made = template.latest().map_or(0, |v| v.version);
        let decided: Option<i64> = sqlx::query_scalar(
            "SELECT max((payload->'RuleChangePublished'->>'version')::bigint) FROM events \
              WHERE aggregate_type = 'RuleChange' AND event_type = 'RuleChangePublished' \
                AND payload->'RuleChangePublished'->>'template_id' = $1",
        )
        .bind(template_id.to_string())
        .fetch_one(&self.pool)
        .await?;
        let decided = decided.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        Ok(made.max(decided))
    }
}

/// Carries out a published rule change: publishes its template version, marks its
/// guidance actioned, and tells the owners (`projections::guidance::OWNERS`) of every
/// project still on an older version of the template. Each step lands once (reaction
/// keys).
#[derive(Debug)]
pub struct RulePublication {
    /// The command bus.
    pub bus: Arc<CommandBus>,
}

impl RulePublication {
    /// Persisted name.
    pub const NAME: &'static str = "rule-publication";
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
        &["projects"]
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
        let ctx = self
            .bus
            .reaction_context(Self::NAME, event, "publish")
            .await?;
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
            let ctx = self
                .bus
                .reaction_context(Self::NAME, event, "action")
                .await?;
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
        .fetch_all(&self.bus.pool)
        .await?;
        for project in behind {
            let ctx = self
                .bus
                .reaction_context(Self::NAME, event, &format!("note/{}", project.id))
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
