//! Monthly effort statements: a client's approved effort of a month, frozen when a manager
//! issues it.
//!
//! One stream per client and month ([`stream_id`]). Issuing freezes the lines it is given
//! (the approved entries not on an earlier statement, priced at the rate card's rates) and
//! closes the month: new or changed entries dated in it are refused until a manager reopens
//! it, with a reason. A correction of effort already stated (a reversing entry) goes on the
//! next statement issued, as a carried-over line.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rate::Money;
use crate::values::{self, MAX_TEXT};
use crate::{ErrorKind, Rejection, ValidationError};

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    /// The month of `date`.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parses `2026-11`.
    pub fn parse(field: &'static str, text: &str) -> Result<Month, ValidationError> {
        let bad = || ValidationError::new(field, "must be a month as YYYY-MM, such as 2026-11");
        let (year, month) = text.trim().split_once('-').ok_or_else(bad)?;
        let month = Month {
            year: year.parse().map_err(|_| bad())?,
            month: month.parse().map_err(|_| bad())?,
        };
        month.first_day().ok_or_else(bad)?;
        if !(1..=9999).contains(&month.year) {
            return Err(bad());
        }
        Ok(month)
    }

    /// Its first day.
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// Its last day.
    pub fn last_day(self) -> Option<NaiveDate> {
        let next = if self.month == 12 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, self.month + 1, 1)
        };
        next.and_then(|d| d.pred_opt())
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The stream of `client_id`'s statement of `month`.
pub fn stream_id(client_id: Uuid, month: Month) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("zippcrm-statement:{client_id}:{month}").as_bytes(),
    )
}

/// One approved entry as a statement states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub entry_id: Uuid,
    pub date: NaiveDate,
    pub user_id: Uuid,
    /// The project or service item.
    #[serde(alias = "project_id")]
    pub matter_id: Uuid,
    pub task_id: Option<Uuid>,
    pub minutes: i32,
    pub billable: bool,
    /// The hourly rate it was priced at; `None` when no rate was set.
    pub hourly: Option<Money>,
    /// What it costs (billable lines only).
    pub amount: Option<Money>,
    /// Dated before the statement's month: a correction of effort stated earlier, or
    /// approved after that month's statement.
    pub carried_over: bool,
}

impl StatementLine {
    /// A line for an approved entry, priced at `hourly` if it is billable.
    pub fn priced(
        entry_id: Uuid,
        (date, month): (NaiveDate, Month),
        (user_id, matter_id, task_id): (Uuid, Uuid, Option<Uuid>),
        (minutes, billable): (i32, bool),
        hourly: Option<Money>,
    ) -> StatementLine {
        let amount = hourly
            .as_ref()
            .filter(|_| billable)
            .map(|rate| rate.for_minutes(minutes));
        StatementLine {
            entry_id,
            date,
            user_id,
            matter_id,
            task_id,
            minutes,
            billable,
            hourly,
            amount,
            carried_over: month.first_day().is_some_and(|first| date < first),
        }
    }
}

/// A client's statement of one month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub client_id: Option<Uuid>,
    pub month: Option<Month>,
    /// How many times it was issued.
    pub revisions: u32,
    /// Issued and not reopened since: the month is closed.
    pub closed: bool,
}

/// Statement commands.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementCommand {
    Issue {
        client_id: Uuid,
        month: Month,
        lines: Vec<StatementLine>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Reopen {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

/// Statement events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StatementEvent {
    StatementIssued {
        client_id: Uuid,
        month: Month,
        /// 1 for the first issue, then one more after each reopening.
        revision: u32,
        lines: Vec<StatementLine>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    MonthReopened {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for StatementEvent {
    fn event_type(&self) -> String {
        match self {
            StatementEvent::StatementIssued { .. } => "StatementIssued",
            StatementEvent::MonthReopened { .. } => "MonthReopened",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for StatementEvent {}

/// Why a statement command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatementError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Conflict(String),
}

impl Rejection for StatementError {
    fn kind(&self) -> ErrorKind {
        match self {
            StatementError::Invalid(_) | StatementError::NotAllowed(_) => ErrorKind::Invalid,
            StatementError::Conflict(_) => ErrorKind::Conflict,
        }
    }
}

/// At most this many lines on one statement.
pub const MAX_LINES: usize = 100_000;

impl Statement {
    /// Decides a command: the events to append.
    pub fn decide(&self, command: StatementCommand) -> Result<Vec<StatementEvent>, StatementError> {
        match command {
            StatementCommand::Issue {
                client_id,
                month,
                lines,
                by,
                at,
            } => {
                if self.closed {
                    return Err(StatementError::Conflict(format!(
                        "the statement of {month} is issued: reopen the month to issue it again"
                    )));
                }
                if month.last_day().is_none_or(|last| last >= at.date_naive()) {
                    return Err(ValidationError::new(
                        "month",
                        "a statement is issued once its month is over",
                    )
                    .into());
                }
                if lines.len() > MAX_LINES {
                    return Err(ValidationError::new(
                        "month",
                        "too many entries for one statement",
                    )
                    .into());
                }
                Ok(vec![StatementEvent::StatementIssued {
                    client_id,
                    month,
                    revision: self.revisions + 1,
                    lines,
                    by,
                    at,
                }])
            }
            StatementCommand::Reopen { reason, by, at } => {
                if !self.closed {
                    return Err(StatementError::NotAllowed(
                        "this month is open: its statement is not issued".into(),
                    ));
                }
                let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                Ok(vec![StatementEvent::MonthReopened { reason, by, at }])
            }
        }
    }
}

impl Aggregate for Statement {
    /// Persisted identifier.
    const TYPE: &'static str = "Statement";
    type Command = StatementCommand;
    type Event = StatementEvent;
    type Error = StatementError;
    type Services = ();

    async fn handle(
        &mut self,
        command: StatementCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), StatementError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: StatementEvent) {
        match event {
            StatementEvent::StatementIssued {
                client_id,
                month,
                revision,
                ..
            } => {
                self.client_id = Some(client_id);
                self.month = Some(month);
                self.revisions = revision;
                self.closed = true;
            }
            StatementEvent::MonthReopened { .. } => self.closed = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("time")
    }

    #[test]
    fn months_parse_and_know_their_days() {
        let month = Month::parse("month", "2024-02").expect("month");
        assert_eq!(month.last_day(), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(month.to_string(), "2024-02");
        assert_eq!(
            Month::parse("month", "2024-12")
                .expect("december")
                .last_day(),
            NaiveDate::from_ymd_opt(2024, 12, 31)
        );
        for bad in ["2024-13", "2024", "x-01", "0-01", "2024-00"] {
            assert!(Month::parse("month", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuing_closes_the_month_until_a_manager_reopens_it() {
        let month = Month {
            year: 2026,
            month: 11,
        };
        let issue = |at| StatementCommand::Issue {
            client_id: Uuid::from_u128(1),
            month,
            lines: Vec::new(),
            by: Uuid::from_u128(2),
            at,
        };
        let mut statement = Statement::default();
        let early = DateTime::from_timestamp(1_795_000_000, 0).expect("2026-11-18");
        assert!(matches!(
            statement.decide(issue(early)),
            Err(StatementError::Invalid(_))
        ));
        for event in statement.decide(issue(at())).expect("issued") {
            statement.apply(event);
        }
        assert!(statement.closed);
        assert!(matches!(
            statement.decide(issue(at())),
            Err(StatementError::Conflict(_))
        ));
        let blank = statement.decide(StatementCommand::Reopen {
            reason: " ".into(),
            by: Uuid::from_u128(2),
            at: at(),
        });
        assert!(matches!(blank, Err(StatementError::Invalid(_))));
        for event in statement
            .decide(StatementCommand::Reopen {
                reason: "late approvals".into(),
                by: Uuid::from_u128(2),
                at: at(),
            })
            .expect("reopened")
        {
            statement.apply(event);
        }
        let again = statement.decide(issue(at())).expect("issued again");
        assert!(matches!(
            &again[0],
            StatementEvent::StatementIssued { revision: 2, .. }
        ));
    }

    #[test]
    fn lines_are_priced_when_billable_and_carried_over_when_dated_earlier() {
        let month = Month {
            year: 2026,
            month: 11,
        };
        let rate = Money {
            minor: 120_000,
            currency: "INR".into(),
        };
        let ids = (Uuid::from_u128(1), Uuid::from_u128(2), None);
        let date = |d| NaiveDate::from_ymd_opt(2026, 10, d).expect("date");
        let line = StatementLine::priced(
            Uuid::nil(),
            (date(31), month),
            ids,
            (-30, true),
            Some(rate.clone()),
        );
        assert!(line.carried_over);
        assert_eq!(line.amount.map(|m| m.minor), Some(-60_000));
        let unbilled = StatementLine::priced(
            Uuid::nil(),
            (NaiveDate::from_ymd_opt(2026, 11, 2).expect("date"), month),
            ids,
            (90, false),
            Some(rate),
        );
        assert!(!unbilled.carried_over);
        assert_eq!(unbilled.amount, None);
    }
}
