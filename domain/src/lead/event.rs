//! Facts recorded about a lead. Variant names are persisted event types: never rename.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Pipeline stage of a lead. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LeadStage {
    /// Newly captured.
    #[default]
    Prospect,
    /// Need and budget confirmed.
    Qualified,
    /// A proposal was sent.
    Proposal,
    /// Terms under discussion.
    Negotiation,
    /// Closed, won.
    Won,
    /// Closed, lost.
    Lost,
}

impl LeadStage {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStage::Prospect => "prospect",
            LeadStage::Qualified => "qualified",
            LeadStage::Proposal => "proposal",
            LeadStage::Negotiation => "negotiation",
            LeadStage::Won => "won",
            LeadStage::Lost => "lost",
        }
    }

    /// Whether the lead is still being worked.
    pub fn is_open(self) -> bool {
        !matches!(self, LeadStage::Won | LeadStage::Lost)
    }
}

impl std::fmt::Display for LeadStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a lead came from. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadSource {
    /// The firm's website.
    Website,
    /// Referred by a client or partner.
    Referral,
    /// Met at an event.
    Event,
    /// A channel partner.
    Partner,
    /// Outbound call or email.
    Outbound,
    /// Anything else.
    Other,
}

impl LeadSource {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadSource::Website => "website",
            LeadSource::Referral => "referral",
            LeadSource::Event => "event",
            LeadSource::Partner => "partner",
            LeadSource::Outbound => "outbound",
            LeadSource::Other => "other",
        }
    }
}

/// Everything that can happen to a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LeadEvent {
    /// A lead was captured.
    LeadCaptured {
        lead_id: Uuid,
        /// Company name.
        company: String,
        contact_name: String,
        /// Normalised email.
        email: String,
        /// Phone, if given.
        #[serde(default)]
        phone: Option<String>,
        source: LeadSource,
        service_interest: String,
        /// Initial owner.
        #[serde(default)]
        owner_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// The lead got a (new) owner.
    LeadAssigned {
        /// New owner.
        owner_id: Uuid,
        at: DateTime<Utc>,
    },
    /// The lead was scored.
    LeadScored {
        /// Score 0..=100.
        score: i32,
        at: DateTime<Utc>,
    },
    /// The lead moved between stages (including to Won or Lost).
    LeadStageChanged {
        /// Previous stage.
        from: LeadStage,
        /// New stage.
        to: LeadStage,
        /// Reason (required for Lost).
        #[serde(default)]
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    /// A note was added.
    LeadNoteAdded {
        note_id: Uuid,
        body: String,
        at: DateTime<Utc>,
    },
    /// An activity was logged.
    LeadActivityLogged {
        activity_id: Uuid,
        /// Kind (call, meeting, ...).
        kind: String,
        summary: String,
        /// Follow-up date.
        #[serde(default)]
        follow_up_on: Option<NaiveDate>,
        at: DateTime<Utc>,
    },
    /// The won lead became a client.
    LeadConverted {
        /// The new client.
        client_id: Uuid,
        /// The new project, if any.
        #[serde(default)]
        project_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
}

impl LeadEvent {
    /// When the command that produced this event was issued.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            LeadEvent::LeadCaptured { at, .. }
            | LeadEvent::LeadAssigned { at, .. }
            | LeadEvent::LeadScored { at, .. }
            | LeadEvent::LeadStageChanged { at, .. }
            | LeadEvent::LeadNoteAdded { at, .. }
            | LeadEvent::LeadActivityLogged { at, .. }
            | LeadEvent::LeadConverted { at, .. } => *at,
        }
    }
}

impl cqrs_es::DomainEvent for LeadEvent {
    fn event_type(&self) -> String {
        match self {
            LeadEvent::LeadCaptured { .. } => "LeadCaptured",
            LeadEvent::LeadAssigned { .. } => "LeadAssigned",
            LeadEvent::LeadScored { .. } => "LeadScored",
            LeadEvent::LeadStageChanged { .. } => "LeadStageChanged",
            LeadEvent::LeadNoteAdded { .. } => "LeadNoteAdded",
            LeadEvent::LeadActivityLogged { .. } => "LeadActivityLogged",
            LeadEvent::LeadConverted { .. } => "LeadConverted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
