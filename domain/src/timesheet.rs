//! Effort: a person's time entries of one ISO week, submitted together and approved by
//! someone else.
//!
//! One stream per person and week ([`stream_id`]), so the daily limit and the state of
//! every entry of a week are decided in one place. An entry is a draft until the week is
//! submitted; submitted entries are immutable; an approver (a reviewer, or a manager of one
//! of the person's teams, never the person) approves them or rejects some with a reason,
//! and rejected entries are editable again and go in with the next submission. Approved
//! effort is locked: a correction is a reversing entry that references the original.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, IsoWeek, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, MAX_TEXT};
use crate::{Role, ValidationError};

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

/// Why a command was refused.
pub type TimesheetError = crate::Refused;

/// New or changed work is refused in a month whose statement was issued (corrections of
/// stated effort are reversing entries, which go on the next statement).
fn closed(month_closed: bool) -> Result<(), TimesheetError> {
    if month_closed {
        return Err(not_allowed(
            "this month's statement was issued: the month is closed to new and changed entries (a manager may reopen it)",
        ));
    }
    Ok(())
}

fn not_allowed(message: impl Into<String>) -> TimesheetError {
    TimesheetError::NotAllowed(message.into())
}

impl Timesheet {
    fn owner(&self, user_id: Uuid) -> Result<(), TimesheetError> {
        match self.user_id {
            Some(owner) if owner != user_id => Err(TimesheetError::Forbidden(
                "only its owner logs time on a timesheet".into(),
            )),
            _ => Ok(()),
        }
    }

    fn entry(&self, entry_id: Uuid) -> Result<&Entry, TimesheetError> {
        self.entries
            .get(&entry_id)
            .ok_or_else(|| TimesheetError::NotFound("time entry not found".into()))
    }

    fn editable(&self, entry_id: Uuid) -> Result<&Entry, TimesheetError> {
        let entry = self.entry(entry_id)?;
        if !entry.state.editable() {
            return Err(not_allowed(format!(
                "this entry is {}: only draft and rejected entries change",
                entry.state.as_str()
            )));
        }
        Ok(entry)
    }

    /// Validates `input` for this week, counting every entry of its date but `replacing`.
    fn checked(
        &self,
        input: EntryInput,
        replacing: Option<Uuid>,
        week: Option<IsoWeek>,
    ) -> Result<EntryInput, TimesheetError> {
        if let Some(week) = week {
            if input.date.iso_week() != week {
                return Err(ValidationError::new("date", "must be in the timesheet's week").into());
            }
        }
        if !(1..=DAY_MINUTES).contains(&input.minutes) {
            return Err(ValidationError::new("minutes", "must be between 1 and 1440").into());
        }
        let description = values::required_text("description", &input.description, MAX_TEXT)?;
        let logged: i32 = self
            .entries
            .iter()
            .filter(|(id, e)| Some(**id) != replacing && e.date == input.date)
            .map(|(_, e)| e.minutes)
            .sum();
        if logged + input.minutes > DAY_MINUTES {
            return Err(ValidationError::new(
                "minutes",
                format!(
                    "at most 24 hours a day: {} already logged on {}",
                    logged, input.date
                ),
            )
            .into());
        }
        Ok(EntryInput {
            description,
            ..input
        })
    }

    fn week(&self) -> Option<IsoWeek> {
        self.week_start.map(|d| d.iso_week())
    }

    fn in_state(&self, state: EntryState) -> Vec<Uuid> {
        self.entries
            .iter()
            .filter(|(_, e)| e.state == state)
            .map(|(id, _)| *id)
            .collect()
    }

    fn may_approve(&self, approver: &Approver) -> Result<(), TimesheetError> {
        if self.user_id == Some(approver.user_id) {
            return Err(TimesheetError::Forbidden(
                "no one approves their own time".into(),
            ));
        }
        if approver.role != Role::Reviewer && !approver.manages_owner {
            return Err(TimesheetError::Forbidden(
                "only a reviewer or a manager of one of this person's teams approves their time"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Decides a command: the events to append.
    pub fn decide(&self, command: TimesheetCommand) -> Result<Vec<TimesheetEvent>, TimesheetError> {
        use TimesheetCommand as C;
        let event = match command {
            C::Log {
                user_id,
                entry_id,
                entry,
                month_closed,
                external_id,
                at,
            } => {
                self.owner(user_id)?;
                closed(month_closed)?;
                if self.entries.contains_key(&entry_id) {
                    return Err(TimesheetError::Conflict(
                        "this time entry exists already".into(),
                    ));
                }
                let entry = self.checked(entry, None, self.week())?;
                TimesheetEvent::TimeEntryLogged {
                    user_id,
                    entry_id,
                    date: entry.date,
                    minutes: entry.minutes,
                    description: entry.description,
                    billable: entry.billable,
                    work: entry.work,
                    reverses: None,
                    external_id,
                    at,
                }
            }
            C::Edit {
                user_id,
                entry_id,
                entry,
                month_closed,
                at,
            } => {
                self.owner(user_id)?;
                closed(month_closed)?;
                self.editable(entry_id)?;
                let entry = self.checked(entry, Some(entry_id), self.week())?;
                TimesheetEvent::TimeEntryEdited {
                    entry_id,
                    date: entry.date,
                    minutes: entry.minutes,
                    description: entry.description,
                    billable: entry.billable,
                    work: entry.work,
                    at,
                }
            }
            C::Delete {
                user_id,
                entry_id,
                at,
            } => {
                self.owner(user_id)?;
                self.editable(entry_id)?;
                TimesheetEvent::TimeEntryDeleted { entry_id, at }
            }
            C::Submit { user_id, at } => {
                self.owner(user_id)?;
                let mut entry_ids = self.in_state(EntryState::Draft);
                entry_ids.extend(self.in_state(EntryState::Rejected));
                if entry_ids.is_empty() {
                    return Err(not_allowed(
                        "nothing to submit: every entry of this week is submitted or approved",
                    ));
                }
                entry_ids.sort();
                TimesheetEvent::TimesheetSubmitted { entry_ids, at }
            }
            C::Approve { approver, at } => {
                self.may_approve(&approver)?;
                let entry_ids = self.in_state(EntryState::Submitted);
                if entry_ids.is_empty() {
                    return Err(not_allowed("nothing of this week waits for approval"));
                }
                TimesheetEvent::TimesheetApproved {
                    entry_ids,
                    by: approver.user_id,
                    at,
                }
            }
            C::Reject {
                approver,
                mut entry_ids,
                reason,
                at,
            } => {
                self.may_approve(&approver)?;
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                if entry_ids.is_empty() {
                    return Err(ValidationError::new("entryIds", "name at least one entry").into());
                }
                entry_ids.sort();
                entry_ids.dedup();
                for id in &entry_ids {
                    if self.entry(*id)?.state != EntryState::Submitted {
                        return Err(not_allowed("only submitted entries are rejected"));
                    }
                }
                TimesheetEvent::TimeEntriesRejected {
                    entry_ids,
                    reason,
                    by: approver.user_id,
                    at,
                }
            }
            C::Reverse {
                user_id,
                entry_id,
                original,
                reason,
                at,
            } => {
                self.owner(user_id)?;
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                let approved = self.entry(original)?;
                if approved.state != EntryState::Approved || approved.reverses.is_some() {
                    return Err(not_allowed("only an approved entry is reversed"));
                }
                if approved.reversed_by.is_some() {
                    return Err(TimesheetError::Conflict(
                        "this entry was reversed already".into(),
                    ));
                }
                if self.entries.contains_key(&entry_id) {
                    return Err(TimesheetError::Conflict(
                        "this time entry exists already".into(),
                    ));
                }
                TimesheetEvent::TimeEntryLogged {
                    user_id,
                    entry_id,
                    date: approved.date,
                    minutes: -approved.minutes,
                    description: format!("Reversal: {reason}"),
                    billable: approved.billable,
                    work: approved.work,
                    reverses: Some(original),
                    external_id: None,
                    at,
                }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for Timesheet {
    /// Persisted identifier.
    const TYPE: &'static str = "Timesheet";
    type Command = TimesheetCommand;
    type Event = TimesheetEvent;
    type Error = TimesheetError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TimesheetCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TimesheetError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: TimesheetEvent) {
        use TimesheetEvent as E;
        let set = |sheet: &mut Self, ids: &[Uuid], state| {
            for id in ids {
                if let Some(entry) = sheet.entries.get_mut(id) {
                    entry.state = state;
                }
            }
        };
        match event {
            E::TimeEntryLogged {
                user_id,
                entry_id,
                date,
                minutes,
                description,
                billable,
                work,
                reverses,
                ..
            } => {
                self.user_id = Some(user_id);
                if self.week_start.is_none() {
                    self.week_start = Some(week_start(date));
                }
                if let Some(original) = reverses.and_then(|id| self.entries.get_mut(&id)) {
                    original.reversed_by = Some(entry_id);
                }
                self.entries.insert(
                    entry_id,
                    Entry {
                        date,
                        minutes,
                        description,
                        billable,
                        work,
                        state: EntryState::Draft,
                        reverses,
                        reversed_by: None,
                    },
                );
            }
            E::TimeEntryEdited {
                entry_id,
                date,
                minutes,
                description,
                billable,
                work,
                ..
            } => {
                if let Some(entry) = self.entries.get_mut(&entry_id) {
                    entry.date = date;
                    entry.minutes = minutes;
                    entry.description = description;
                    entry.billable = billable;
                    entry.work = work;
                }
            }
            E::TimeEntryDeleted { entry_id, .. } => {
                self.entries.remove(&entry_id);
            }
            E::TimesheetSubmitted { entry_ids, .. } => set(self, &entry_ids, EntryState::Submitted),
            E::TimesheetApproved { entry_ids, .. } => set(self, &entry_ids, EntryState::Approved),
            E::TimeEntriesRejected { entry_ids, .. } => set(self, &entry_ids, EntryState::Rejected),
        }
    }
}

#[cfg(test)]
mod tests;
