//! Timesheet events, as stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;

/// Timesheet events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TimesheetEvent {
    TimeEntryLogged {
        user_id: Uuid,
        entry_id: Uuid,
        date: NaiveDate,
        minutes: i32,
        description: String,
        billable: bool,
        work: WorkRef,
        /// The approved entry this reverses.
        reverses: Option<Uuid>,
        /// The productivity platform's id of it (source external).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
        at: DateTime<Utc>,
    },
    TimeEntryEdited {
        entry_id: Uuid,
        date: NaiveDate,
        minutes: i32,
        description: String,
        billable: bool,
        work: WorkRef,
        at: DateTime<Utc>,
    },
    TimeEntryDeleted {
        entry_id: Uuid,
        at: DateTime<Utc>,
    },
    TimesheetSubmitted {
        entry_ids: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    TimesheetApproved {
        entry_ids: Vec<Uuid>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    TimeEntriesRejected {
        entry_ids: Vec<Uuid>,
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for TimesheetEvent {
    fn event_type(&self) -> String {
        match self {
            TimesheetEvent::TimeEntryLogged { .. } => "TimeEntryLogged",
            TimesheetEvent::TimeEntryEdited { .. } => "TimeEntryEdited",
            TimesheetEvent::TimeEntryDeleted { .. } => "TimeEntryDeleted",
            TimesheetEvent::TimesheetSubmitted { .. } => "TimesheetSubmitted",
            TimesheetEvent::TimesheetApproved { .. } => "TimesheetApproved",
            TimesheetEvent::TimeEntriesRejected { .. } => "TimeEntriesRejected",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for TimesheetEvent {}
