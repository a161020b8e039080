//! The `notification-emails` and `notification-whatsapp` reactors: each notification an
//! event made goes out on the channels its recipient takes, once.

use async_trait::async_trait;
use projections::StoredEvent;
use sqlx::PgPool;
use uuid::Uuid;

use crate::outbox::{queue_emails, queue_whatsapp, Email, WhatsApp};
use crate::runner::{ReactionError, Reactor};

/// A channel notifications also go by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// Unless muted or taken as the daily digest.
    Email,
    /// The kinds opted into, to the number given.
    WhatsApp,
}

/// Queues the message of each notification an event made on one channel, once: the
/// outbox's dedupe key is the notification's `event id:user:kind`. A reactor, so a rebuild
/// of the notifications never sends anything again.
#[derive(Debug)]
pub(crate) struct NotificationMessages {
    /// Where the notifications and the outboxes are.
    pub pool: PgPool,
    pub channel: Channel,
}

/// A notification of the event, with where its recipient takes it.
#[derive(sqlx::FromRow)]
struct Outgoing {
    id: Uuid,
    kind: String,
    user_id: Uuid,
    title: String,
    body: String,
    address: String,
}

impl Outgoing {
    fn dedupe_key(&self, event: &StoredEvent) -> String {
        format!("{}:{}:{}", event.event_id, self.user_id, self.kind)
    }
}

#[async_trait]
impl Reactor for NotificationMessages {
    fn name(&self) -> &'static str {
        match self.channel {
            Channel::Email => "notification-emails",
            Channel::WhatsApp => "notification-whatsapp",
        }
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project", "ServiceItem", "WebhookEndpoint"]
    }

    fn after(&self) -> &'static [&'static str] {
        &[projections::notifications::NAME]
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        let who = match self.channel {
            Channel::Email => {
                "r.email AS address FROM notifications n \
                   JOIN notification_recipients r ON r.user_id = n.user_id \
                  WHERE n.event_id = $1 AND NOT r.digest AND NOT n.kind = ANY(r.email_muted)"
            }
            Channel::WhatsApp => {
                "r.whatsapp_number AS address FROM notifications n \
                   JOIN notification_recipients r ON r.user_id = n.user_id \
                  WHERE n.event_id = $1 AND r.whatsapp_number IS NOT NULL AND n.kind = ANY(r.whatsapp)"
            }
        };
        let outgoing: Vec<Outgoing> = sqlx::query_as(&format!(
            "SELECT n.id, n.kind, n.user_id, n.title, n.body, {who} ORDER BY n.id"
        ))
        .bind(event.event_id)
        .fetch_all(&self.pool)
        .await?;
        // Most events make no notification for this channel: nothing to queue.
        if outgoing.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        match self.channel {
            Channel::Email => {
                let emails: Vec<Email> = outgoing
                    .into_iter()
                    .map(|n| Email {
                        dedupe_key: Some(n.dedupe_key(event)),
                        id: n.id,
                        kind: n.kind,
                        to_address: n.address,
                        subject: n.title,
                        body: n.body,
                        user_id: Some(n.user_id),
                    })
                    .collect();
                queue_emails(&mut conn, &emails).await?;
            }
            Channel::WhatsApp => {
                let messages: Vec<WhatsApp> = outgoing
                    .into_iter()
                    .map(|n| WhatsApp {
                        dedupe_key: n.dedupe_key(event),
                        id: n.id,
                        kind: n.kind,
                        user_id: n.user_id,
                        to_number: n.address,
                        body: format!("{}\n\n{}", n.title, n.body),
                    })
                    .collect();
                queue_whatsapp(&mut conn, &messages).await?;
            }
        }
        Ok(())
    }
}
