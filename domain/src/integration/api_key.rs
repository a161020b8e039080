//! An API key: what an integration authenticates with, and the integration it stands for.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{stands_for, IntegrationError, Scope, MAX_KEY_DAYS};
use crate::values::{self, MAX_LINE};
use crate::ValidationError;

/// An API key of an integration. Its secret is never in the log: the write side keeps its
/// hash beside it, as it does passwords.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Option<Uuid>,
    /// The integration it stands for (absent for keys made before keys named one: they
    /// stand for [`SHARED_INTEGRATION`]).
    pub integration_id: Option<Uuid>,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiKeyCommand {
    Create {
        key_id: Uuid,
        /// The integration it stands for: its own id for a new one, or the integration of
        /// an earlier key of the same platform (a fact the caller checked).
        integration_id: Uuid,
        name: String,
        scopes: Vec<Scope>,
        expires_at: DateTime<Utc>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Revoke {
        by: Uuid,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiKeyEvent {
    ApiKeyCreated {
        key_id: Uuid,
        /// Absent in the events of keys made before keys named their integration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        integration_id: Option<Uuid>,
        name: String,
        scopes: Vec<Scope>,
        expires_at: DateTime<Utc>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ApiKeyRevoked {
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for ApiKeyEvent {
    fn event_type(&self) -> String {
        match self {
            ApiKeyEvent::ApiKeyCreated { .. } => "ApiKeyCreated",
            ApiKeyEvent::ApiKeyRevoked { .. } => "ApiKeyRevoked",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for ApiKeyEvent {}

impl ApiKey {
    /// The integration this key stands for.
    pub fn integration(&self) -> Uuid {
        stands_for(self.integration_id)
    }

    pub fn decide(&self, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, IntegrationError> {
        match command {
            ApiKeyCommand::Create {
                key_id,
                integration_id,
                name,
                mut scopes,
                expires_at,
                by,
                at,
            } => {
                if self.id.is_some() {
                    return Err(IntegrationError::Conflict(
                        "this API key exists already".into(),
                    ));
                }
                let name = values::required_text("name", &name, MAX_LINE)?;
                scopes.sort();
                scopes.dedup();
                if scopes.is_empty() {
                    return Err(ValidationError::new("scopes", "name at least one scope").into());
                }
                let days = (expires_at - at).num_days();
                if expires_at <= at || days > MAX_KEY_DAYS {
                    return Err(ValidationError::new(
                        "expiresAt",
                        "must be in the future and at most 730 days away",
                    )
                    .into());
                }
                Ok(vec![ApiKeyEvent::ApiKeyCreated {
                    key_id,
                    integration_id: Some(integration_id),
                    name,
                    scopes,
                    expires_at,
                    by,
                    at,
                }])
            }
            ApiKeyCommand::Revoke { by, at } => {
                if self.id.is_none() {
                    return Err(IntegrationError::NotFound("API key not found".into()));
                }
                if self.revoked {
                    return Err(IntegrationError::Conflict(
                        "this API key was revoked already".into(),
                    ));
                }
                Ok(vec![ApiKeyEvent::ApiKeyRevoked { by, at }])
            }
        }
    }
}

impl Aggregate for ApiKey {
    /// Persisted identifier.
    const TYPE: &'static str = "ApiKey";
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = IntegrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ApiKeyCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), IntegrationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ApiKeyEvent) {
        match event {
            ApiKeyEvent::ApiKeyCreated {
                key_id,
                integration_id,
                name,
                scopes,
                expires_at,
                ..
            } => {
                self.id = Some(key_id);
                self.integration_id = integration_id;
                self.name = name;
                self.scopes = scopes;
                self.expires_at = Some(expires_at);
            }
            ApiKeyEvent::ApiKeyRevoked { .. } => self.revoked = true,
        }
    }
}
