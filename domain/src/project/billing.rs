//! Billing milestones, the licence, and its expiry alerts.

use super::aggregate::{not_found, Change, ProjectError};
use super::command::BillingCommand;
use super::event::ProjectEvent;
use super::model::*;
use crate::values::{self, MAX_LINE};
use crate::ValidationError;

/// Expiry alerts are raised this many days ahead, furthest first.
pub const ALERT_DAYS: [u32; 3] = [90, 60, 30];

/// The earliest alert's lead: a licence expiring further ahead raises nothing yet.
pub const ALERT_HORIZON_DAYS: u32 = ALERT_DAYS[0];

impl Project {
    /// The events a [`BillingCommand`] decides, or why it is refused.
    pub(super) fn decide_billing(
        &self,
        command: BillingCommand,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        use BillingCommand as C;
        match command {
            C::AddMilestone {
                milestone_id,
                stage,
                title,
                amount_minor,
                currency,
                at,
            } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Work)?;
                let title = values::required_text("title", &title, MAX_LINE)?;
                if amount_minor <= 0 {
                    return Err(ValidationError::new("amount", "must be above zero").into());
                }
                let currency = values::currency("currency", &currency)?;
                let stage_state = self.stage(stage).ok_or_else(|| not_found("stage"))?;
                let completed = stage_state.completed_at.is_some();
                events.push(ProjectEvent::MilestoneAdded {
                    milestone_id,
                    stage,
                    title,
                    amount_minor,
                    currency,
                    at,
                });
                if completed {
                    events.push(ProjectEvent::MilestoneBillable { milestone_id, at });
                }
                Ok(events)
            }
            C::RecordLicence {
                number,
                issued_on,
                expires_on,
                actor,
                at,
            } => {
                self.ensure_open(Change::Record)?;
                self.licence_may_be_recorded()?;
                if self
                    .proposals
                    .iter()
                    .any(|p| matches!(p.change, ProjectEvent::LicenceRecorded { .. }))
                {
                    return Err(ProjectError::Conflict(
                        "a licence is already proposed and waiting for approval".into(),
                    ));
                }
                let number = values::required_text("number", &number, 100)?;
                if expires_on <= issued_on {
                    return Err(
                        ValidationError::new("expiresOn", "must be after the issue date").into(),
                    );
                }
                let change = ProjectEvent::LicenceRecorded {
                    number,
                    issued_on,
                    expires_on,
                    by: actor.user_id,
                    at,
                    proposal: None,
                };
                Ok(vec![self.held_for_approval(change, actor, at)])
            }
            C::RaiseExpiryAlerts { today, at } => {
                let mut events = Vec::new();
                let Some(licence) = &self.licence else {
                    return Ok(events);
                };
                let expires_on = licence.expires_on;
                if today > expires_on {
                    return Ok(events);
                }
                let days_left = (expires_on - today).num_days();
                // The most urgent threshold reached; an alert at it or nearer covers it.
                let due = ALERT_DAYS
                    .iter()
                    .copied()
                    .filter(|&t| days_left <= i64::from(t))
                    .min();
                if let Some(days_ahead) = due {
                    if !self
                        .alerts_raised
                        .iter()
                        .any(|&raised| raised <= days_ahead)
                    {
                        events.push(ProjectEvent::LicenceExpiryAlertRaised {
                            days_ahead,
                            expires_on,
                            at,
                        });
                    }
                }
                Ok(events)
            }
        }
    }
}
