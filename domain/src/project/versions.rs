//! A project and the versions of its template: it stays pinned to the version it started
//! with; a newer one published is noted for its owners, and moving to it is deliberate, a
//! change a manager proposes and another person approves.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::aggregate::{is_manager, not_allowed, Change, ProjectError};
use super::command::Actor;
use super::event::{ItemRef, ProjectEvent};
use super::model::*;
use crate::template::{validate_stages, StageSpec};

impl Project {
    fn template_version(&self) -> Result<u32, ProjectError> {
        self.template
            .as_ref()
            .map(|t| t.version)
            .ok_or_else(|| ProjectError::NotFound("project not found".into()))
    }

    /// A manager proposes moving to `version` (with its `stages`): held as a change.
    pub(super) fn propose_template_move(
        &self,
        version: u32,
        stages: Vec<StageSpec>,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        let from_version = self.template_version()?;
        self.ensure_open(Change::Work)?;
        if !is_manager(&actor) {
            return Err(ProjectError::Forbidden(
                "only a manager proposes moving a project to another template version".into(),
            ));
        }
        if version <= from_version {
            return Err(not_allowed(format!(
                "the project runs on version {from_version}: it moves only to a later version"
            )));
        }
        if self
            .proposals
            .iter()
            .any(|p| matches!(p.change, ProjectEvent::TemplateMoved { .. }))
        {
            return Err(ProjectError::Conflict(
                "a move to another template version is already waiting for a decision".into(),
            ));
        }
        validate_stages(&stages)?;
        let (added, removed) = self.item_changes(&stages);
        let moved = ProjectEvent::TemplateMoved {
            from_version,
            to_version: version,
            stages,
            added,
            removed,
            proposal: None,
            by: actor.user_id,
            at,
        };
        Ok(vec![ProjectEvent::ChangeProposed {
            proposal: self.proposals_made + 1,
            change: Box::new(moved),
            by: actor.user_id,
            at,
        }])
    }

    /// Whether an approved move from `from_version` still applies.
    pub(super) fn move_may_apply(&self, from_version: u32) -> Result<(), ProjectError> {
        self.ensure_open(Change::Work)?;
        let now = self.template_version()?;
        if now != from_version {
            return Err(not_allowed(format!(
                "the project moved to version {now} since this move was proposed"
            )));
        }
        Ok(())
    }

    /// Items of `stages` the project's checklists lack, and items they have that `stages`
    /// lacks.
    fn item_changes(&self, stages: &[StageSpec]) -> (Vec<ItemRef>, Vec<ItemRef>) {
        let added = stages
            .iter()
            .flat_map(|s| s.items.iter().map(move |i| (s.stage, &i.key)))
            .filter(|(stage, key)| self.item(*stage, key).is_none())
            .map(|(stage, key)| ItemRef {
                stage,
                key: key.clone(),
            })
            .collect();
        let removed = self
            .stages
            .iter()
            .flat_map(|s| s.items.iter().map(move |i| (s.stage, &i.key)))
            .filter(|(stage, key)| {
                !stages
                    .iter()
                    .any(|s| s.stage == *stage && s.items.iter().any(|i| &i.key == *key))
            })
            .map(|(stage, key)| ItemRef {
                stage,
                key: key.clone(),
            })
            .collect();
        (added, removed)
    }

    /// Notes a newer version for the project's owners, unless it is on it already or done.
    pub(super) fn note_newer_version(
        &self,
        version: u32,
        rule_change_id: Uuid,
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        let current = self.template_version()?;
        let Some(template) = &self.template else {
            return Ok(Vec::new());
        };
        if current >= version || self.status == ProjectStatus::Closed {
            return Ok(Vec::new());
        }
        Ok(vec![ProjectEvent::NewerTemplateVersionPublished {
            template_id: template.template_id,
            version,
            rule_change_id,
            notify,
            at,
        }])
    }

    /// Applies a move: the checklists become `stages`', each kept item with its status and
    /// reason, each stage with its times and granted extension.
    pub(super) fn move_to(&mut self, version: u32, stages: Vec<StageSpec>) {
        let before = std::mem::take(&mut self.stages);
        self.stages = stages
            .into_iter()
            .map(|spec| {
                let mut stage = ProjectStage::from(spec);
                if let Some(old) = before.iter().find(|o| o.stage == stage.stage) {
                    stage.started_at = old.started_at;
                    stage.completed_at = old.completed_at;
                    stage.extended_days = old.extended_days;
                    for item in &mut stage.items {
                        if let Some(kept) = old.items.iter().find(|i| i.key == item.key) {
                            item.status = kept.status;
                            item.reason = kept.reason.clone();
                        }
                    }
                }
                stage
            })
            .collect();
        if let Some(template) = &mut self.template {
            template.version = version;
        }
    }
}
