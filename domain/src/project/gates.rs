//! Stage gates: verifying and waiving checklist items, the maker-checker stage advance, and
//! the stage clock's one extension.

use super::aggregate::{checker, is_manager, not_allowed, not_found, Change, ProjectError};
use super::command::GateCommand;
use super::event::ProjectEvent;
use super::model::*;
use crate::values::{self, MAX_TEXT};

impl Project {
    /// The events a [`GateCommand`] decides, or why it is refused.
    pub(super) fn decide_gates(
        &self,
        command: GateCommand,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        use GateCommand as C;
        match command {
            C::VerifyItem {
                stage,
                key,
                actor,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let item = self
                    .item(stage, &key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.evidence_required {
                    return Err(not_allowed(format!(
                        "'{}' needs evidence: it is verified by accepting an upload",
                        item.title
                    )));
                }
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}",
                        item.title,
                        item.status.as_str()
                    )));
                }
                Ok(vec![ProjectEvent::ChecklistItemVerified {
                    stage,
                    key,
                    upload_id: None,
                    by: actor.user_id,
                    at,
                }])
            }
            C::WaiveItem {
                stage,
                key,
                reason,
                actor,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                if !is_manager(&actor) {
                    return Err(ProjectError::Forbidden(
                        "only a manager may waive a checklist item".into(),
                    ));
                }
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                let item = self
                    .item(stage, &key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}",
                        item.title,
                        item.status.as_str()
                    )));
                }
                Ok(vec![ProjectEvent::ChecklistItemWaived {
                    stage,
                    key,
                    reason,
                    by: actor.user_id,
                    at,
                }])
            }
            C::RequestAdvance {
                request_id,
                actor,
                at,
            } => {
                self.ensure_open(Change::Gate)?;
                if self.stages_complete {
                    return Err(not_allowed("every stage of this project is complete"));
                }
                if self.pending_advance.is_some() {
                    return Err(ProjectError::Conflict(
                        "an advance is already waiting for approval".into(),
                    ));
                }
                let from = self
                    .current_stage
                    .ok_or_else(|| not_found("current stage"))?;
                let missing = self.missing_for_gate();
                if !missing.is_empty() {
                    return Err(ProjectError::GateNotMet {
                        stage: from.as_str(),
                        missing: missing.iter().map(|i| i.title.clone()).collect(),
                    });
                }
                let to = self
                    .stages
                    .iter()
                    .skip_while(|s| s.stage != from)
                    .nth(1)
                    .map(|s| s.stage);
                Ok(vec![ProjectEvent::StageAdvanceRequested {
                    request_id,
                    from,
                    to,
                    by: actor.user_id,
                    at,
                }])
            }
            C::DecideAdvance {
                approve,
                reason,
                actor,
                at,
            } => {
                let mut events = Vec::new();
                let pending = self
                    .pending_advance
                    .clone()
                    .ok_or_else(|| not_allowed("no stage advance is waiting for approval"))?;
                checker(
                    &actor,
                    pending.by,
                    "a stage advance",
                    "requested the advance",
                )?;
                if !approve {
                    let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                    events.push(ProjectEvent::StageAdvanceRefused {
                        request_id: pending.request_id,
                        reason,
                        by: actor.user_id,
                        at,
                    });
                    return Ok(events);
                }
                self.ensure_open(Change::Gate)?;
                let missing = self.missing_for_gate();
                if !missing.is_empty() {
                    return Err(ProjectError::GateNotMet {
                        stage: pending.from.as_str(),
                        missing: missing.iter().map(|i| i.title.clone()).collect(),
                    });
                }
                let reason =
                    values::optional_text("reason", Some(&reason), MAX_TEXT)?.unwrap_or_default();
                events.push(ProjectEvent::StageAdvanceApproved {
                    request_id: pending.request_id,
                    reason,
                    by: actor.user_id,
                    at,
                });
                events.push(ProjectEvent::StageAdvanced {
                    from: pending.from,
                    to: pending.to,
                    at,
                });
                let billable: Vec<_> = self
                    .milestones
                    .iter()
                    .filter(|m| m.stage == pending.from && !m.billable)
                    .map(|m| m.id)
                    .collect();
                for milestone_id in billable {
                    events.push(ProjectEvent::MilestoneBillable { milestone_id, at });
                }
                Ok(events)
            }
            C::ExtendStageClock { reason, actor, at } => {
                self.ensure_open(Change::Work)?;
                if !is_manager(&actor) {
                    return Err(ProjectError::Forbidden(
                        "only a manager may extend a stage clock".into(),
                    ));
                }
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                let key = self
                    .current_stage
                    .ok_or_else(|| not_found("current stage"))?;
                let stage = self.stage(key).ok_or_else(|| not_found("current stage"))?;
                let Some(days) = stage.sla_extension_days else {
                    return Err(not_allowed(format!(
                        "the {} stage's clock cannot be extended on this template",
                        key.as_str()
                    )));
                };
                if stage.extended_days.is_some() {
                    return Err(not_allowed(
                        "the clock of this stage was already extended once",
                    ));
                }
                Ok(vec![ProjectEvent::StageClockExtended {
                    stage: key,
                    days,
                    reason,
                    by: actor.user_id,
                    at,
                }])
            }
        }
    }
}
