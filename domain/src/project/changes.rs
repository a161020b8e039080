//! The regulator liaison log, and the changes a project holds for a second person's
//! decision: record changes while it is closed pending updates, and moves to a newer
//! version of its template.

use chrono::{DateTime, Utc};

use super::aggregate::{checker, not_allowed, Change, ProjectError};
use super::command::{Actor, ChangeCommand};
use super::event::ProjectEvent;
use super::model::*;
use crate::template::StageKey;
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::ValidationError;

impl Project {
    /// The events a [`ChangeCommand`] decides, or why it is refused.
    pub(super) fn decide_changes(
        &self,
        command: ChangeCommand,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        use ChangeCommand as C;
        match command {
            C::AddLiaisonEntry { entry, actor, at } => {
                self.ensure_open(Change::Record)?;
                let regulator = values::required_text("regulator", &entry.regulator, 50)?;
                let summary = values::required_text("summary", &entry.summary, MAX_TEXT)?;
                if entry.attachments.len() > 20 {
                    return Err(
                        ValidationError::new("attachments", "at most 20 attachments").into(),
                    );
                }
                let attachments = entry
                    .attachments
                    .iter()
                    .map(|a| values::required_text("attachments", a, MAX_LINE))
                    .collect::<Result<Vec<_>, _>>()?;
                if entry.date > at.date_naive() {
                    return Err(ValidationError::new("date", "must not be in the future").into());
                }
                let change = ProjectEvent::LiaisonEntryAdded {
                    entry_id: entry.entry_id,
                    date: entry.date,
                    regulator: regulator.to_uppercase(),
                    direction: entry.direction,
                    summary,
                    attachments,
                    by: actor.user_id,
                    at,
                    proposal: None,
                };
                Ok(vec![self.held_for_approval(change, actor, at)])
            }
            C::ProposeTemplateMove {
                version,
                stages,
                actor,
                at,
            } => self.propose_template_move(version, stages, actor, at),
            C::DecideChange {
                proposal,
                approve,
                reason,
                actor,
                at,
            } => {
                let mut events = Vec::new();
                let pending = self
                    .proposals
                    .iter()
                    .find(|p| p.number == proposal)
                    .cloned()
                    .ok_or_else(|| {
                        ProjectError::NotFound(format!(
                            "no change proposal {proposal} is waiting for a decision on this project"
                        ))
                    })?;
                checker(
                    &actor,
                    pending.by,
                    "a proposed change",
                    "proposed the change",
                )?;
                if !approve {
                    let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                    events.push(ProjectEvent::ChangeRefused {
                        proposal,
                        reason,
                        by: actor.user_id,
                        at,
                    });
                    return Ok(events);
                }
                self.ensure_open(Change::Record)?;
                let mut change = pending.change;
                match &mut change {
                    ProjectEvent::LiaisonEntryAdded { proposal: p, .. } => *p = Some(proposal),
                    ProjectEvent::LicenceRecorded { proposal: p, .. } => {
                        self.licence_may_be_recorded()?;
                        *p = Some(proposal);
                    }
                    ProjectEvent::TemplateMoved {
                        from_version,
                        proposal: p,
                        ..
                    } => {
                        self.move_may_apply(*from_version)?;
                        *p = Some(proposal);
                    }
                    _ => {
                        return Err(not_allowed("this kind of change cannot be approved"));
                    }
                }
                let reason =
                    values::optional_text("reason", Some(&reason), MAX_TEXT)?.unwrap_or_default();
                events.push(ProjectEvent::ChangeApproved {
                    proposal,
                    reason,
                    by: actor.user_id,
                    at,
                });
                events.push(change);
                Ok(events)
            }
        }
    }

    /// A record change (liaison entry, licence) as it is appended: held for approval while
    /// the project is closed pending updates.
    pub(super) fn held_for_approval(
        &self,
        change: ProjectEvent,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> ProjectEvent {
        if self.status == ProjectStatus::ClosedPendingUpdates {
            ProjectEvent::ChangeProposed {
                proposal: self.proposals_made + 1,
                change: Box::new(change),
                by: actor.user_id,
                at,
            }
        } else {
            change
        }
    }

    pub(super) fn licence_may_be_recorded(&self) -> Result<(), ProjectError> {
        if self.current_stage != Some(StageKey::Issue) {
            return Err(not_allowed("the licence is recorded at the Issue stage"));
        }
        if self.licence.is_some() {
            return Err(ProjectError::Conflict(
                "the licence is already recorded".into(),
            ));
        }
        Ok(())
    }
}
