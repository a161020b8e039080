//! ZippCRM's reactions: everything that happens *because* an event happened, or because
//! time passed (ADR 0008, ADR 0014).
//!
//! - [`runner`]: the reactor runner, reading the log in the projections' order, from a
//!   checkpoint of its own, with retries and parking.
//! - The reactors: [`access::PortalAccess`] (a converted client's portal user and their
//!   set-password link), [`external_time::ExternalTime`] (entries from the productivity
//!   platform become drafts), [`rule_publication::RulePublication`] (what follows a rule
//!   change's publication), [`notification_messages::NotificationMessages`] (notifications
//!   by email and WhatsApp) and [`webhooks::WebhookFanOut`] (one delivery per endpoint).
//! - [`outbox`]: the one writer of each message queue.
//! - The couriers, on one machinery ([`courier`]): email ([`mail`]), webhook deliveries
//!   ([`webhooks`]) and WhatsApp ([`whatsapp`]).
//! - [`scheduler`]: expiry alerts, reminders, due dates and digests, by the day.
//!
//! The write side (`commands`) decides; the read side (`projections`) folds and answers;
//! neither writes a queue nor sends anything.

use std::sync::Arc;

use commands::CommandBus;

pub mod access;
pub mod courier;
mod external_time;
pub mod mail;
mod notification_messages;
pub mod outbox;
mod rule_publication;
pub mod runner;
pub mod scheduler;
pub mod webhooks;
pub mod whatsapp;

pub use runner::{ReactionError, Reactor};

/// Every reactor the service runs, over `bus`; links in their messages point at
/// `portal_url`.
pub fn all(bus: &Arc<CommandBus>, portal_url: &str) -> Vec<Arc<dyn Reactor>> {
    use notification_messages::{Channel, NotificationMessages};
    let pool = bus.pool().clone();
    vec![
        Arc::new(access::PortalAccess {
            bus: bus.clone(),
            portal_url: portal_url.to_owned(),
        }),
        Arc::new(external_time::ExternalTime { bus: bus.clone() }),
        Arc::new(rule_publication::RulePublication { bus: bus.clone() }),
        Arc::new(NotificationMessages {
            pool: pool.clone(),
            channel: Channel::Email,
        }),
        Arc::new(NotificationMessages {
            pool: pool.clone(),
            channel: Channel::WhatsApp,
        }),
        Arc::new(webhooks::WebhookFanOut { pool }),
    ]
}
