//! Service item events, as stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;

/// Service item events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServiceItemEvent {
    ServiceItemOpened {
        service_item_id: Uuid,
        client_id: Uuid,
        team_id: Uuid,
        category: Category,
        title: String,
        description: String,
        priority: Priority,
        due_on: Option<NaiveDate>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceItemUpdated {
        category: Category,
        title: String,
        description: String,
        priority: Priority,
        due_on: Option<NaiveDate>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceItemRouted {
        assignees: Vec<Assignment>,
        /// Assignees who were not assigned before (they are told).
        added: Vec<Uuid>,
        note: Option<String>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceItemStatusChanged {
        status: ServiceStatus,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceItemCancelled {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceNoteAdded {
        note_id: Uuid,
        body: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceItemDueSoon {
        due_on: NaiveDate,
        /// Who is told: the assignees then, or the team's managers when nobody was routed.
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    ServiceItemOverdue {
        due_on: NaiveDate,
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for ServiceItemEvent {
    fn event_type(&self) -> String {
        use ServiceItemEvent as E;
        match self {
            E::ServiceItemOpened { .. } => "ServiceItemOpened",
            E::ServiceItemUpdated { .. } => "ServiceItemUpdated",
            E::ServiceItemRouted { .. } => "ServiceItemRouted",
            E::ServiceItemStatusChanged { .. } => "ServiceItemStatusChanged",
            E::ServiceItemCancelled { .. } => "ServiceItemCancelled",
            E::ServiceNoteAdded { .. } => "ServiceNoteAdded",
            E::ServiceItemDueSoon { .. } => "ServiceItemDueSoon",
            E::ServiceItemOverdue { .. } => "ServiceItemOverdue",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for ServiceItemEvent {}
