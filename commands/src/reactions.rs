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

/// Every reactor the command side runs, over `bus`.
pub fn all(bus: &Arc<CommandBus>) -> Vec<Arc<dyn Reactor>> {
    vec![
        Arc::new(PortalAccess { bus: bus.clone() }),
        Arc::new(projections::notifications::NotificationEmails {
            pool: bus.pool.clone(),
        }),
    ]
}
