//! Service item commands and what a person types for them.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::*;

/// What a person types for a new item.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceItemInput {
    pub client_id: Uuid,
    pub team_id: Uuid,
    pub category: Category,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub due_on: Option<NaiveDate>,
}

/// Changes to an item's details; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceItemChanges {
    pub category: Option<Category>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    /// `Some(None)` clears the due date.
    pub due_on: Option<Option<NaiveDate>>,
}

/// Service item commands. Whether the client and the team exist, and whether the assignees
/// are active internal users, is checked before a command is issued.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceItemCommand {
    Open {
        service_item_id: Uuid,
        item: ServiceItemInput,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Update {
        actor: Actor,
        changes: ServiceItemChanges,
        at: DateTime<Utc>,
    },
    /// Route to these consultants (replacing the current assignees).
    Route {
        actor: Actor,
        assignees: Vec<Assignment>,
        note: Option<String>,
        at: DateTime<Utc>,
    },
    /// Move to In progress, Waiting on client or Done (or from Done back to In progress).
    SetStatus {
        actor: Actor,
        status: ServiceStatus,
        at: DateTime<Utc>,
    },
    Cancel {
        actor: Actor,
        reason: String,
        at: DateTime<Utc>,
    },
    /// An internal note (never shown in the portal).
    AddNote {
        note_id: Uuid,
        body: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// The scheduler's daily look: due soon, or overdue, each once per due date. The
    /// assignees are told; when nobody is routed yet, the owning team's `managers` (a fact
    /// the caller looks up).
    FlagDue {
        today: NaiveDate,
        managers: Vec<Uuid>,
        at: DateTime<Utc>,
    },
}
