//! Client state, commands, events and rules.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, EmailAddress, MAX_LINE};
use crate::{ErrorKind, Rejection, ValidationError};

/// A contact as typed by a person.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactInput {
    /// New contact id.
    pub contact_id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

/// A validated contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub contact_id: Uuid,
    pub name: String,
    /// Normalised email.
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// Whether this is the primary contact.
    pub primary: bool,
}

impl ContactInput {
    /// Validates the input.
    pub fn validate(self, primary: bool) -> Result<Contact, ValidationError> {
        Ok(Contact {
            contact_id: self.contact_id,
            name: values::required_text("contactName", &self.name, MAX_LINE)?,
            email: EmailAddress::parse("contactEmail", &self.email)?
                .as_str()
                .to_owned(),
            phone: match self.phone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(raw) => Some(values::phone("contactPhone", raw)?),
            },
            primary,
        })
    }
}

/// Client state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub id: Option<Uuid>,
    /// Firm name.
    pub name: String,
    /// Lead it came from.
    pub lead_id: Option<Uuid>,
    /// Contacts, primary first.
    pub contacts: Vec<Contact>,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
}

/// Client commands.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// Create the client.
    Create {
        client_id: Uuid,
        /// Firm name.
        name: String,
        /// Source lead.
        lead_id: Option<Uuid>,
        primary_contact: ContactInput,
        at: DateTime<Utc>,
    },
    /// Add a (secondary) contact.
    AddContact {
        contact: ContactInput,
        at: DateTime<Utc>,
    },
}

/// Client events. Variant names are persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientEvent {
    /// The client was created.
    ClientCreated {
        client_id: Uuid,
        /// Firm name.
        name: String,
        /// Source lead.
        #[serde(default)]
        lead_id: Option<Uuid>,
        primary_contact: Contact,
        at: DateTime<Utc>,
    },
    /// A contact was added.
    ClientContactAdded { contact: Contact, at: DateTime<Utc> },
}

impl cqrs_es::DomainEvent for ClientEvent {
    fn event_type(&self) -> String {
        match self {
            ClientEvent::ClientCreated { .. } => "ClientCreated",
            ClientEvent::ClientContactAdded { .. } => "ClientContactAdded",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a client command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// No such client.
    #[error("client not found")]
    NotFound,
    /// Created already.
    #[error("a client with this id already exists")]
    AlreadyExists,
    /// Contact email already on this client.
    #[error("a contact with email {0} already exists on this client")]
    DuplicateContact(String),
}

impl Rejection for ClientError {
    fn kind(&self) -> ErrorKind {
        match self {
            ClientError::NotFound => ErrorKind::NotFound,
            ClientError::AlreadyExists => ErrorKind::Conflict,
            _ => ErrorKind::Invalid,
        }
    }
}

impl Aggregate for Client {
    /// Persisted identifier.
    const TYPE: &'static str = "Client";
    type Command = ClientCommand;
    type Event = ClientEvent;
    type Error = ClientError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ClientCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ClientError> {
        let event = match command {
            ClientCommand::Create {
                client_id,
                name,
                lead_id,
                primary_contact,
                at,
            } => {
                if self.id.is_some() {
                    return Err(ClientError::AlreadyExists);
                }
                ClientEvent::ClientCreated {
                    client_id,
                    name: values::required_text("name", &name, MAX_LINE)?,
                    lead_id,
                    primary_contact: primary_contact.validate(true)?,
                    at,
                }
            }
            ClientCommand::AddContact { contact, at } => {
                if self.id.is_none() {
                    return Err(ClientError::NotFound);
                }
                let contact = contact.validate(false)?;
                if self.contacts.iter().any(|c| c.email == contact.email) {
                    return Err(ClientError::DuplicateContact(contact.email));
                }
                ClientEvent::ClientContactAdded { contact, at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::ClientCreated {
                client_id,
                name,
                lead_id,
                primary_contact,
                at,
            } => {
                self.id = Some(client_id);
                self.name = name;
                self.lead_id = lead_id;
                self.contacts = vec![primary_contact];
                self.created_at = Some(at);
            }
            ClientEvent::ClientContactAdded { contact, .. } => self.contacts.push(contact),
        }
    }
}
