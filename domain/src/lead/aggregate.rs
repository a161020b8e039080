//! Lead state and its rules. `handle` holds every business rule; `apply` only folds.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CaptureLeadInput, LeadCommand, LeadError, LeadEvent, LeadSource, LeadStage};
use crate::values::{self, EmailAddress, MAX_LINE, MAX_TEXT};

/// A note on a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadNote {
    /// Note id.
    pub id: Uuid,
    pub body: String,
    /// When it was written.
    pub at: DateTime<Utc>,
}

/// An activity on a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadActivity {
    /// Activity id.
    pub id: Uuid,
    pub kind: String,
    pub summary: String,
    /// Follow-up date.
    pub follow_up_on: Option<NaiveDate>,
    /// When it was logged.
    pub at: DateTime<Utc>,
}

/// The state of one lead, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Id (None until captured).
    pub id: Option<Uuid>,
    pub company: String,
    pub contact_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub source: Option<LeadSource>,
    pub service_interest: String,
    pub owner_id: Option<Uuid>,
    pub score: Option<i32>,
    pub stage: LeadStage,
    /// Reason it was lost.
    pub lost_reason: Option<String>,
    /// Notes, oldest first.
    pub notes: Vec<LeadNote>,
    /// Activities, oldest first.
    pub activities: Vec<LeadActivity>,
    /// Client created from this lead.
    pub client_id: Option<Uuid>,
    /// Project created at conversion.
    pub project_id: Option<Uuid>,
    /// Capture time.
    pub captured_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Lead {
    fn exists(&self) -> Result<(), LeadError> {
        if self.id.is_some() {
            Ok(())
        } else {
            Err(LeadError::NotFound)
        }
    }

    fn open(&self, to: LeadStage) -> Result<(), LeadError> {
        if self.stage.is_open() {
            Ok(())
        } else {
            Err(LeadError::InvalidTransition {
                from: self.stage,
                to,
                why: "the lead is closed",
            })
        }
    }

    fn captured(
        lead_id: Uuid,
        input: CaptureLeadInput,
        at: DateTime<Utc>,
    ) -> Result<LeadEvent, LeadError> {
        Ok(LeadEvent::LeadCaptured {
            lead_id,
            company: values::required_text("company", &input.company, MAX_LINE)?,
            contact_name: values::required_text("contactName", &input.contact_name, MAX_LINE)?,
            email: EmailAddress::parse("email", &input.email)?
                .as_str()
                .to_owned(),
            phone: match input.phone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(raw) => Some(values::phone("phone", raw)?),
            },
            source: input.source,
            service_interest: values::required_text(
                "serviceInterest",
                &input.service_interest,
                MAX_LINE,
            )?,
            owner_id: input.owner_id,
            at,
        })
    }

    /// Decides which events `command` produces, without changing `self`.
    pub fn decide(&self, command: LeadCommand) -> Result<Vec<LeadEvent>, LeadError> {
        let event = match command {
            LeadCommand::Capture { lead_id, input, at } => {
                if self.id.is_some() {
                    return Err(LeadError::AlreadyCaptured);
                }
                Self::captured(lead_id, input, at)?
            }
            LeadCommand::Assign { owner_id, at } => {
                self.exists()?;
                if self.owner_id == Some(owner_id) {
                    return Ok(vec![]);
                }
                LeadEvent::LeadAssigned { owner_id, at }
            }
            LeadCommand::Score { score, at } => {
                self.exists()?;
                if !(0..=100).contains(&score) {
                    return Err(
                        crate::ValidationError::new("score", "must be between 0 and 100").into(),
                    );
                }
                LeadEvent::LeadScored { score, at }
            }
            LeadCommand::MoveStage { to, at } => {
                self.exists()?;
                self.open(to)?;
                if !to.is_open() {
                    return Err(LeadError::InvalidTransition {
                        from: self.stage,
                        to,
                        why: "use markLeadWon or markLeadLost to close a lead",
                    });
                }
                if to == self.stage {
                    return Err(LeadError::InvalidTransition {
                        from: self.stage,
                        to,
                        why: "the lead is already in that stage",
                    });
                }
                LeadEvent::LeadStageChanged {
                    from: self.stage,
                    to,
                    reason: None,
                    at,
                }
            }
            LeadCommand::Win { at } => {
                self.exists()?;
                self.open(LeadStage::Won)?;
                if !matches!(self.stage, LeadStage::Proposal | LeadStage::Negotiation) {
                    return Err(LeadError::InvalidTransition {
                        from: self.stage,
                        to: LeadStage::Won,
                        why: "a lead is won only from proposal or negotiation",
                    });
                }
                LeadEvent::LeadStageChanged {
                    from: self.stage,
                    to: LeadStage::Won,
                    reason: None,
                    at,
                }
            }
            LeadCommand::Lose { reason, at } => {
                self.exists()?;
                self.open(LeadStage::Lost)?;
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                LeadEvent::LeadStageChanged {
                    from: self.stage,
                    to: LeadStage::Lost,
                    reason: Some(reason),
                    at,
                }
            }
            LeadCommand::AddNote { note_id, body, at } => {
                self.exists()?;
                LeadEvent::LeadNoteAdded {
                    note_id,
                    body: values::required_text("body", &body, MAX_TEXT)?,
                    at,
                }
            }
            LeadCommand::LogActivity { activity, at } => {
                self.exists()?;
                LeadEvent::LeadActivityLogged {
                    activity_id: activity.activity_id,
                    kind: values::required_text("kind", &activity.kind, 50)?,
                    summary: values::required_text("summary", &activity.summary, MAX_TEXT)?,
                    follow_up_on: activity.follow_up_on,
                    at,
                }
            }
            LeadCommand::Convert {
                client_id,
                project_id,
                at,
            } => {
                self.exists()?;
                if self.client_id.is_some() {
                    return Err(LeadError::AlreadyConverted);
                }
                if self.stage != LeadStage::Won {
                    return Err(LeadError::NotWon(self.stage));
                }
                LeadEvent::LeadConverted {
                    client_id,
                    project_id,
                    at,
                }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for Lead {
    /// Persisted identifier.
    const TYPE: &'static str = "Lead";
    type Command = LeadCommand;
    type Event = LeadEvent;
    type Error = LeadError;
    type Services = ();

    async fn handle(
        &mut self,
        command: LeadCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), LeadError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: LeadEvent) {
        match event {
            LeadEvent::LeadCaptured {
                lead_id,
                company,
                contact_name,
                email,
                phone,
                source,
                service_interest,
                owner_id,
                at,
            } => {
                *self = Lead {
                    id: Some(lead_id),
                    company,
                    contact_name,
                    email,
                    phone,
                    source: Some(source),
                    service_interest,
                    owner_id,
                    captured_at: Some(at),
                    updated_at: Some(at),
                    ..Lead::default()
                };
            }
            LeadEvent::LeadAssigned { owner_id, at } => {
                self.owner_id = Some(owner_id);
                self.updated_at = Some(at);
            }
            LeadEvent::LeadScored { score, at } => {
                self.score = Some(score);
                self.updated_at = Some(at);
            }
            LeadEvent::LeadStageChanged { to, reason, at, .. } => {
                self.stage = to;
                self.lost_reason = reason;
                self.updated_at = Some(at);
            }
            LeadEvent::LeadNoteAdded { note_id, body, at } => {
                self.notes.push(LeadNote {
                    id: note_id,
                    body,
                    at,
                });
                self.updated_at = Some(at);
            }
            LeadEvent::LeadActivityLogged {
                activity_id,
                kind,
                summary,
                follow_up_on,
                at,
            } => {
                self.activities.push(LeadActivity {
                    id: activity_id,
                    kind,
                    summary,
                    follow_up_on,
                    at,
                });
                self.updated_at = Some(at);
            }
            LeadEvent::LeadConverted {
                client_id,
                project_id,
                at,
            } => {
                self.client_id = Some(client_id);
                self.project_id = project_id;
                self.updated_at = Some(at);
            }
        }
    }
}
