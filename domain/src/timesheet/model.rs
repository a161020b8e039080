//! A timesheet as the aggregate holds it: entries, what they are logged against, where they
//! stand.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an entry is logged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkRef {
    /// A project, and optionally one of its tasks.
    Project {
        project_id: Uuid,
        task_id: Option<Uuid>,
    },
    /// A service desk item.
    Service { service_item_id: Uuid },
}

impl WorkRef {
    /// The matter: the project or the service item.
    pub fn matter_id(&self) -> Uuid {
        match self {
            WorkRef::Project { project_id, .. } => *project_id,
            WorkRef::Service { service_item_id } => *service_item_id,
        }
    }

    pub fn project_id(&self) -> Option<Uuid> {
        match self {
            WorkRef::Project { project_id, .. } => Some(*project_id),
            WorkRef::Service { .. } => None,
        }
    }

    pub fn task_id(&self) -> Option<Uuid> {
        match self {
            WorkRef::Project { task_id, .. } => *task_id,
            WorkRef::Service { .. } => None,
        }
    }

    pub fn service_item_id(&self) -> Option<Uuid> {
        match self {
            WorkRef::Service { service_item_id } => Some(*service_item_id),
            WorkRef::Project { .. } => None,
        }
    }
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Draft,
    Submitted,
    Approved,
    /// Sent back by the approver; editable, and submitted again with the week.
    Rejected,
}

impl EntryState {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Draft => "draft",
            EntryState::Submitted => "submitted",
            EntryState::Approved => "approved",
            EntryState::Rejected => "rejected",
        }
    }

    /// Whether its owner may still change it.
    pub fn editable(self) -> bool {
        matches!(self, EntryState::Draft | EntryState::Rejected)
    }
}

/// One time entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub date: NaiveDate,
    /// Negative for a reversal.
    pub minutes: i32,
    pub description: String,
    pub billable: bool,
    pub work: WorkRef,
    pub state: EntryState,
    /// The approved entry this one reverses.
    pub reverses: Option<Uuid>,
    /// Set once a reversal of this entry was logged.
    pub reversed_by: Option<Uuid>,
}

/// A person's timesheet of one ISO week.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timesheet {
    pub user_id: Option<Uuid>,
    /// Monday of the week.
    pub week_start: Option<NaiveDate>,
    pub entries: BTreeMap<Uuid, Entry>,
}
