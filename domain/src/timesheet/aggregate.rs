//! The timesheet's decisions and how its events apply.

use chrono::{Datelike, IsoWeek};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;
use crate::values::{self, MAX_TEXT};
use crate::{Role, ValidationError};

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
