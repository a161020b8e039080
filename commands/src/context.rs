//! Who issued a command and why: the metadata attached to every event.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::Role;
use uuid::Uuid;

/// Metadata of one command.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// Acting user (None for the system itself, e.g. seeding).
    pub actor_id: Option<Uuid>,
    /// The actor's role.
    pub actor_role: Option<Role>,
    /// The HTTP request that carried the command.
    pub request_id: Uuid,
    /// Groups every command of one user action.
    pub correlation_id: Uuid,
    /// The command or event that caused this one.
    pub causation_id: Option<Uuid>,
    /// When the command was issued.
    pub issued_at: DateTime<Utc>,
    /// For a reactor's command, `reactor/event id/step`: stored on the first event it
    /// appends, under a unique index, so the reaction lands once (ADR 0008).
    pub reaction: Option<String>,
    /// The API key an integration called with (its events have no acting user).
    pub api_key: Option<Uuid>,
}

impl CommandContext {
    /// A context for a user's request.
    pub fn user(actor_id: Uuid, role: Role, request_id: Uuid) -> Self {
        Self {
            actor_id: Some(actor_id),
            actor_role: Some(role),
            request_id,
            correlation_id: request_id,
            causation_id: None,
            issued_at: Utc::now(),
            reaction: None,
            api_key: None,
        }
    }

    /// A context for work the system does by itself.
    pub fn system() -> Self {
        let id = Uuid::new_v4();
        Self {
            actor_id: None,
            actor_role: None,
            request_id: id,
            correlation_id: id,
            causation_id: None,
            issued_at: Utc::now(),
            reaction: None,
            api_key: None,
        }
    }

    /// A context for an integration's request, made with API key `key_id`.
    pub fn integration(key_id: Uuid) -> Self {
        Self {
            api_key: Some(key_id),
            ..Self::system()
        }
    }

    /// The context of `reactor`'s command `step` in reaction to the event `event_id` of the
    /// user action `correlation_id`: caused by that event, and landing once.
    pub fn reacting_to(reactor: &str, event_id: Uuid, correlation_id: Uuid, step: &str) -> Self {
        Self {
            correlation_id,
            causation_id: Some(event_id),
            reaction: Some(format!("{reactor}/{event_id}/{step}")),
            ..Self::system()
        }
    }

    /// The context of the scheduler's `job` for `subject` on `day`: one landing per day.
    pub fn scheduled(job: &str, subject: Uuid, day: chrono::NaiveDate) -> Self {
        Self {
            reaction: Some(format!("scheduler/{job}/{subject}/{day}")),
            ..Self::system()
        }
    }

    /// The same context, marked as caused by `cause`.
    pub fn caused_by(&self, cause: Uuid) -> Self {
        Self {
            causation_id: Some(cause),
            ..self.clone()
        }
    }

    /// The metadata map stored with each event. No personal data: ids and roles only.
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        map.insert(
            "actor_id".into(),
            self.actor_id
                .map_or_else(|| "system".into(), |id| id.to_string()),
        );
        map.insert(
            "actor_role".into(),
            self.actor_role.map_or("system", Role::as_str).to_owned(),
        );
        map.insert("request_id".into(), self.request_id.to_string());
        map.insert("correlation_id".into(), self.correlation_id.to_string());
        map.insert(
            "causation_id".into(),
            self.causation_id.unwrap_or(self.request_id).to_string(),
        );
        map.insert("issued_at".into(), self.issued_at.to_rfc3339());
        if let Some(key) = self.api_key {
            map.insert("api_key".into(), key.to_string());
        }
        if let Some(reaction) = &self.reaction {
            map.insert("reaction".into(), reaction.clone());
        }
        map
    }
}
