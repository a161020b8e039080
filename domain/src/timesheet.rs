//! Effort: a person's time entries of one ISO week, submitted together and approved by
//! someone else.
//!
//! One stream per person and week ([`stream_id`]), so the daily limit and the state of
//! every entry of a week are decided in one place. An entry is a draft until the week is
//! submitted; submitted entries are immutable; an approver (a reviewer, or a manager of one
//! of the person's teams, never the person) approves them or rejects some with a reason,
//! and rejected entries are editable again and go in with the next submission. Approved
//! effort is locked: a correction is a reversing entry that references the original.

use chrono::{Datelike, IsoWeek, NaiveDate};
use uuid::Uuid;

/// The Monday of `date`'s ISO week: the week a timesheet stream and its entries belong to.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    let week = date.iso_week();
    NaiveDate::from_isoywd_opt(week.year(), week.week(), chrono::Weekday::Mon).unwrap_or(date)
}

/// Minutes in a day: the most one person may log on one date.
pub const DAY_MINUTES: i32 = 24 * 60;

/// The stream of `user_id`'s timesheet of `week`.
pub fn stream_id(user_id: Uuid, week: IsoWeek) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!(
            "zippcrm-timesheet:{user_id}:{}-W{:02}",
            week.year(),
            week.week()
        )
        .as_bytes(),
    )
}

mod aggregate;
mod command;
mod event;
mod model;

pub use aggregate::TimesheetError;
pub use command::{Approver, EntryInput, TimesheetCommand};
pub use event::TimesheetEvent;
pub use model::{Entry, EntryState, Timesheet, WorkRef};

#[cfg(test)]
mod tests;
