//! Timesheet commands and what a person types for them.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::*;
use crate::Role;

/// What a person types for an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryInput {
    pub date: NaiveDate,
    pub minutes: i32,
    pub description: String,
    pub billable: bool,
    pub work: WorkRef,
}

/// Who decides a submitted week, and whether they manage its owner through a team (a fact
/// the caller looks up: [`crate::team::Team::manages`] over the owner's teams).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approver {
    pub user_id: Uuid,
    pub role: Role,
    pub manages_owner: bool,
}

/// Timesheet commands. `user_id` is the sheet's owner, the one who logs.
#[derive(Debug, Clone, PartialEq)]
pub enum TimesheetCommand {
    Log {
        user_id: Uuid,
        entry_id: Uuid,
        entry: EntryInput,
        /// Whether the entry's month is closed for its client (its statement was issued and
        /// not reopened): a fact the caller looks up.
        month_closed: bool,
        /// The id the productivity platform gave it, when it came from there.
        external_id: Option<String>,
        at: DateTime<Utc>,
    },
    Edit {
        user_id: Uuid,
        entry_id: Uuid,
        entry: EntryInput,
        /// Whether the month of the entry's old or new date is closed for its client.
        month_closed: bool,
        at: DateTime<Utc>,
    },
    Delete {
        user_id: Uuid,
        entry_id: Uuid,
        at: DateTime<Utc>,
    },
    /// Submit every draft and rejected entry of the week.
    Submit { user_id: Uuid, at: DateTime<Utc> },
    /// Approve every submitted entry.
    Approve {
        approver: Approver,
        at: DateTime<Utc>,
    },
    /// Send submitted entries back with a reason.
    Reject {
        approver: Approver,
        entry_ids: Vec<Uuid>,
        reason: String,
        at: DateTime<Utc>,
    },
    /// Log a draft that reverses approved entry `original` (same date, work and billable
    /// flag, the opposite minutes), approved like any other.
    Reverse {
        user_id: Uuid,
        entry_id: Uuid,
        original: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
}
