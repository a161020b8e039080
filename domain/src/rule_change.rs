//! A rule change: a draft of the next version of one workflow template, carried through a
//! four-eyes review into a published template version.
//!
//! Its author drafts and revises the whole definition (the stages with their clocks and
//! checklists) against the version it started from, and submits it; a reviewer or an
//! admin who is not the author approves it or returns it with comments (a manager never
//! approves or publishes); once approved, a reviewer or admin who is not the author
//! publishes it with an effective date as the version after its base, refused when the
//! template has moved past that base meanwhile. Published, it never changes.
//!
//! `RuleChangePublished` is the decision; the `rule-publication` reactor carries it out
//! (the template version, the guidance actioned, the impacted projects' owners told). The
//! template's own stream refuses a second version under the same number, and the bus
//! serializes publications per template, so two changes drafted against one base cannot
//! both be published.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::template::{validate_stages, StageSpec};
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::Role;

/// Why a command was refused.
pub type RuleChangeError = crate::Refused;

/// Where a rule change stands. The serialized names are persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleChangeStatus {
    Draft,
    Submitted,
    /// Sent back with comments: its author revises it and submits it again.
    Returned,
    Approved,
    Published,
}

impl RuleChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleChangeStatus::Draft => "draft",
            RuleChangeStatus::Submitted => "submitted",
            RuleChangeStatus::Returned => "returned",
            RuleChangeStatus::Approved => "approved",
            RuleChangeStatus::Published => "published",
        }
    }
}

/// Who acts on a rule change, with their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub user_id: Uuid,
    pub role: Role,
}

/// A rule change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleChange {
    pub id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    /// The published version it was drafted against.
    pub base_version: u32,
    pub guidance_id: Option<Uuid>,
    pub author: Option<Uuid>,
    pub status: Option<RuleChangeStatus>,
    pub stages: Vec<StageSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleChangeCommand {
    Draft {
        rule_change_id: Uuid,
        template_id: Uuid,
        base_version: u32,
        guidance_id: Option<Uuid>,
        title: String,
        stages: Vec<StageSpec>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Revise {
        stages: Vec<StageSpec>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// `changes`: how many differences the draft has from its base (`template::diff`), a
    /// fact the caller computes.
    Submit {
        changes: usize,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Approve {
        by: Person,
        comment: Option<String>,
        at: DateTime<Utc>,
    },
    Return {
        by: Person,
        comments: String,
        at: DateTime<Utc>,
    },
    /// `current_version`: the template's latest published version now, a fact the caller
    /// looks up.
    Publish {
        by: Person,
        effective_on: NaiveDate,
        current_version: u32,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RuleChangeEvent {
    RuleChangeDrafted {
        rule_change_id: Uuid,
        template_id: Uuid,
        base_version: u32,
        guidance_id: Option<Uuid>,
        title: String,
        stages: Vec<StageSpec>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    RuleChangeRevised {
        stages: Vec<StageSpec>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    RuleChangeSubmitted {
        by: Uuid,
        at: DateTime<Utc>,
    },
    RuleChangeApproved {
        comment: Option<String>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    RuleChangeReturned {
        comments: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    RuleChangePublished {
        template_id: Uuid,
        version: u32,
        stages: Vec<StageSpec>,
        effective_on: NaiveDate,
        guidance_id: Option<Uuid>,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for RuleChangeEvent {
    fn event_type(&self) -> String {
        use RuleChangeEvent as E;
        match self {
            E::RuleChangeDrafted { .. } => "RuleChangeDrafted",
            E::RuleChangeRevised { .. } => "RuleChangeRevised",
            E::RuleChangeSubmitted { .. } => "RuleChangeSubmitted",
            E::RuleChangeApproved { .. } => "RuleChangeApproved",
            E::RuleChangeReturned { .. } => "RuleChangeReturned",
            E::RuleChangePublished { .. } => "RuleChangePublished",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for RuleChangeEvent {}

fn not_allowed(message: impl Into<String>) -> RuleChangeError {
    RuleChangeError::NotAllowed(message.into())
}

impl RuleChange {
    fn status(&self) -> Result<RuleChangeStatus, RuleChangeError> {
        self.status
            .ok_or_else(|| RuleChangeError::NotFound("rule change not found".into()))
    }

    /// The author, on a draft or a returned change.
    fn authoring(&self, by: Uuid) -> Result<(), RuleChangeError> {
        let status = self.status()?;
        if self.author != Some(by) {
            return Err(RuleChangeError::Forbidden(
                "only its author changes or submits a rule change".into(),
            ));
        }
        if !matches!(status, RuleChangeStatus::Draft | RuleChangeStatus::Returned) {
            return Err(not_allowed(format!(
                "this rule change is {}: only drafts and returned changes are edited or submitted",
                status.as_str()
            )));
        }
        Ok(())
    }

    /// The four eyes: a reviewer or an admin who is not the author.
    fn second_pair(&self, by: &Person) -> Result<(), RuleChangeError> {
        if self.author == Some(by.user_id) {
            return Err(RuleChangeError::Forbidden(
                "the author of a rule change never approves or publishes it".into(),
            ));
        }
        if !matches!(by.role, Role::Reviewer | Role::Admin) {
            return Err(RuleChangeError::Forbidden(
                "rule changes are approved and published by a reviewer or an admin".into(),
            ));
        }
        Ok(())
    }

    fn in_state(&self, wanted: RuleChangeStatus, action: &str) -> Result<(), RuleChangeError> {
        let status = self.status()?;
        if status == RuleChangeStatus::Published {
            return Err(not_allowed(
                "this rule change is published: it never changes",
            ));
        }
        if status != wanted {
            return Err(not_allowed(format!(
                "only a {} rule change is {action} (this one is {})",
                wanted.as_str(),
                status.as_str()
            )));
        }
        Ok(())
    }

    pub fn decide(
        &self,
        command: RuleChangeCommand,
    ) -> Result<Vec<RuleChangeEvent>, RuleChangeError> {
        use RuleChangeCommand as C;
        use RuleChangeEvent as E;
        let event = match command {
            C::Draft {
                rule_change_id,
                template_id,
                base_version,
                guidance_id,
                title,
                stages,
                by,
                at,
            } => {
                if self.status.is_some() {
                    return Err(RuleChangeError::Conflict(
                        "this rule change exists already".into(),
                    ));
                }
                validate_stages(&stages)?;
                E::RuleChangeDrafted {
                    rule_change_id,
                    template_id,
                    base_version,
                    guidance_id,
                    title: values::required_text("title", &title, MAX_LINE)?,
                    stages,
                    by,
                    at,
                }
            }
            C::Revise { stages, by, at } => {
                self.authoring(by)?;
                validate_stages(&stages)?;
                if stages == self.stages {
                    return Ok(Vec::new());
                }
                E::RuleChangeRevised { stages, by, at }
            }
            C::Submit { changes, by, at } => {
                self.authoring(by)?;
                if changes == 0 {
                    return Err(not_allowed(
                        "this draft changes nothing in the version it started from",
                    ));
                }
                E::RuleChangeSubmitted { by, at }
            }
            C::Approve { by, comment, at } => {
                self.in_state(RuleChangeStatus::Submitted, "approved")?;
                self.second_pair(&by)?;
                E::RuleChangeApproved {
                    comment: values::optional_text("comment", comment.as_deref(), MAX_TEXT)?,
                    by: by.user_id,
                    at,
                }
            }
            C::Return { by, comments, at } => {
                self.in_state(RuleChangeStatus::Submitted, "returned")?;
                self.second_pair(&by)?;
                E::RuleChangeReturned {
                    comments: values::required_text("comments", &comments, MAX_TEXT)?,
                    by: by.user_id,
                    at,
                }
            }
            C::Publish {
                by,
                effective_on,
                current_version,
                at,
            } => {
                self.in_state(RuleChangeStatus::Approved, "published")?;
                self.second_pair(&by)?;
                if current_version != self.base_version {
                    return Err(RuleChangeError::Conflict(format!(
                        "the template moved on to version {current_version} since this change was drafted against version {}: draft it again",
                        self.base_version
                    )));
                }
                E::RuleChangePublished {
                    template_id: self.template_id.unwrap_or_default(),
                    version: self.base_version.saturating_add(1),
                    stages: self.stages.clone(),
                    effective_on,
                    guidance_id: self.guidance_id,
                    by: by.user_id,
                    at,
                }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for RuleChange {
    /// Persisted identifier.
    const TYPE: &'static str = "RuleChange";
    type Command = RuleChangeCommand;
    type Event = RuleChangeEvent;
    type Error = RuleChangeError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RuleChangeCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RuleChangeError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: RuleChangeEvent) {
        use RuleChangeEvent as E;
        match event {
            E::RuleChangeDrafted {
                rule_change_id,
                template_id,
                base_version,
                guidance_id,
                stages,
                by,
                ..
            } => {
                *self = RuleChange {
                    id: Some(rule_change_id),
                    template_id: Some(template_id),
                    base_version,
                    guidance_id,
                    author: Some(by),
                    status: Some(RuleChangeStatus::Draft),
                    stages,
                };
            }
            E::RuleChangeRevised { stages, .. } => self.stages = stages,
            E::RuleChangeSubmitted { .. } => self.status = Some(RuleChangeStatus::Submitted),
            E::RuleChangeApproved { .. } => self.status = Some(RuleChangeStatus::Approved),
            E::RuleChangeReturned { .. } => self.status = Some(RuleChangeStatus::Returned),
            E::RuleChangePublished { .. } => self.status = Some(RuleChangeStatus::Published),
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod stored {
    use super::RuleChangeEvent;

    #[test]
    fn stored_rule_change_events_still_deserialise() {
        let by = r#""by":"00000000-0000-0000-0000-000000000001","at":"2026-01-05T10:00:00Z""#;
        let samples = [
            format!(
                r#"{{"RuleChangeDrafted":{{"rule_change_id":"00000000-0000-0000-0000-000000000002","template_id":"00000000-0000-0000-0000-000000000003","base_version":1,"guidance_id":null,"title":"t","stages":[],{by}}}}}"#
            ),
            format!(r#"{{"RuleChangeRevised":{{"stages":[],{by}}}}}"#),
            format!(r#"{{"RuleChangeSubmitted":{{{by}}}}}"#),
            format!(r#"{{"RuleChangeApproved":{{"comment":null,{by}}}}}"#),
            format!(r#"{{"RuleChangeReturned":{{"comments":"c",{by}}}}}"#),
            format!(
                r#"{{"RuleChangePublished":{{"template_id":"00000000-0000-0000-0000-000000000003","version":2,"stages":[],"effective_on":"2027-04-01","guidance_id":null,{by}}}}}"#
            ),
        ];
        for sample in &samples {
            let parsed: Result<RuleChangeEvent, _> = serde_json::from_str(sample);
            assert!(parsed.is_ok(), "{sample}: {parsed:?}");
        }
    }
}
