//! The regulatory library: guidance a regulator issued (a circular, a master direction), and
//! the firm's assessment of what it changes in the workflow templates.
//!
//! One stream per guidance item, named by its regulator and circular reference
//! ([`stream_id`]), so a circular is recorded once per regulator: the store's
//! one-stream-per-id is the uniqueness rule. Its status is New until assessed; an
//! assessment (re-done as often as needed, each an event) names the templates, stages and
//! checklist items it touches, a severity and a narrative; "no action" closes it with a
//! reason. It is Actioned when a rule change linked to it is published as a template
//! version (the `rule-publication` reactor says so); another template's change may action
//! it again, a closed item never. Its source documents (the circular itself, annexures) are
//! attached through the file store, each content (SHA-256) once.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::project::FileMeta;
use crate::template::StageKey;
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::ValidationError;

/// Most templates one assessment names.
pub const MAX_IMPACTS: usize = 50;

/// A regulator's code as stored: trimmed, upper case (`RBI`, `SEBI`, `IRDAI`, ...).
pub fn regulator_code(raw: &str) -> Result<String, ValidationError> {
    let code = values::required_text("regulator", raw, 20)?.to_uppercase();
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ValidationError::new(
            "regulator",
            "must be letters, digits or '-' (for example RBI, SEBI, IRDAI)",
        ));
    }
    Ok(code)
}

/// The stream of `regulator`'s circular `reference` (compared without case or spacing).
pub fn stream_id(regulator: &str, reference: &str) -> Uuid {
    let reference: String = reference
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("zippcrm-guidance:{}:{reference}", regulator.to_uppercase()).as_bytes(),
    )
}

/// Why a command was refused.
pub type GuidanceError = crate::Refused;

/// Where a guidance item stands. The serialized names are persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuidanceStatus {
    New,
    Assessed,
    Actioned,
    NoAction,
}

impl GuidanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GuidanceStatus::New => "new",
            GuidanceStatus::Assessed => "assessed",
            GuidanceStatus::Actioned => "actioned",
            GuidanceStatus::NoAction => "no_action",
        }
    }
}

/// How much an item changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What an assessment says one template is touched in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateImpact {
    pub template_id: Uuid,
    /// Stages touched (all of the template when empty).
    pub stages: Vec<StageKey>,
    /// Checklist item keys touched.
    pub items: Vec<String>,
}

/// What the person recording a guidance item types.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidanceInput {
    pub regulator: String,
    pub circular_ref: String,
    pub title: String,
    pub issued_on: NaiveDate,
    pub effective_on: Option<NaiveDate>,
    pub summary: String,
    /// Template families it touches (RBI-NBFC, SEBI-RA, ...).
    pub families: Vec<String>,
}

/// A guidance item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    pub id: Option<Uuid>,
    pub status: Option<GuidanceStatus>,
    pub issued_on: Option<NaiveDate>,
    pub assessments: u32,
    /// The published rule changes that carried it into template versions.
    #[serde(default)]
    pub actioned_by: Vec<Uuid>,
    /// SHA-256 of each source document attached.
    #[serde(default)]
    pub documents: Vec<String>,
}

/// Most source documents one guidance item holds.
pub const MAX_DOCUMENTS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum GuidanceCommand {
    Record {
        guidance_id: Uuid,
        guidance: GuidanceInput,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Assess {
        impacts: Vec<TemplateImpact>,
        severity: Severity,
        narrative: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// Closes the item: it changes nothing the firm runs.
    NoAction {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// Attach a source document, stored already (its bytes never enter the log).
    AttachDocument {
        document_id: Uuid,
        file: FileMeta,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A rule change linked to it was published as `version` of `template_id`.
    Action {
        rule_change_id: Uuid,
        template_id: Uuid,
        version: u32,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GuidanceEvent {
    GuidanceRecorded {
        guidance_id: Uuid,
        regulator: String,
        circular_ref: String,
        title: String,
        issued_on: NaiveDate,
        effective_on: Option<NaiveDate>,
        summary: String,
        families: Vec<String>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    GuidanceAssessed {
        impacts: Vec<TemplateImpact>,
        severity: Severity,
        narrative: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    GuidanceClosedWithoutAction {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    GuidanceActioned {
        rule_change_id: Uuid,
        template_id: Uuid,
        version: u32,
        at: DateTime<Utc>,
    },
    GuidanceDocumentAttached {
        document_id: Uuid,
        file: FileMeta,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for GuidanceEvent {
    fn event_type(&self) -> String {
        match self {
            GuidanceEvent::GuidanceRecorded { .. } => "GuidanceRecorded",
            GuidanceEvent::GuidanceAssessed { .. } => "GuidanceAssessed",
            GuidanceEvent::GuidanceClosedWithoutAction { .. } => "GuidanceClosedWithoutAction",
            GuidanceEvent::GuidanceActioned { .. } => "GuidanceActioned",
            GuidanceEvent::GuidanceDocumentAttached { .. } => "GuidanceDocumentAttached",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for GuidanceEvent {}

fn families(raw: Vec<String>) -> Result<Vec<String>, ValidationError> {
    let mut out = Vec::with_capacity(raw.len());
    for family in raw {
        out.push(values::required_text("families", &family, 40)?.to_uppercase());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn impacts(mut raw: Vec<TemplateImpact>) -> Result<Vec<TemplateImpact>, ValidationError> {
    if raw.is_empty() {
        return Err(ValidationError::new(
            "impacts",
            "name at least one template (or close the item with no action)",
        ));
    }
    if raw.len() > MAX_IMPACTS {
        return Err(ValidationError::new(
            "impacts",
            "at most 50 templates per assessment",
        ));
    }
    raw.sort_by_key(|i| i.template_id);
    if raw.windows(2).any(|w| w[0].template_id == w[1].template_id) {
        return Err(ValidationError::new("impacts", "name each template once"));
    }
    for impact in &mut raw {
        impact.stages.sort();
        impact.stages.dedup();
        for item in &mut impact.items {
            *item = values::required_text("items", item, MAX_LINE)?;
        }
        impact.items.sort();
        impact.items.dedup();
    }
    Ok(raw)
}

impl Guidance {
    fn open(&self) -> Result<GuidanceStatus, GuidanceError> {
        match self.status {
            None => Err(GuidanceError::NotFound("guidance not found".into())),
            Some(s @ (GuidanceStatus::New | GuidanceStatus::Assessed)) => Ok(s),
            Some(s) => Err(GuidanceError::NotAllowed(format!(
                "this guidance is {}: it is closed",
                s.as_str()
            ))),
        }
    }

    pub fn decide(&self, command: GuidanceCommand) -> Result<Vec<GuidanceEvent>, GuidanceError> {
        let event = match command {
            GuidanceCommand::Record {
                guidance_id,
                guidance: g,
                by,
                at,
            } => {
                if self.status.is_some() {
                    return Err(GuidanceError::Conflict(
                        "this regulator's circular is recorded already".into(),
                    ));
                }
                if g.effective_on.is_some_and(|e| e < g.issued_on) {
                    return Err(ValidationError::new(
                        "effectiveOn",
                        "must not be before the date it was issued",
                    )
                    .into());
                }
                GuidanceEvent::GuidanceRecorded {
                    guidance_id,
                    regulator: regulator_code(&g.regulator)?,
                    circular_ref: values::required_text("circularRef", &g.circular_ref, MAX_LINE)?,
                    title: values::required_text("title", &g.title, MAX_LINE)?,
                    issued_on: g.issued_on,
                    effective_on: g.effective_on,
                    summary: values::required_text("summary", &g.summary, MAX_TEXT)?,
                    families: families(g.families)?,
                    by,
                    at,
                }
            }
            GuidanceCommand::Assess {
                impacts: raw,
                severity,
                narrative,
                by,
                at,
            } => {
                self.open()?;
                GuidanceEvent::GuidanceAssessed {
                    impacts: impacts(raw)?,
                    severity,
                    narrative: values::required_text("narrative", &narrative, MAX_TEXT)?,
                    by,
                    at,
                }
            }
            GuidanceCommand::AttachDocument {
                document_id,
                file,
                by,
                at,
            } => {
                if self.status.is_none() {
                    return Err(GuidanceError::NotFound("guidance not found".into()));
                }
                if self.documents.contains(&file.sha256) {
                    return Err(GuidanceError::Conflict(
                        "this document is attached to the guidance already".into(),
                    ));
                }
                if self.documents.len() >= MAX_DOCUMENTS {
                    return Err(GuidanceError::NotAllowed(format!(
                        "a guidance item holds at most {MAX_DOCUMENTS} documents"
                    )));
                }
                GuidanceEvent::GuidanceDocumentAttached {
                    document_id,
                    file,
                    by,
                    at,
                }
            }
            GuidanceCommand::Action {
                rule_change_id,
                template_id,
                version,
                at,
            } => {
                if self.status != Some(GuidanceStatus::Actioned) {
                    self.open()?;
                }
                if self.actioned_by.contains(&rule_change_id) {
                    return Ok(Vec::new());
                }
                GuidanceEvent::GuidanceActioned {
                    rule_change_id,
                    template_id,
                    version,
                    at,
                }
            }
            GuidanceCommand::NoAction { reason, by, at } => {
                self.open()?;
                GuidanceEvent::GuidanceClosedWithoutAction {
                    reason: values::required_text("reason", &reason, MAX_TEXT)?,
                    by,
                    at,
                }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for Guidance {
    /// Persisted identifier.
    const TYPE: &'static str = "Guidance";
    type Command = GuidanceCommand;
    type Event = GuidanceEvent;
    type Error = GuidanceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: GuidanceCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), GuidanceError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: GuidanceEvent) {
        match event {
            GuidanceEvent::GuidanceRecorded {
                guidance_id,
                issued_on,
                ..
            } => {
                self.id = Some(guidance_id);
                self.issued_on = Some(issued_on);
                self.status = Some(GuidanceStatus::New);
            }
            GuidanceEvent::GuidanceAssessed { .. } => {
                self.status = Some(GuidanceStatus::Assessed);
                self.assessments += 1;
            }
            GuidanceEvent::GuidanceClosedWithoutAction { .. } => {
                self.status = Some(GuidanceStatus::NoAction);
            }
            GuidanceEvent::GuidanceActioned { rule_change_id, .. } => {
                self.status = Some(GuidanceStatus::Actioned);
                self.actioned_by.push(rule_change_id);
            }
            GuidanceEvent::GuidanceDocumentAttached { file, .. } => {
                self.documents.push(file.sha256)
            }
        }
    }
}

#[cfg(test)]
mod tests;
