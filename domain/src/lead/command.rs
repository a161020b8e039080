//! Commands a Lead accepts. Raw user input arrives here; the aggregate validates it.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// Fields of a new lead, as typed by a person.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureLeadInput {
    /// Company name.
    pub company: String,
    /// Name of the person we talk to.
    pub contact_name: String,
    /// Contact's email address.
    pub email: String,
    /// Contact's phone number (optional).
    pub phone: Option<String>,
    /// Where the lead came from.
    pub source: super::LeadSource,
    /// What service the company is interested in (free text, e.g. "RBI NBFC registration").
    pub service_interest: String,
    /// Initial owner (a sales user), if already known.
    pub owner_id: Option<Uuid>,
}

/// An activity with an optional follow-up date.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityInput {
    /// Id of the new activity.
    pub activity_id: Uuid,
    /// Kind of activity: call, meeting, email, ... (free text, short).
    pub kind: String,
    /// What happened.
    pub summary: String,
    /// When to follow up, if at all.
    pub follow_up_on: Option<NaiveDate>,
}

/// A request to change a lead. `at` is the instant the command was issued.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadCommand {
    /// Record a new lead.
    Capture {
        /// The lead's new id.
        lead_id: Uuid,
        /// Its fields.
        input: CaptureLeadInput,
        at: DateTime<Utc>,
    },
    /// Give the lead an owner.
    Assign {
        /// The new owner.
        owner_id: Uuid,
        at: DateTime<Utc>,
    },
    /// Set the lead's score (0 to 100).
    Score { score: i32, at: DateTime<Utc> },
    /// Move between open stages.
    MoveStage {
        /// Target stage (must be open).
        to: super::LeadStage,
        at: DateTime<Utc>,
    },
    /// Close the lead as won.
    Win { at: DateTime<Utc> },
    /// Close the lead as lost; the reason is required.
    Lose {
        /// Why it was lost.
        reason: String,
        at: DateTime<Utc>,
    },
    AddNote {
        /// Id of the new note.
        note_id: Uuid,
        /// Its text.
        body: String,
        at: DateTime<Utc>,
    },
    LogActivity {
        activity: ActivityInput,
        at: DateTime<Utc>,
    },
    /// Convert a won lead into a client (and optionally a project).
    Convert {
        /// The client's new id.
        client_id: Uuid,
        /// The project's new id, when one is created.
        project_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
}
