//! One entry from the platform: received (mapped or not), mapped by a reviewer, discarded,
//! or refused by the timesheet it was logged into.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::IntegrationError;
use crate::timesheet::{WorkRef, DAY_MINUTES};
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::ValidationError;

/// An external entry as the platform sent it, once its shape is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalInput {
    pub external_id: String,
    /// The platform's user: an email or its own id.
    pub user_ref: String,
    /// The platform's reference of the matter (a project or service item id, or its own).
    pub matter_ref: String,
    pub date: NaiveDate,
    pub minutes: i32,
    pub description: String,
    pub billable: bool,
}

impl ExternalInput {
    /// Checks and trims what the platform sent.
    pub fn parse(raw: ExternalInput) -> Result<ExternalInput, ValidationError> {
        if !(1..=DAY_MINUTES).contains(&raw.minutes) {
            return Err(ValidationError::new(
                "minutes",
                "must be between 1 and 1440",
            ));
        }
        Ok(ExternalInput {
            external_id: values::required_text("externalId", &raw.external_id, MAX_LINE)?,
            user_ref: values::required_text("user", &raw.user_ref, MAX_LINE)?,
            matter_ref: values::required_text("matter", &raw.matter_ref, MAX_LINE)?,
            description: values::required_text("description", &raw.description, MAX_TEXT)?,
            ..raw
        })
    }
}

/// Whom and what an external entry maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub user_id: Uuid,
    pub work: WorkRef,
}

/// Where an external entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalStatus {
    /// Mapped: it is (or is about to be) the user's draft entry.
    Mapped,
    /// Waiting in the review queue: no known user or matter.
    Unmapped,
    /// Mapped, but the timesheet refused it (the daily limit, a closed month): in the review
    /// queue with the reason.
    Refused,
    Discarded,
}

impl ExternalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalStatus::Mapped => "mapped",
            ExternalStatus::Unmapped => "unmapped",
            ExternalStatus::Refused => "refused",
            ExternalStatus::Discarded => "discarded",
        }
    }

    /// Whether a reviewer still has to decide it.
    pub fn in_review(self) -> bool {
        matches!(self, ExternalStatus::Unmapped | ExternalStatus::Refused)
    }
}

/// One entry from the platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternalEntry {
    pub id: Option<Uuid>,
    pub input: Option<ExternalInput>,
    pub status: Option<ExternalStatus>,
    pub mapping: Option<Mapping>,
    /// Why it is unmapped, refused or discarded.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExternalEntryCommand {
    /// Record an arrival, mapped or not (with why not). Refused as a duplicate when the
    /// entry was received before: the caller answers from the stream.
    Receive {
        external_entry_id: Uuid,
        input: ExternalInput,
        key_id: Option<Uuid>,
        mapping: Result<Mapping, String>,
        at: DateTime<Utc>,
    },
    /// A reviewer maps an entry in review.
    Map {
        mapping: Mapping,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Discard {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// The timesheet refused the mapped entry.
    Refuse { reason: String, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExternalEntryEvent {
    ExternalEntryReceived {
        external_entry_id: Uuid,
        input: ExternalInput,
        /// The API key it came with (none when an admin sent it).
        key_id: Option<Uuid>,
        mapping: Option<Mapping>,
        /// Why it did not map.
        unmapped: Option<String>,
        at: DateTime<Utc>,
    },
    ExternalEntryMapped {
        mapping: Mapping,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ExternalEntryDiscarded {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ExternalEntryRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for ExternalEntryEvent {
    fn event_type(&self) -> String {
        use ExternalEntryEvent as E;
        match self {
            E::ExternalEntryReceived { .. } => "ExternalEntryReceived",
            E::ExternalEntryMapped { .. } => "ExternalEntryMapped",
            E::ExternalEntryDiscarded { .. } => "ExternalEntryDiscarded",
            E::ExternalEntryRefused { .. } => "ExternalEntryRefused",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for ExternalEntryEvent {}

impl ExternalEntry {
    fn in_review(&self) -> Result<(), IntegrationError> {
        match self.status {
            None => Err(IntegrationError::NotFound(
                "external time entry not found".into(),
            )),
            Some(status) if status.in_review() => Ok(()),
            Some(status) => Err(IntegrationError::NotAllowed(format!(
                "this entry is {}: only unmapped and refused entries are reviewed",
                status.as_str()
            ))),
        }
    }

    pub fn decide(
        &self,
        command: ExternalEntryCommand,
    ) -> Result<Vec<ExternalEntryEvent>, IntegrationError> {
        use ExternalEntryCommand as C;
        use ExternalEntryEvent as E;
        let event = match command {
            C::Receive {
                external_entry_id,
                input,
                key_id,
                mapping,
                at,
            } => {
                if self.status.is_some() {
                    return Err(IntegrationError::Conflict(
                        "this external id was received before".into(),
                    ));
                }
                let input = ExternalInput::parse(input)?;
                let (mapping, unmapped) = match mapping {
                    Ok(mapping) => (Some(mapping), None),
                    Err(why) => (None, Some(why)),
                };
                E::ExternalEntryReceived {
                    external_entry_id,
                    input,
                    key_id,
                    mapping,
                    unmapped,
                    at,
                }
            }
            C::Map { mapping, by, at } => {
                self.in_review()?;
                E::ExternalEntryMapped { mapping, by, at }
            }
            C::Discard { reason, by, at } => {
                self.in_review()?;
                E::ExternalEntryDiscarded {
                    reason: values::required_text("reason", &reason, MAX_TEXT)?,
                    by,
                    at,
                }
            }
            C::Refuse { reason, at } => {
                if self.status != Some(ExternalStatus::Mapped) {
                    return Ok(Vec::new());
                }
                E::ExternalEntryRefused { reason, at }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for ExternalEntry {
    /// Persisted identifier.
    const TYPE: &'static str = "ExternalEntry";
    type Command = ExternalEntryCommand;
    type Event = ExternalEntryEvent;
    type Error = IntegrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ExternalEntryCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), IntegrationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ExternalEntryEvent) {
        use ExternalEntryEvent as E;
        match event {
            E::ExternalEntryReceived {
                external_entry_id,
                input,
                mapping,
                unmapped,
                ..
            } => {
                self.id = Some(external_entry_id);
                self.input = Some(input);
                self.status = Some(if mapping.is_some() {
                    ExternalStatus::Mapped
                } else {
                    ExternalStatus::Unmapped
                });
                self.mapping = mapping;
                self.reason = unmapped;
            }
            E::ExternalEntryMapped { mapping, .. } => {
                self.status = Some(ExternalStatus::Mapped);
                self.mapping = Some(mapping);
                self.reason = None;
            }
            E::ExternalEntryDiscarded { reason, .. } => {
                self.status = Some(ExternalStatus::Discarded);
                self.reason = Some(reason);
            }
            E::ExternalEntryRefused { reason, .. } => {
                self.status = Some(ExternalStatus::Refused);
                self.reason = Some(reason);
            }
        }
    }
}
