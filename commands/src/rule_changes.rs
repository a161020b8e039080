//! Rule changes: their commands, and their publication serialized per template (the
//! `rule-publication` reactor, in `reactions`, carries a published change out).
//!
//! `RuleChangePublished` is the decision. Two changes drafted against the same base could
//! both pass their own check between a publication and the reactor's template version, so
//! [`CommandBus::publish_rule_change`] decides under a per-template transaction lock and
//! counts the versions already decided in the log, not only those the template has. The
//! template's stream refuses a version under a number it has (`TemplateError::Moved`), so
//! the reactor can never publish one twice.

use chrono::NaiveDate;
use domain::rule_change::{Person, RuleChange, RuleChangeCommand};
use domain::template::WorkflowTemplate;
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
