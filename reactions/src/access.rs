//! The messages that give a person access: the set-password link a converted client's
//! primary contact gets (the `portal-access` reactor), and the password-reset link anyone
//! may ask for. Each is queued with its one-time token in one transaction, under a dedupe
//! key, so a token exists only for a message that goes, and a message goes once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use commands::users::{issue_password_token, portal_user_id};
use commands::{CommandBus, CommandError, PortalInvitation};
use domain::client::ClientEvent;
use projections::runner::decode;
use projections::StoredEvent;
use uuid::Uuid;

use crate::outbox::{queue_emails, Email};
use crate::runner::{reaction_context, ReactionError, Reactor};

/// How long a set-password link stays valid.
const INVITATION_DAYS: i64 = 7;
/// How long a password-reset link works.
const RESET_MINUTES: i64 = 60;
/// At most one reset message per account in this many minutes.
const RESET_EVERY_MINUTES: i64 = 5;

/// Gives the primary contact of a client converted from a lead a portal user and sends
/// them the set-password link.
#[derive(Debug)]
pub struct PortalAccess {
    /// The command bus.
    pub bus: Arc<CommandBus>,
    /// Where links in messages point (`PORTAL_URL`).
    pub portal_url: String,
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
        let ctx = reaction_context(self.bus.pool(), Self::NAME, event, "invite").await?;
        let invitation = PortalInvitation {
            user_id: portal_user_id(client_id),
            email: primary_contact.email,
            display_name: primary_contact.name,
            client_id,
            client_name: name,
        };
        self.bus.register_portal_user(&ctx, &invitation).await?;
        let expires_at = ctx.issued_at + Duration::days(INVITATION_DAYS);
        let mut tx = self.bus.pool().begin().await?;
        let token = issue_password_token(&mut tx, invitation.user_id, expires_at).await?;
        let email = Email {
            id: Uuid::now_v7(),
            kind: "set_password".into(),
            to_address: invitation.email,
            subject: "Your ZippCRM portal access".into(),
            body: format!(
                "Hello {name},\n\n{firm} now follows your matters in the ZippCRM client portal.\n\
                 Set your password here (the link works once and expires in {INVITATION_DAYS} days):\n\n\
                 {portal}/set-password?token={token}\n",
                name = invitation.display_name,
                firm = invitation.client_name,
                portal = self.portal_url.trim_end_matches('/'),
            ),
            user_id: Some(invitation.user_id),
            dedupe_key: Some(format!("set_password:{}", invitation.user_id)),
        };
        // Queued once, with its token, under the user's key: a second run queues neither.
        if !queue_emails(&mut tx, &[email]).await?.is_empty() {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Queues a password-reset link for the active account of `email`, if there is one: a
/// one-time token, stored hashed, working for an hour. Asked for an address with no
/// account, or again within minutes, it does nothing, and says nothing either way.
pub async fn request_password_reset(
    bus: &CommandBus,
    portal_url: &str,
    email: &str,
    at: DateTime<Utc>,
) -> Result<(), CommandError> {
    let Some(user_id) = bus.user_by_email(email).await? else {
        return Ok(());
    };
    let Some(user) = bus.load_user(user_id).await?.filter(|u| u.active) else {
        return Ok(());
    };
    let window = at.timestamp().div_euclid(RESET_EVERY_MINUTES * 60);
    let mut tx = bus.pool().begin().await?;
    let token =
        issue_password_token(&mut tx, user_id, at + Duration::minutes(RESET_MINUTES)).await?;
    let email = Email {
        id: Uuid::now_v7(),
        kind: "password_reset".into(),
        to_address: user.email,
        subject: "Reset your ZippCRM password".into(),
        body: format!(
            "Hello {name},\n\nSomeone asked to reset the password of your ZippCRM account.\n\
             Choose a new one here (the link works once and expires in {RESET_MINUTES} minutes;\n\
             using it signs you out everywhere else):\n\n\
             {portal}/set-password?token={token}\n",
            name = user.display_name,
            portal = portal_url.trim_end_matches('/'),
        ),
        user_id: Some(user_id),
        dedupe_key: Some(format!("password_reset:{user_id}:{window}")),
    };
    if !queue_emails(&mut tx, &[email]).await?.is_empty() {
        tx.commit().await?;
    }
    Ok(())
}
