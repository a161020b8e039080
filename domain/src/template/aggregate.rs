//! Template state, commands, events and rules (small enough to live together).

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::{ErrorKind, Rejection, Role, ValidationError};

/// The five stages of every regulated project, in order. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKey {
    /// Kick-off, engagement letter, KYC.
    Onboarding,
    /// Collecting and verifying documents.
    Documentation,
    /// Preparing and submitting the application.
    Filing,
    /// Correspondence with the regulator.
    Liaison,
    /// Licence or registration granted.
    Issue,
}

impl StageKey {
    /// All stages in order.
    pub const ORDER: [StageKey; 5] = [
        StageKey::Onboarding,
        StageKey::Documentation,
        StageKey::Filing,
        StageKey::Liaison,
        StageKey::Issue,
    ];

    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            StageKey::Onboarding => "onboarding",
            StageKey::Documentation => "documentation",
            StageKey::Filing => "filing",
            StageKey::Liaison => "liaison",
            StageKey::Issue => "issue",
        }
    }
}

/// One checklist item of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItemSpec {
    /// Stable key within the template (e.g. `board_resolution`).
    pub key: String,
    /// What must be done or provided.
    pub title: String,
    /// Whether the gate requires it.
    pub mandatory: bool,
    /// Whether it needs uploaded evidence.
    pub evidence_required: bool,
    /// Who is responsible.
    pub responsible_role: Role,
    /// What a document request for it asks by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestTemplate>,
}

/// The document request a checklist item's evidence is asked with, unless the person
/// raising it says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTemplate {
    /// What the customer is asked to upload.
    pub instructions: String,
    /// Days the customer gets from the request (no due date when none).
    #[serde(default)]
    pub due_in_days: Option<u32>,
}

/// A billing milestone of a stage: billable once the stage is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneSpec {
    /// Stable key within the template (e.g. `filing_fee`).
    pub key: String,
    pub title: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Most days a request template gives the customer.
pub(super) const MAX_DUE_IN_DAYS: u32 = 365;

/// One stage of a template version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    /// Which stage.
    pub stage: StageKey,
    /// Service-level clock in days, if any.
    #[serde(default)]
    pub sla_days: Option<u32>,
    /// Days the clock may be extended by, once.
    #[serde(default)]
    pub sla_extension_days: Option<u32>,
    /// Checklist.
    pub items: Vec<ChecklistItemSpec>,
    /// Billing milestones, billable once the stage is complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<MilestoneSpec>,
}

/// A published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// 1, 2, ...
    pub version: u32,
    /// Stages in order.
    pub stages: Vec<StageSpec>,
    /// When published.
    pub published_at: DateTime<Utc>,
    /// The rule change that published it (none for seeded versions).
    #[serde(default)]
    pub rule_change_id: Option<Uuid>,
    /// When it takes effect, as its rule change said.
    #[serde(default)]
    pub effective_on: Option<NaiveDate>,
}

/// Template state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTemplate {
    pub id: Option<Uuid>,
    /// Family code (RBI, SEBI, IRDAI, ...).
    pub family: String,
    pub name: String,
    /// Published versions, oldest first.
    pub versions: Vec<TemplateVersion>,
}

impl WorkflowTemplate {
    /// The latest published version.
    pub fn latest(&self) -> Option<&TemplateVersion> {
        self.versions.last()
    }

    /// The version a project started on `on` runs on: the latest one in effect by then
    /// (a version without an effective date is in effect from its publication).
    pub fn in_effect(&self, on: NaiveDate) -> Option<&TemplateVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_on.is_none_or(|from| from <= on))
    }
}

/// A version a published rule change makes: the number it must get (its base + 1), so
/// that the template's own stream refuses a second version under the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    pub rule_change_id: Uuid,
    pub version: u32,
    pub effective_on: NaiveDate,
}

/// Template commands.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateCommand {
    /// Publish a new version (the first one creates the template).
    PublishVersion {
        template_id: Uuid,
        /// Family code.
        family: String,
        name: String,
        stages: Vec<StageSpec>,
        /// Set when a rule change publishes it.
        publication: Option<Publication>,
        at: DateTime<Utc>,
    },
}

/// Template events. Variant names are persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TemplateEvent {
    /// A version was published.
    TemplateVersionPublished {
        template_id: Uuid,
        /// Family code.
        family: String,
        name: String,
        /// Version number.
        version: u32,
        stages: Vec<StageSpec>,
        /// The rule change that published it (none for seeded versions).
        #[serde(default)]
        rule_change_id: Option<Uuid>,
        /// When it takes effect.
        #[serde(default)]
        effective_on: Option<NaiveDate>,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for TemplateEvent {
    fn event_type(&self) -> String {
        "TemplateVersionPublished".to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a template command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The family of an existing template cannot change.
    #[error("template family cannot change from {0}")]
    FamilyChanged(String),
    /// A rule change's version is not the next one.
    #[error("the template is at version {current}: version {wanted} cannot be published")]
    Moved { current: u32, wanted: u32 },
}

impl Rejection for TemplateError {
    fn kind(&self) -> ErrorKind {
        match self {
            TemplateError::Moved { .. } => ErrorKind::Conflict,
            _ => ErrorKind::Invalid,
        }
    }
}

fn snake_key(key: &str) -> Result<(), ValidationError> {
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ValidationError::new(
            "key",
            format!("'{key}' must be lower_snake_case"),
        ));
    }
    Ok(())
}

/// Whether `stages` is a valid definition: the five stages in order, each with items whose
/// keys are lower_snake_case and unique within their stage, request templates with
/// instructions and at most a year to answer, and milestones with a title, an amount above
/// zero and a currency, their keys unique within the template.
pub fn validate_stages(stages: &[StageSpec]) -> Result<(), ValidationError> {
    let keys: Vec<StageKey> = stages.iter().map(|s| s.stage).collect();
    if keys != StageKey::ORDER {
        return Err(ValidationError::new(
            "stages",
            "must list onboarding, documentation, filing, liaison and issue, in that order",
        ));
    }
    for stage in stages {
        if stage.items.is_empty() {
            return Err(ValidationError::new(
                "stages",
                format!("stage {} has no checklist items", stage.stage.as_str()),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for item in &stage.items {
            values::required_text("title", &item.title, MAX_LINE)?;
            snake_key(&item.key)?;
            if !seen.insert(&item.key) {
                return Err(ValidationError::new(
                    "key",
                    format!(
                        "'{}' appears twice in stage {}",
                        item.key,
                        stage.stage.as_str()
                    ),
                ));
            }
            if let Some(request) = &item.request {
                values::required_text("instructions", &request.instructions, MAX_TEXT)?;
                if request
                    .due_in_days
                    .is_some_and(|d| d == 0 || d > MAX_DUE_IN_DAYS)
                {
                    return Err(ValidationError::new(
                        "dueInDays",
                        format!("must be between 1 and {MAX_DUE_IN_DAYS}"),
                    ));
                }
            }
        }
    }
    let mut milestones = std::collections::HashSet::new();
    for milestone in stages.iter().flat_map(|s| &s.milestones) {
        snake_key(&milestone.key)?;
        if !milestones.insert(&milestone.key) {
            return Err(ValidationError::new(
                "key",
                format!("milestone '{}' appears twice", milestone.key),
            ));
        }
        values::required_text("title", &milestone.title, MAX_LINE)?;
        if milestone.amount_minor <= 0 {
            return Err(ValidationError::new("amountMinor", "must be above zero"));
        }
        if values::currency("currency", &milestone.currency)? != milestone.currency {
            return Err(ValidationError::new(
                "currency",
                "must be a three-letter ISO 4217 code in capitals, such as INR",
            ));
        }
    }
    Ok(())
}

impl Aggregate for WorkflowTemplate {
    /// Persisted identifier.
    const TYPE: &'static str = "WorkflowTemplate";
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Error = TemplateError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TemplateCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TemplateError> {
        let TemplateCommand::PublishVersion {
            template_id,
            family,
            name,
            stages,
            publication,
            at,
        } = command;
        let family = values::required_text("family", &family, 20)?.to_uppercase();
        if self.id.is_some() && self.family != family {
            return Err(TemplateError::FamilyChanged(self.family.clone()));
        }
        let name = values::required_text("name", &name, MAX_LINE)?;
        validate_stages(&stages)?;
        let version = u32::try_from(self.versions.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        if let Some(p) = publication {
            if p.version != version {
                return Err(TemplateError::Moved {
                    current: version - 1,
                    wanted: p.version,
                });
            }
        }
        let event = TemplateEvent::TemplateVersionPublished {
            template_id,
            family,
            name,
            version,
            stages,
            rule_change_id: publication.map(|p| p.rule_change_id),
            effective_on: publication.map(|p| p.effective_on),
            at,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: TemplateEvent) {
        let TemplateEvent::TemplateVersionPublished {
            template_id,
            family,
            name,
            version,
            stages,
            rule_change_id,
            effective_on,
            at,
        } = event;
        self.id = Some(template_id);
        self.family = family;
        self.name = name;
        self.versions.push(TemplateVersion {
            version,
            stages,
            published_at: at,
            rule_change_id,
            effective_on,
        });
    }
}
