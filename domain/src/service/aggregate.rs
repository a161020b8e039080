//! The service item's decisions and how its events apply.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::ValidationError;

/// Why a command was refused.
pub type ServiceError = crate::Refused;

fn forbidden(message: &str) -> ServiceError {
    ServiceError::Forbidden(message.to_owned())
}

impl ServiceItem {
    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        self.status
            .ok_or_else(|| ServiceError::NotFound("service item not found".into()))
    }

    /// The current status, refused when the item is finished.
    fn open_status(&self) -> Result<ServiceStatus, ServiceError> {
        let status = self.status()?;
        if status.closed() {
            return Err(ServiceError::NotAllowed(format!(
                "this service item is {}: it no longer changes",
                if status == ServiceStatus::Done {
                    "done (move it back to in progress first)"
                } else {
                    "cancelled"
                }
            )));
        }
        Ok(status)
    }

    /// Whether `actor` works on this item: an assignee, or a manager of its team.
    pub fn works_on(&self, actor: &Actor) -> bool {
        actor.manages_team || self.assignees.contains_key(&actor.user_id)
    }

    /// Decides a command: the events to append.
    pub fn decide(
        &self,
        command: ServiceItemCommand,
    ) -> Result<Vec<ServiceItemEvent>, ServiceError> {
        use ServiceItemCommand as C;
        let event = match command {
            C::Open {
                service_item_id,
                item,
                by,
                at,
            } => self.open(service_item_id, item, by, at),
            C::Update { actor, changes, at } => self.update(actor, changes, at),
            C::Route {
                actor,
                assignees,
                note,
                at,
            } => self.route(actor, assignees, note, at),
            C::SetStatus { actor, status, at } => self.set_status(actor, status, at),
            C::Cancel { actor, reason, at } => self.cancel(actor, reason, at),
            C::AddNote {
                note_id,
                body,
                by,
                at,
            } => self.add_note(note_id, body, by, at),
            C::FlagDue {
                today,
                managers,
                at,
            } => self.flag_due(today, managers, at),
        }?;
        Ok(event.into_iter().collect())
    }

    /// Opens the item.
    fn open(
        &self,
        service_item_id: Uuid,
        item: ServiceItemInput,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        if self.status.is_some() {
            return Err(ServiceError::Conflict(
                "this service item exists already".into(),
            ));
        }
        Ok(Some(E::ServiceItemOpened {
            service_item_id,
            client_id: item.client_id,
            team_id: item.team_id,
            category: item.category,
            title: values::required_text("title", &item.title, MAX_LINE)?,
            description: values::optional_text("description", Some(&item.description), MAX_TEXT)?
                .unwrap_or_default(),
            priority: item.priority,
            due_on: item.due_on,
            by,
            at,
        }))
    }

    /// Changes its details, by an assignee or a manager of its team.
    fn update(
        &self,
        actor: Actor,
        changes: ServiceItemChanges,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        self.open_status()?;
        if !self.works_on(&actor) {
            return Err(forbidden(
                "only its assignees and its team's managers change a service item",
            ));
        }
        let title = match changes.title {
            Some(t) => values::required_text("title", &t, MAX_LINE)?,
            None => self.title.clone(),
        };
        let description = match changes.description {
            Some(d) => {
                values::optional_text("description", Some(&d), MAX_TEXT)?.unwrap_or_default()
            }
            None => self.description.clone(),
        };
        let category = changes
            .category
            .or(self.category)
            .unwrap_or(Category::Advisory);
        let priority = changes
            .priority
            .or(self.priority)
            .unwrap_or(Priority::Normal);
        let due_on = changes.due_on.unwrap_or(self.due_on);
        if title == self.title
            && description == self.description
            && Some(category) == self.category
            && Some(priority) == self.priority
            && due_on == self.due_on
        {
            return Ok(None);
        }
        Ok(Some(E::ServiceItemUpdated {
            category,
            title,
            description,
            priority,
            due_on,
            by: actor.user_id,
            at,
        }))
    }

    /// Routes it to consultants, by a manager of its team.
    fn route(
        &self,
        actor: Actor,
        mut assignees: Vec<Assignment>,
        note: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        self.open_status()?;
        if !actor.manages_team {
            return Err(forbidden(
                "only a manager of the owning team routes a service item",
            ));
        }
        if assignees.is_empty() {
            return Err(ValidationError::new("assignees", "name at least one consultant").into());
        }
        assignees.sort_by_key(|a| a.user_id);
        if assignees.windows(2).any(|w| w[0].user_id == w[1].user_id) {
            return Err(ValidationError::new("assignees", "name each consultant once").into());
        }
        if assignees.iter().any(|a| {
            a.budget_minutes
                .is_some_and(|b| !(1..=MAX_BUDGET_MINUTES).contains(&b))
        }) {
            return Err(ValidationError::new(
                "budgetMinutes",
                "must be between 1 and 60000 (1000 hours)",
            )
            .into());
        }
        let same = assignees.len() == self.assignees.len()
            && assignees
                .iter()
                .all(|a| self.assignees.get(&a.user_id) == Some(&a.budget_minutes));
        if same {
            return Ok(None);
        }
        let added = assignees
            .iter()
            .map(|a| a.user_id)
            .filter(|id| !self.assignees.contains_key(id))
            .collect();
        Ok(Some(E::ServiceItemRouted {
            assignees,
            added,
            note: values::optional_text("note", note.as_deref(), MAX_TEXT)?,
            by: actor.user_id,
            at,
        }))
    }

    /// Moves it, by an assignee or a manager of its team.
    fn set_status(
        &self,
        actor: Actor,
        status: ServiceStatus,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        let current = self.status()?;
        if current == ServiceStatus::Cancelled {
            return Err(ServiceError::NotAllowed(
                "this service item is cancelled: it no longer changes".into(),
            ));
        }
        if !self.works_on(&actor) {
            return Err(forbidden(
                "only its assignees and its team's managers move a service item",
            ));
        }
        let allowed = match status {
            ServiceStatus::InProgress => true,
            ServiceStatus::WaitingOnClient | ServiceStatus::Done => current != ServiceStatus::Done,
            _ => false,
        };
        if !allowed {
            return Err(ServiceError::NotAllowed(format!(
                "a service item moves to in progress, waiting on client or done (a done one back to in progress); \
                 routing and cancelling are their own actions (it is {})",
                current.as_str()
            )));
        }
        if self.assignees.is_empty() {
            return Err(ServiceError::NotAllowed(
                "route this service item to someone first".into(),
            ));
        }
        if status == current {
            return Ok(None);
        }
        Ok(Some(E::ServiceItemStatusChanged {
            status,
            by: actor.user_id,
            at,
        }))
    }

    /// Cancels it with a reason, by a manager of its team.
    fn cancel(
        &self,
        actor: Actor,
        reason: String,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        self.open_status()?;
        if !actor.manages_team {
            return Err(forbidden(
                "only a manager of the owning team cancels a service item",
            ));
        }
        Ok(Some(E::ServiceItemCancelled {
            reason: values::required_text("reason", &reason, MAX_TEXT)?,
            by: actor.user_id,
            at,
        }))
    }

    /// Adds a note.
    fn add_note(
        &self,
        note_id: Uuid,
        body: String,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        self.status()?;
        Ok(Some(E::ServiceNoteAdded {
            note_id,
            body: values::required_text("body", &body, MAX_TEXT)?,
            by,
            at,
        }))
    }

    /// Raises a due-soon or an overdue alert, once per due date.
    fn flag_due(
        &self,
        today: NaiveDate,
        managers: Vec<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Option<ServiceItemEvent>, ServiceError> {
        use ServiceItemEvent as E;
        let Some(due_on) = self.due_on else {
            return Ok(None);
        };
        if self.status()?.closed() {
            return Ok(None);
        }
        let notify: Vec<Uuid> = if self.assignees.is_empty() {
            managers
        } else {
            self.assignees.keys().copied().collect()
        };
        if due_on < today {
            if self.overdue_alerted == Some(due_on) {
                return Ok(None);
            }
            Ok(Some(E::ServiceItemOverdue { due_on, notify, at }))
        } else if (due_on - today).num_days() <= DUE_SOON_DAYS
            && self.due_soon_alerted != Some(due_on)
        {
            Ok(Some(E::ServiceItemDueSoon { due_on, notify, at }))
        } else {
            Ok(None)
        }
    }
}

impl Aggregate for ServiceItem {
    /// Persisted identifier.
    const TYPE: &'static str = "ServiceItem";
    type Command = ServiceItemCommand;
    type Event = ServiceItemEvent;
    type Error = ServiceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ServiceItemCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ServiceError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ServiceItemEvent) {
        use ServiceItemEvent as E;
        match event {
            E::ServiceItemOpened {
                service_item_id,
                client_id,
                team_id,
                category,
                title,
                description,
                priority,
                due_on,
                ..
            } => {
                *self = ServiceItem {
                    id: Some(service_item_id),
                    client_id: Some(client_id),
                    team_id: Some(team_id),
                    category: Some(category),
                    title,
                    description,
                    priority: Some(priority),
                    due_on,
                    status: Some(ServiceStatus::Open),
                    ..ServiceItem::default()
                };
            }
            E::ServiceItemUpdated {
                category,
                title,
                description,
                priority,
                due_on,
                ..
            } => {
                self.category = Some(category);
                self.title = title;
                self.description = description;
                self.priority = Some(priority);
                self.due_on = due_on;
            }
            E::ServiceItemRouted { assignees, .. } => {
                self.assignees = assignees
                    .into_iter()
                    .map(|a| (a.user_id, a.budget_minutes))
                    .collect();
                if self.status == Some(ServiceStatus::Open) {
                    self.status = Some(ServiceStatus::Routed);
                }
            }
            E::ServiceItemStatusChanged { status, .. } => self.status = Some(status),
            E::ServiceItemCancelled { .. } => self.status = Some(ServiceStatus::Cancelled),
            E::ServiceNoteAdded { .. } => {}
            E::ServiceItemDueSoon { due_on, .. } => self.due_soon_alerted = Some(due_on),
            E::ServiceItemOverdue { due_on, .. } => self.overdue_alerted = Some(due_on),
        }
    }
}
