//! User state, commands, events and rules.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, EmailAddress, MAX_LINE};
use crate::{ErrorKind, Rejection, Role, ValidationError};

/// User state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Option<Uuid>,
    /// Normalised email.
    pub email: String,
    pub display_name: String,
    pub role: Option<Role>,
    /// For portal users: their client.
    pub client_id: Option<Uuid>,
    /// Whether the user may log in.
    pub active: bool,
    /// Notification kinds that reach them in the app only, not by email.
    #[serde(default)]
    pub email_muted: Vec<String>,
    /// One email a day listing the day's notifications instead of one each.
    #[serde(default)]
    pub digest: bool,
    /// Notification kinds also sent by WhatsApp (opted in, to `whatsapp_number`).
    #[serde(default)]
    pub whatsapp: Vec<String>,
    #[serde(default)]
    pub whatsapp_number: Option<String>,
}

/// Declares [`NotificationKind`] from one list: each variant with its persisted name.
macro_rules! notification_kinds {
    ($($variant:ident = $name:literal,)+) => {
        /// The kinds of notification; each reaches its recipient in the app, and by email
        /// unless they muted it or take the daily digest.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum NotificationKind {
            $(
                #[doc = $name]
                $variant,
            )+
        }

        impl NotificationKind {
            /// Every kind, in the order people see them listed.
            pub const ALL: &'static [NotificationKind] = &[$(NotificationKind::$variant),+];

            /// The persisted name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(NotificationKind::$variant => $name,)+
                }
            }

            /// The kind of a persisted name.
            pub fn parse(name: &str) -> Option<NotificationKind> {
                Self::ALL.iter().copied().find(|k| k.as_str() == name)
            }
        }
    };
}

notification_kinds! {
    RequestRaised = "request_raised",
    UploadReceived = "upload_received",
    UploadReviewed = "upload_reviewed",
    StageAdvanced = "stage_advanced",
    TaskAssigned = "task_assigned",
    LicenceExpiry = "licence_expiry",
    ServiceRouted = "service_routed",
    ServiceDueSoon = "service_due_soon",
    ServiceOverdue = "service_overdue",
    TemplateVersionPublished = "template_version_published",
    WebhookEndpointDisabled = "webhook_endpoint_disabled",
}

/// User commands.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// Register a user.
    Register {
        user_id: Uuid,
        email: String,
        display_name: String,
        role: Role,
        /// Client, required for (and only for) portal users.
        client_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// Record that the password was set or changed (the hash is stored elsewhere).
    RecordPasswordChange { at: DateTime<Utc> },
    /// Change an internal user's role.
    ChangeRole {
        /// New role.
        role: Role,
        at: DateTime<Utc>,
    },
    /// Deactivate the user.
    Deactivate { at: DateTime<Utc> },
    /// Mark in-app notifications read (`None`: all of them up to `at`).
    MarkNotificationsRead {
        /// Notification ids.
        ids: Option<Vec<Uuid>>,
        at: DateTime<Utc>,
    },
    /// Choose which notification kinds also come by email, and whether as a daily digest.
    SetNotificationPreferences {
        email_muted: Vec<String>,
        digest: bool,
        /// Kinds also sent by WhatsApp.
        whatsapp: Vec<String>,
        /// Where WhatsApp messages go (E.164); needed to opt in.
        whatsapp_number: Option<String>,
        at: DateTime<Utc>,
    },
}

/// User events. Variant names are persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    /// A user was registered.
    UserRegistered {
        user_id: Uuid,
        email: String,
        display_name: String,
        role: Role,
        /// Client (portal users).
        #[serde(default)]
        client_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// The password was set or changed.
    UserPasswordChanged { at: DateTime<Utc> },
    UserRoleChanged {
        /// New role.
        role: Role,
        at: DateTime<Utc>,
    },
    /// The user was deactivated.
    UserDeactivated { at: DateTime<Utc> },
    /// The user read notifications (`ids`: those; `None`: every one created up to `at`).
    NotificationsRead {
        /// Notification ids.
        ids: Option<Vec<Uuid>>,
        at: DateTime<Utc>,
    },
    /// The user chose how notifications reach them besides the app.
    NotificationPreferencesSet {
        /// Kinds not emailed.
        email_muted: Vec<String>,
        /// A daily digest instead of single emails.
        digest: bool,
        /// Kinds also sent by WhatsApp (opt-in).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        whatsapp: Vec<String>,
        /// The number they go to, E.164.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        whatsapp_number: Option<String>,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            UserEvent::UserRegistered { .. } => "UserRegistered",
            UserEvent::UserPasswordChanged { .. } => "UserPasswordChanged",
            UserEvent::UserRoleChanged { .. } => "UserRoleChanged",
            UserEvent::UserDeactivated { .. } => "UserDeactivated",
            UserEvent::NotificationsRead { .. } => "NotificationsRead",
            UserEvent::NotificationPreferencesSet { .. } => "NotificationPreferencesSet",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a user command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UserError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// Registered already.
    #[error("a user with this id already exists")]
    AlreadyExists,
    /// Portal users belong to exactly one client; internal users to none.
    #[error("portal users must belong to a client and internal users must not")]
    ClientMismatch,
    /// Portal users cannot become internal, nor the reverse.
    #[error("a portal user's role cannot change to an internal role, nor the reverse")]
    PortalRoleChange,
    /// Deactivated users change no more.
    #[error("the user is deactivated")]
    Deactivated,
}

impl Rejection for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            UserError::NotFound => ErrorKind::NotFound,
            UserError::AlreadyExists => ErrorKind::Conflict,
            _ => ErrorKind::Invalid,
        }
    }
}

impl User {
    fn live(&self) -> Result<(), UserError> {
        match (self.id, self.active) {
            (None, _) => Err(UserError::NotFound),
            (Some(_), false) => Err(UserError::Deactivated),
            _ => Ok(()),
        }
    }
}

impl Aggregate for User {
    /// Persisted identifier.
    const TYPE: &'static str = "User";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UserCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UserError> {
        let event = match command {
            UserCommand::Register {
                user_id,
                email,
                display_name,
                role,
                client_id,
                at,
            } => {
                if self.id.is_some() {
                    return Err(UserError::AlreadyExists);
                }
                if role.is_portal() != client_id.is_some() {
                    return Err(UserError::ClientMismatch);
                }
                UserEvent::UserRegistered {
                    user_id,
                    email: EmailAddress::parse("email", &email)?.as_str().to_owned(),
                    display_name: values::required_text("displayName", &display_name, MAX_LINE)?,
                    role,
                    client_id,
                    at,
                }
            }
            UserCommand::RecordPasswordChange { at } => {
                self.live()?;
                UserEvent::UserPasswordChanged { at }
            }
            UserCommand::ChangeRole { role, at } => {
                self.live()?;
                if self.role.map(Role::is_portal) != Some(role.is_portal()) {
                    return Err(UserError::PortalRoleChange);
                }
                if self.role == Some(role) {
                    return Ok(());
                }
                UserEvent::UserRoleChanged { role, at }
            }
            UserCommand::Deactivate { at } => {
                self.live()?;
                UserEvent::UserDeactivated { at }
            }
            UserCommand::MarkNotificationsRead { ids, at } => {
                self.live()?;
                if ids
                    .as_ref()
                    .is_some_and(|ids| ids.is_empty() || ids.len() > 500)
                {
                    return Err(ValidationError::new(
                        "ids",
                        "give between 1 and 500 notification ids",
                    )
                    .into());
                }
                UserEvent::NotificationsRead { ids, at }
            }
            UserCommand::SetNotificationPreferences {
                email_muted,
                digest,
                whatsapp,
                whatsapp_number,
                at,
            } => {
                self.live()?;
                let email_muted = known_kinds("emailMuted", email_muted)?;
                let whatsapp = known_kinds("whatsapp", whatsapp)?;
                let whatsapp_number = whatsapp_number.as_deref().map(phone_number).transpose()?;
                if !whatsapp.is_empty() && whatsapp_number.is_none() {
                    return Err(ValidationError::new(
                        "whatsappNumber",
                        "give the number WhatsApp messages go to",
                    )
                    .into());
                }
                if email_muted == self.email_muted
                    && digest == self.digest
                    && whatsapp == self.whatsapp
                    && whatsapp_number == self.whatsapp_number
                {
                    return Ok(());
                }
                UserEvent::NotificationPreferencesSet {
                    email_muted,
                    digest,
                    whatsapp,
                    whatsapp_number,
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserRegistered {
                user_id,
                email,
                display_name,
                role,
                client_id,
                ..
            } => {
                *self = User {
                    id: Some(user_id),
                    email,
                    display_name,
                    role: Some(role),
                    client_id,
                    active: true,
                    ..User::default()
                };
            }
            UserEvent::UserPasswordChanged { .. } => {}
            UserEvent::UserRoleChanged { role, .. } => self.role = Some(role),
            UserEvent::UserDeactivated { .. } => self.active = false,
            UserEvent::NotificationsRead { .. } => {}
            UserEvent::NotificationPreferencesSet {
                email_muted,
                digest,
                whatsapp,
                whatsapp_number,
                ..
            } => {
                self.email_muted = email_muted;
                self.digest = digest;
                self.whatsapp = whatsapp;
                self.whatsapp_number = whatsapp_number;
            }
        }
    }
}

/// Kinds of notification named in a preference: each known, sorted, once.
fn known_kinds(
    field: &'static str,
    mut kinds: Vec<String>,
) -> Result<Vec<String>, ValidationError> {
    if let Some(unknown) = kinds.iter().find(|k| NotificationKind::parse(k).is_none()) {
        return Err(ValidationError::new(
            field,
            format!(
                "'{unknown}' is not a kind of notification (one of {})",
                NotificationKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}

/// A phone number in E.164 form (`+` and 8 to 15 digits); spaces, dashes, dots and
/// parentheses are dropped.
pub fn phone_number(raw: &str) -> Result<String, ValidationError> {
    let number: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = number.strip_prefix('+').unwrap_or("");
    if !(8..=15).contains(&digits.len())
        || !digits.chars().all(|c| c.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(ValidationError::new(
            "whatsappNumber",
            "must be an international number such as +91 98200 12345",
        ));
    }
    Ok(number)
}
