//! A stage's service-level clock: whole days used against the days allowed.

use chrono::{DateTime, Utc};

/// What a stage's clock is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageClock {
    /// The stage's clock in days (none: no clock).
    pub sla_days: Option<u32>,
    /// The extension granted.
    pub extended_days: Option<u32>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl StageClock {
    /// Days allowed: the clock and its granted extension; none without a clock.
    pub fn allowed_days(&self) -> Option<i64> {
        self.sla_days
            .map(|d| i64::from(d) + i64::from(self.extended_days.unwrap_or(0)))
    }

    /// Whole days from the start to completion, or to `now`; none before the start.
    pub fn used_days(&self, now: DateTime<Utc>) -> Option<i64> {
        let end = self.completed_at.unwrap_or(now);
        Some((end - self.started_at?).num_days())
    }

    /// Days left (negative: overdue); none without a clock or before the start.
    pub fn days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        Some(self.allowed_days()? - self.used_days(now)?)
    }

    /// The clock ran out before the stage completed (or before `now`, while it runs).
    pub fn breached(&self, now: DateTime<Utc>) -> bool {
        self.days_left(now).is_some_and(|left| left < 0)
    }
}
