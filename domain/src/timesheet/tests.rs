//! Tests of `timesheet`.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use uuid::Uuid;

use crate::Role;

use super::*;

const OWNER: Uuid = Uuid::from_u128(1);
const MANAGER: Uuid = Uuid::from_u128(2);
const PROJECT: Uuid = Uuid::from_u128(3);

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("time")
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

fn input(date: NaiveDate, minutes: i32) -> EntryInput {
    EntryInput {
        date,
        minutes,
        description: "GST return filing".into(),
        billable: true,
        work: WorkRef::Project {
            project_id: PROJECT,
            task_id: None,
        },
    }
}

fn when(sheet: &mut Timesheet, command: TimesheetCommand) -> Result<(), TimesheetError> {
    for event in sheet.decide(command)? {
        sheet.apply(event);
    }
    Ok(())
}

fn log(
    sheet: &mut Timesheet,
    n: u128,
    date: NaiveDate,
    minutes: i32,
) -> Result<(), TimesheetError> {
    when(
        sheet,
        TimesheetCommand::Log {
            user_id: OWNER,
            entry_id: Uuid::from_u128(100 + n),
            entry: input(date, minutes),
            month_closed: false,
            external_id: None,
            at: at(),
        },
    )
}

fn manager(manages_owner: bool) -> Approver {
    Approver {
        user_id: MANAGER,
        role: Role::Manager,
        manages_owner,
    }
}

#[test]
fn at_most_24_hours_a_day_within_the_week() {
    let mut sheet = Timesheet::default();
    log(&mut sheet, 1, day(23), 900).expect("logged");
    log(&mut sheet, 2, day(23), 540).expect("up to 24 hours");
    assert!(matches!(
        log(&mut sheet, 3, day(23), 1),
        Err(TimesheetError::Invalid(_))
    ));
    // 2026-11-30 is the Monday of the next ISO week.
    assert!(matches!(
        log(&mut sheet, 4, day(30), 60),
        Err(TimesheetError::Invalid(_))
    ));
    assert!(matches!(
        log(&mut sheet, 5, day(24), 0),
        Err(TimesheetError::Invalid(_))
    ));
    // Editing counts the day without the entry's old minutes.
    when(
        &mut sheet,
        TimesheetCommand::Edit {
            user_id: OWNER,
            entry_id: Uuid::from_u128(101),
            entry: input(day(23), 800),
            month_closed: false,
            at: at(),
        },
    )
    .expect("edited");
    assert_eq!(
        sheet.entries.values().map(|e| e.minutes).sum::<i32>(),
        1_340
    );
}

#[test]
fn submitted_entries_are_immutable_and_only_another_approver_decides_them() {
    let mut sheet = Timesheet::default();
    log(&mut sheet, 1, day(23), 60).expect("logged");
    log(&mut sheet, 2, day(24), 90).expect("logged");
    when(
        &mut sheet,
        TimesheetCommand::Submit {
            user_id: OWNER,
            at: at(),
        },
    )
    .expect("submitted");
    let edit = TimesheetCommand::Edit {
        user_id: OWNER,
        entry_id: Uuid::from_u128(101),
        entry: input(day(23), 30),
        month_closed: false,
        at: at(),
    };
    assert!(matches!(
        sheet.decide(edit.clone()),
        Err(TimesheetError::NotAllowed(_))
    ));

    // Never the owner, never a manager of another team.
    let own = Approver {
        user_id: OWNER,
        role: Role::Reviewer,
        manages_owner: false,
    };
    let refused = sheet.decide(TimesheetCommand::Approve {
        approver: own,
        at: at(),
    });
    assert!(
        matches!(refused, Err(TimesheetError::Forbidden(_))),
        "{refused:?}"
    );
    let stranger = sheet.decide(TimesheetCommand::Approve {
        approver: manager(false),
        at: at(),
    });
    assert!(matches!(stranger, Err(TimesheetError::Forbidden(_))));

    // Rejected: editable again, and in the next submission.
    when(
        &mut sheet,
        TimesheetCommand::Reject {
            approver: manager(true),
            entry_ids: vec![Uuid::from_u128(101)],
            reason: "wrong matter".into(),
            at: at(),
        },
    )
    .expect("rejected");
    when(&mut sheet, edit).expect("editable again");
    when(
        &mut sheet,
        TimesheetCommand::Submit {
            user_id: OWNER,
            at: at(),
        },
    )
    .expect("resubmitted");
    when(
        &mut sheet,
        TimesheetCommand::Approve {
            approver: manager(true),
            at: at(),
        },
    )
    .expect("approved");
    assert!(sheet
        .entries
        .values()
        .all(|e| e.state == EntryState::Approved));

    // Approved effort is locked; a reversal references it, once.
    let delete = TimesheetCommand::Delete {
        user_id: OWNER,
        entry_id: Uuid::from_u128(102),
        at: at(),
    };
    assert!(matches!(
        sheet.decide(delete),
        Err(TimesheetError::NotAllowed(_))
    ));
    let reverse = |n| TimesheetCommand::Reverse {
        user_id: OWNER,
        entry_id: Uuid::from_u128(n),
        original: Uuid::from_u128(102),
        reason: "billed to the wrong client".into(),
        at: at(),
    };
    when(&mut sheet, reverse(200)).expect("reversed");
    let reversal = &sheet.entries[&Uuid::from_u128(200)];
    assert_eq!((reversal.minutes, reversal.state), (-90, EntryState::Draft));
    assert_eq!(reversal.reverses, Some(Uuid::from_u128(102)));
    assert!(matches!(
        sheet.decide(reverse(201)),
        Err(TimesheetError::Conflict(_))
    ));
    // Nothing left to submit but the reversal; a reviewer approves it.
    when(
        &mut sheet,
        TimesheetCommand::Submit {
            user_id: OWNER,
            at: at(),
        },
    )
    .expect("submitted");
    let reviewer = Approver {
        user_id: Uuid::from_u128(9),
        role: Role::Reviewer,
        manages_owner: false,
    };
    when(
        &mut sheet,
        TimesheetCommand::Approve {
            approver: reviewer,
            at: at(),
        },
    )
    .expect("approved");
    assert!(matches!(
        sheet.decide(TimesheetCommand::Submit {
            user_id: OWNER,
            at: at()
        }),
        Err(TimesheetError::NotAllowed(_))
    ));
}

#[test]
fn only_the_owner_logs_on_their_sheet() {
    let mut sheet = Timesheet::default();
    log(&mut sheet, 1, day(23), 60).expect("logged");
    let other = sheet.decide(TimesheetCommand::Log {
        user_id: MANAGER,
        entry_id: Uuid::from_u128(300),
        entry: input(day(23), 60),
        month_closed: false,
        external_id: None,
        at: at(),
    });
    assert!(matches!(other, Err(TimesheetError::Forbidden(_))));
    assert_ne!(
        stream_id(OWNER, day(23).iso_week()),
        stream_id(OWNER, day(30).iso_week())
    );
    assert_eq!(
        stream_id(OWNER, day(23).iso_week()),
        stream_id(OWNER, day(27).iso_week())
    );
}

#[test]
fn a_closed_month_takes_no_new_or_changed_entries_but_takes_reversals() {
    let mut sheet = Timesheet::default();
    log(&mut sheet, 1, day(23), 60).expect("logged");
    let closed = sheet.decide(TimesheetCommand::Log {
        user_id: OWNER,
        entry_id: Uuid::from_u128(400),
        entry: input(day(23), 60),
        month_closed: true,
        external_id: None,
        at: at(),
    });
    assert!(
        matches!(closed, Err(TimesheetError::NotAllowed(_))),
        "{closed:?}"
    );
    let edit = sheet.decide(TimesheetCommand::Edit {
        user_id: OWNER,
        entry_id: Uuid::from_u128(101),
        entry: input(day(23), 30),
        month_closed: true,
        at: at(),
    });
    assert!(matches!(edit, Err(TimesheetError::NotAllowed(_))));
}
