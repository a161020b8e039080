//! The process managers: follow-up commands issued because an event happened, each a
//! [`Reactor`] run by `projections::reactor`.

use std::sync::Arc;

use async_trait::async_trait;
use domain::client::ClientEvent;
use projections::reactor::{ReactionError, Reactor};
use projections::runner::decode;
use projections::StoredEvent;
use uuid::Uuid;

use crate::{CommandBus, CommandContext, CommandError, PortalInvitation};

/// The portal user a converted client's primary contact gets: derived from the client, so
/// the conversion can name it (and reserve its email) before the reactor registers it.
pub fn portal_user_id(client_id: Uuid) -> Uuid {
    Uuid::new_v5(&client_id, b"portal-user")
}

impl From<CommandError> for ReactionError {
    fn from(error: CommandError) -> Self {
        ReactionError(error.to_string())
    }
}

impl CommandBus {
    /// The context of `reactor`'s command `step` for `event`: caused by it, in its user
    /// action's correlation, landing once.
    pub async fn reaction_context(
        &self,
        reactor: &str,
        event: &StoredEvent,
        step: &str,
    ) -> Result<CommandContext, CommandError> {
        let correlation: Option<String> = sqlx::query_scalar(
            "SELECT metadata->>'correlation_id' FROM events WHERE event_id = $1",
        )
        .bind(event.event_id)
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        let correlation_id = correlation
            .and_then(|c| Uuid::parse_str(&c).ok())
            .unwrap_or(event.event_id);
        Ok(CommandContext::reacting_to(
            reactor,
            event.event_id,
            correlation_id,
            step,
        ))
    }
}

/// Gives the primary contact of a client converted from a lead a portal user and sends
/// them the set-password link.
#[derive(Debug)]
pub struct PortalAccess {
    /// The command bus.
    pub bus: Arc<CommandBus>,
}

impl PortalAccess {
    /// Persisted name.
    pub const NAME: &'static str = "portal-access";
}

#[async_trait]
impl Reactor for PortalAccess {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Client"]
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        let ClientEvent::ClientCreated {
            client_id,
            name,
            lead_id: Some(_),
            primary_contact,
            ..
        } = decode(event)?
        else {
            return Ok(());
        };
        let ctx = self
            .bus
            .reaction_context(Self::NAME, event, "invite")
            .await?;
        let invitation = PortalInvitation {
            user_id: portal_user_id(client_id),
            email: primary_contact.email,
            display_name: primary_contact.name,
            client_id,
            client_name: name,
        };
        self.bus.invite_portal_user(&ctx, invitation).await?;
        Ok(())
    }
}

/// Logs each mapped entry from the productivity platform as its user's draft, under the
/// entry id derived from it; when the timesheet refuses it (the daily limit, a closed
/// month), the entry goes back to the review queue with the reason.
#[derive(Debug)]
pub struct ExternalTime {
    /// The command bus.
    pub bus: Arc<CommandBus>,
}

impl ExternalTime {
    /// Persisted name.
    pub const NAME: &'static str = "external-time";
}

#[async_trait]
impl Reactor for ExternalTime {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["ExternalEntry"]
    }

    /// A person's entries in log order (their timesheets are their streams), different
    /// people's side by side.
    fn partition(&self, event: &StoredEvent) -> u128 {
        use domain::integration::ExternalEntryEvent as E;
        match decode(event) {
            Ok(E::ExternalEntryReceived {
                mapping: Some(mapping),
                ..
            })
            | Ok(E::ExternalEntryMapped { mapping, .. }) => mapping.user_id.as_u128(),
            _ => 0,
        }
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        use domain::integration::{
            time_entry_id, ExternalEntry, ExternalEntryCommand, ExternalEntryEvent as E,
        };
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let (input, mapping) = match decode(event)? {
            E::ExternalEntryReceived {
                input,
                mapping: Some(mapping),
                ..
            } => (input, mapping),
            E::ExternalEntryMapped { mapping, .. } => {
                let entry: ExternalEntry = self.bus.load(id).await?;
                let Some(input) = entry.input else {
                    return Ok(());
                };
                (input, mapping)
            }
            _ => return Ok(()),
        };
        let month = domain::statement::Month::of(input.date);
        let month_closed = projections::statements::closed_for_matter(
            &self.bus.pool,
            mapping.work.matter_id(),
            month,
        )
        .await
        .map_err(|e| ReactionError(e.to_string()))?;
        let ctx = self.bus.reaction_context(Self::NAME, event, "log").await?;
        let command = domain::timesheet::TimesheetCommand::Log {
            user_id: mapping.user_id,
            entry_id: time_entry_id(id),
            entry: domain::timesheet::EntryInput {
                date: input.date,
                minutes: input.minutes,
                description: input.description,
                billable: input.billable,
                work: mapping.work,
            },
            month_closed,
            external_id: Some(input.external_id),
            at: event.recorded_at,
        };
        let week = chrono::Datelike::iso_week(&input.date);
        match self
            .bus
            .timesheet(&ctx, mapping.user_id, week, command)
            .await
        {
            Ok(_) => Ok(()),
            Err(CommandError::Rejected { message, .. }) => {
                let ctx = self
                    .bus
                    .reaction_context(Self::NAME, event, "refuse")
                    .await?;
                let refuse = ExternalEntryCommand::Refuse {
                    reason: message,
                    at: event.recorded_at,
                };
                self.bus.external_entry(&ctx, id, refuse).await?;
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// Every reactor the command side runs, over `bus`.
pub fn all(bus: &Arc<CommandBus>) -> Vec<Arc<dyn Reactor>> {
    vec![
        Arc::new(PortalAccess { bus: bus.clone() }),
        Arc::new(ExternalTime { bus: bus.clone() }),
        Arc::new(crate::rule_changes::RulePublication { bus: bus.clone() }),
        Arc::new(projections::notifications::NotificationMessages {
            pool: bus.pool.clone(),
            channel: projections::notifications::Channel::Email,
        }),
        Arc::new(projections::notifications::NotificationMessages {
            pool: bus.pool.clone(),
            channel: projections::notifications::Channel::WhatsApp,
        }),
        Arc::new(projections::webhooks::WebhookFanOut {
            pool: bus.pool.clone(),
        }),
    ]
}
