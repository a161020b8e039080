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
mod tests {
    use super::*;
    use crate::template::seeded_templates;

    const AUTHOR: Uuid = Uuid::from_u128(1);
    const REVIEWER: Person = Person {
        user_id: Uuid::from_u128(2),
        role: Role::Reviewer,
    };

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn stages(optional_first: bool) -> Vec<StageSpec> {
        let mut stages = seeded_templates()
            .into_iter()
            .next()
            .map(|t| t.stages)
            .unwrap_or_default();
        if let Some(item) = stages.get_mut(2).and_then(|s| s.items.first_mut()) {
            item.mandatory = !optional_first;
        }
        stages
    }

    fn when(
        c: &mut RuleChange,
        command: RuleChangeCommand,
    ) -> Result<Vec<RuleChangeEvent>, RuleChangeError> {
        let events = c.decide(command)?;
        for e in events.clone() {
            c.apply(e);
        }
        Ok(events)
    }

    fn drafted() -> RuleChange {
        let mut change = RuleChange::default();
        let draft = RuleChangeCommand::Draft {
            rule_change_id: Uuid::from_u128(9),
            template_id: Uuid::from_u128(8),
            base_version: 1,
            guidance_id: None,
            title: "Capital plan at filing".into(),
            stages: stages(true),
            by: AUTHOR,
            at: at(),
        };
        assert!(when(&mut change, draft).is_ok());
        change
    }

    fn submit(c: &mut RuleChange) -> Result<Vec<RuleChangeEvent>, RuleChangeError> {
        when(
            c,
            RuleChangeCommand::Submit {
                changes: 1,
                by: AUTHOR,
                at: at(),
            },
        )
    }

    fn publish(by: Person, current_version: u32) -> RuleChangeCommand {
        RuleChangeCommand::Publish {
            by,
            effective_on: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
            current_version,
            at: at(),
        }
    }

    #[test]
    fn only_the_author_edits_and_a_change_of_nothing_is_not_submitted() {
        let mut change = drafted();
        let other = RuleChangeCommand::Revise {
            stages: stages(false),
            by: REVIEWER.user_id,
            at: at(),
        };
        assert!(matches!(
            change.decide(other),
            Err(RuleChangeError::Forbidden(_))
        ));
        let nothing = RuleChangeCommand::Submit {
            changes: 0,
            by: AUTHOR,
            at: at(),
        };
        assert!(matches!(
            change.decide(nothing),
            Err(RuleChangeError::NotAllowed(_))
        ));
        let broken = RuleChangeCommand::Revise {
            stages: Vec::new(),
            by: AUTHOR,
            at: at(),
        };
        assert!(matches!(
            change.decide(broken),
            Err(RuleChangeError::Invalid(_))
        ));
        assert!(submit(&mut change).is_ok());
        let late = RuleChangeCommand::Revise {
            stages: stages(false),
            by: AUTHOR,
            at: at(),
        };
        assert!(matches!(
            change.decide(late),
            Err(RuleChangeError::NotAllowed(_))
        ));
    }

    #[test]
    fn the_author_never_approves_and_a_manager_never_approves_or_publishes() {
        let mut change = drafted();
        submit(&mut change).ok();
        let approve = |by| RuleChangeCommand::Approve {
            by,
            comment: None,
            at: at(),
        };
        let author = Person {
            user_id: AUTHOR,
            role: Role::Reviewer,
        };
        let manager = Person {
            user_id: Uuid::from_u128(3),
            role: Role::Manager,
        };
        assert!(matches!(
            change.decide(approve(author)),
            Err(RuleChangeError::Forbidden(_))
        ));
        assert!(matches!(
            change.decide(approve(manager)),
            Err(RuleChangeError::Forbidden(_))
        ));
        assert!(matches!(
            change.decide(publish(REVIEWER, 1)),
            Err(RuleChangeError::NotAllowed(_))
        ));
        assert!(when(&mut change, approve(REVIEWER)).is_ok());
        assert!(matches!(
            change.decide(publish(manager, 1)),
            Err(RuleChangeError::Forbidden(_))
        ));
        assert!(matches!(
            change.decide(publish(author, 1)),
            Err(RuleChangeError::Forbidden(_))
        ));
    }

    #[test]
    fn returned_changes_are_revised_and_submitted_again() {
        let mut change = drafted();
        submit(&mut change).ok();
        let blank = RuleChangeCommand::Return {
            by: REVIEWER,
            comments: " ".into(),
            at: at(),
        };
        assert!(matches!(
            change.decide(blank),
            Err(RuleChangeError::Invalid(_))
        ));
        let back = RuleChangeCommand::Return {
            by: REVIEWER,
            comments: "name the evidence".into(),
            at: at(),
        };
        assert!(when(&mut change, back).is_ok());
        let revise = RuleChangeCommand::Revise {
            stages: stages(false),
            by: AUTHOR,
            at: at(),
        };
        assert!(when(&mut change, revise).is_ok());
        assert!(submit(&mut change).is_ok());
        assert_eq!(change.status, Some(RuleChangeStatus::Submitted));
    }

    #[test]
    fn published_once_as_the_next_version_and_never_again() {
        let mut change = drafted();
        submit(&mut change).ok();
        when(
            &mut change,
            RuleChangeCommand::Approve {
                by: REVIEWER,
                comment: None,
                at: at(),
            },
        )
        .ok();
        assert!(matches!(
            change.decide(publish(REVIEWER, 2)),
            Err(RuleChangeError::Conflict(_))
        ));
        let admin = Person {
            user_id: Uuid::from_u128(4),
            role: Role::Admin,
        };
        let events = when(&mut change, publish(admin, 1)).unwrap_or_default();
        assert!(matches!(
            events.as_slice(),
            [RuleChangeEvent::RuleChangePublished { version: 2, .. }]
        ));
        assert!(matches!(
            change.decide(publish(admin, 1)),
            Err(RuleChangeError::NotAllowed(_))
        ));
        let revise = RuleChangeCommand::Revise {
            stages: stages(false),
            by: AUTHOR,
            at: at(),
        };
        assert!(matches!(
            change.decide(revise),
            Err(RuleChangeError::NotAllowed(_))
        ));
    }
}

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
