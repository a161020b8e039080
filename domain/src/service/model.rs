//! A service item as the aggregate holds it, and its categories, priorities and statuses.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What kind of work an item is. The serialized names are persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Accounting,
    Gst,
    Legal,
    Secretarial,
    Advisory,
    Banking,
    /// Ad hoc work linked to a regulator (a notice, a query, an inspection).
    Regulatory,
}

impl Category {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Accounting => "accounting",
            Category::Gst => "gst",
            Category::Legal => "legal",
            Category::Secretarial => "secretarial",
            Category::Advisory => "advisory",
            Category::Banking => "banking",
            Category::Regulatory => "regulatory",
        }
    }
}

/// How urgent an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    /// With its team, not yet routed to anyone.
    Open,
    Routed,
    InProgress,
    WaitingOnClient,
    Done,
    Cancelled,
}

impl ServiceStatus {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Open => "open",
            ServiceStatus::Routed => "routed",
            ServiceStatus::InProgress => "in_progress",
            ServiceStatus::WaitingOnClient => "waiting_on_client",
            ServiceStatus::Done => "done",
            ServiceStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the item is finished (done or cancelled): no more routing or time.
    pub fn closed(self) -> bool {
        matches!(self, ServiceStatus::Done | ServiceStatus::Cancelled)
    }
}

/// One consultant an item is routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub user_id: Uuid,
    /// Minutes budgeted for them, if any.
    pub budget_minutes: Option<i32>,
}

/// Who issues a command, and whether they manage the item's owning team (a fact the caller
/// looks up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub manages_team: bool,
}

/// A service item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceItem {
    pub id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub category: Option<Category>,
    pub title: String,
    pub description: String,
    pub priority: Option<Priority>,
    pub due_on: Option<NaiveDate>,
    pub status: Option<ServiceStatus>,
    /// Current assignees and their budgets.
    pub assignees: BTreeMap<Uuid, Option<i32>>,
    /// The due dates a due-soon and an overdue alert were raised for.
    pub due_soon_alerted: Option<NaiveDate>,
    pub overdue_alerted: Option<NaiveDate>,
}
