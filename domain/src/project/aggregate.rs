//! Project state, commands, events and rules.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::template::{StageKey, StageSpec};
use crate::values::{self, MAX_LINE};
use crate::{ErrorKind, Rejection, Role, ValidationError};

/// The template version a project is pinned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    /// Template id.
    pub template_id: Uuid,
    /// Family code.
    pub family: String,
    /// Version number.
    pub version: u32,
}

/// Lifecycle status of a project. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// Being worked.
    #[default]
    Active,
    /// Paused.
    OnHold,
    /// Done.
    Closed,
    /// Closed, but limited changes may still be approved.
    ClosedPendingUpdates,
}

impl ProjectStatus {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "active",
            ProjectStatus::OnHold => "on_hold",
            ProjectStatus::Closed => "closed",
            ProjectStatus::ClosedPendingUpdates => "closed_pending_updates",
        }
    }
}

/// State of a checklist item. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Nothing yet.
    #[default]
    Pending,
    /// Evidence uploaded, awaiting review.
    EvidenceSubmitted,
    /// Verified.
    Verified,
    /// Rejected with a reason.
    Rejected,
    /// Waived by a manager.
    Waived,
}

/// A checklist item on a running project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// Key from the template.
    pub key: String,
    /// Title.
    pub title: String,
    /// Gate requires it.
    pub mandatory: bool,
    /// Needs evidence.
    pub evidence_required: bool,
    /// Responsible role.
    pub responsible_role: Role,
    /// Current state.
    pub status: ItemStatus,
}

/// A stage on a running project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStage {
    /// Which stage.
    pub stage: StageKey,
    /// Service-level clock in days.
    pub sla_days: Option<u32>,
    /// Checklist.
    pub items: Vec<ChecklistItem>,
}

impl From<StageSpec> for ProjectStage {
    fn from(spec: StageSpec) -> Self {
        ProjectStage {
            stage: spec.stage,
            sla_days: spec.sla_days,
            items: spec
                .items
                .into_iter()
                .map(|i| ChecklistItem {
                    key: i.key,
                    title: i.title,
                    mandatory: i.mandatory,
                    evidence_required: i.evidence_required,
                    responsible_role: i.responsible_role,
                    status: ItemStatus::Pending,
                })
                .collect(),
        }
    }
}

/// Project state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: Option<Uuid>,
    /// Client it belongs to.
    pub client_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Pinned template version.
    pub template: Option<TemplateRef>,
    /// Status.
    pub status: ProjectStatus,
    /// Current stage.
    pub current_stage: Option<StageKey>,
    /// Stages with checklists.
    pub stages: Vec<ProjectStage>,
    /// When the current stage started.
    pub stage_started_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
}

/// Project commands.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectCommand {
    /// Create a project from a template version.
    Create {
        /// Id.
        project_id: Uuid,
        /// Client.
        client_id: Uuid,
        /// Name.
        name: String,
        /// Template version.
        template: TemplateRef,
        /// That version's stages.
        stages: Vec<StageSpec>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Project events. Variant names are persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProjectEvent {
    /// A project was created.
    ProjectCreated {
        /// Id.
        project_id: Uuid,
        /// Client.
        client_id: Uuid,
        /// Name.
        name: String,
        /// Template version.
        template: TemplateRef,
        /// Stages with checklists (copied from the template).
        stages: Vec<StageSpec>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for ProjectEvent {
    fn event_type(&self) -> String {
        match self {
            ProjectEvent::ProjectCreated { .. } => "ProjectCreated",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a project command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProjectError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Created already.
    #[error("a project with this id already exists")]
    AlreadyExists,
}

impl Rejection for ProjectError {
    fn kind(&self) -> ErrorKind {
        match self {
            ProjectError::AlreadyExists => ErrorKind::Conflict,
            ProjectError::Invalid(_) => ErrorKind::Invalid,
        }
    }
}

impl Aggregate for Project {
    /// Persisted identifier.
    const TYPE: &'static str = "Project";
    type Command = ProjectCommand;
    type Event = ProjectEvent;
    type Error = ProjectError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ProjectCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ProjectError> {
        let ProjectCommand::Create {
            project_id,
            client_id,
            name,
            template,
            stages,
            at,
        } = command;
        if self.id.is_some() {
            return Err(ProjectError::AlreadyExists);
        }
        let name = values::required_text("projectName", &name, MAX_LINE)?;
        if stages.first().map(|s| s.stage) != Some(StageKey::Onboarding) {
            return Err(ValidationError::new(
                "template",
                "the template version has no onboarding stage",
            )
            .into());
        }
        sink.write(
            ProjectEvent::ProjectCreated {
                project_id,
                client_id,
                name,
                template,
                stages,
                at,
            },
            self,
        )
        .await;
        Ok(())
    }

    fn apply(&mut self, event: ProjectEvent) {
        match event {
            ProjectEvent::ProjectCreated {
                project_id,
                client_id,
                name,
                template,
                stages,
                at,
            } => {
                *self = Project {
                    id: Some(project_id),
                    client_id: Some(client_id),
                    name,
                    template: Some(template),
                    status: ProjectStatus::Active,
                    current_stage: stages.first().map(|s| s.stage),
                    stages: stages.into_iter().map(ProjectStage::from).collect(),
                    stage_started_at: Some(at),
                    created_at: Some(at),
                };
            }
        }
    }
}
