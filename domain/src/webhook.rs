//! Outbound webhooks: the endpoints admins register, and the documented event types they
//! may receive (ADR 0013).
//!
//! An endpoint receives events as a role would see them: it names a backend role, and may
//! only subscribe to the types that role may read ([`EventType::permission`]). Its signing
//! secrets are never in the log; the write side keeps them beside it, as it does API key
//! hashes.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, MAX_LINE};
use crate::{Permission, Role, ValidationError};

/// Why a command was refused.
pub type WebhookError = crate::Refused;

/// Longest endpoint URL.
pub const MAX_URL: usize = 2048;

/// A documented event type. The serialized names are the public, persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "project.created")]
    ProjectCreated,
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.assigned")]
    TaskAssigned,
    #[serde(rename = "task.status_changed")]
    TaskStatusChanged,
    #[serde(rename = "time_entries.approved")]
    TimeEntriesApproved,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::ProjectCreated,
        EventType::TaskCreated,
        EventType::TaskAssigned,
        EventType::TaskStatusChanged,
        EventType::TimeEntriesApproved,
    ];

    /// The public name (`type` of every payload).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ProjectCreated => "project.created",
            EventType::TaskCreated => "task.created",
            EventType::TaskAssigned => "task.assigned",
            EventType::TaskStatusChanged => "task.status_changed",
            EventType::TimeEntriesApproved => "time_entries.approved",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The version of its payload's `data` shape; a change that is not an addition is a new
    /// version.
    pub fn version(self) -> u32 {
        1
    }

    /// What a role must be allowed to receive it: its data is what that permission reads.
    pub fn permission(self) -> Permission {
        match self {
            EventType::ProjectCreated
            | EventType::TaskCreated
            | EventType::TaskAssigned
            | EventType::TaskStatusChanged => Permission::ReadProjects,
            EventType::TimeEntriesApproved => Permission::ApproveEffort,
        }
    }

    /// The roles that may receive it.
    pub fn roles(self) -> Vec<&'static str> {
        Role::ALL
            .into_iter()
            .filter(|role| !role.is_portal() && role.may(self.permission()))
            .map(Role::as_str)
            .collect()
    }
}

/// What an endpoint receives and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSpec {
    pub url: String,
    pub description: String,
    /// Empty: every type the role may receive, including types documented later.
    pub event_types: Vec<EventType>,
    /// Whose view the payloads follow.
    pub role: Role,
}

impl EndpointSpec {
    /// Checks and normalizes a spec: an absolute http(s) URL without credentials, a backend
    /// role, types that role may receive (sorted, once each).
    pub fn parse(mut raw: EndpointSpec) -> Result<EndpointSpec, ValidationError> {
        raw.url = parse_url(&raw.url)?;
        raw.description = values::optional_text("description", Some(&raw.description), MAX_LINE)?
            .unwrap_or_default();
        if raw.role.is_portal() {
            return Err(ValidationError::new(
                "role",
                "an endpoint receives events as a backend role, not a portal client",
            ));
        }
        raw.event_types.sort();
        raw.event_types.dedup();
        if let Some(refused) = raw
            .event_types
            .iter()
            .find(|t| !raw.role.may(t.permission()))
        {
            return Err(ValidationError::new(
                "eventTypes",
                format!(
                    "a {} endpoint may not receive {}: its data is beyond what that role sees",
                    raw.role.as_str(),
                    refused.as_str()
                ),
            ));
        }
        Ok(raw)
    }
}

fn parse_url(raw: &str) -> Result<String, ValidationError> {
    let invalid = |why: &str| ValidationError::new("url", why.to_owned());
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL {
        return Err(invalid(
            "must be an http or https URL of at most 2048 characters",
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| invalid(&format!("is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not carry credentials: receivers check the signature instead",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    Ok(url.to_string())
}

/// An endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: Option<Uuid>,
    pub spec: Option<EndpointSpec>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WebhookCommand {
    Register {
        endpoint_id: Uuid,
        spec: EndpointSpec,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Update {
        spec: EndpointSpec,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// By an admin (`by`), or by the deliverers after the endpoint failed for too long
    /// (`by` none), telling `notify` (the admins then).
    Disable {
        reason: String,
        by: Option<Uuid>,
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    Enable {
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// A new signing secret (kept outside the log); the old one signs beside it for a day.
    RotateSecret {
        by: Uuid,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WebhookEvent {
    WebhookEndpointRegistered {
        endpoint_id: Uuid,
        spec: EndpointSpec,
        by: Uuid,
        at: DateTime<Utc>,
    },
    WebhookEndpointUpdated {
        spec: EndpointSpec,
        by: Uuid,
        at: DateTime<Utc>,
    },
    WebhookEndpointDisabled {
        reason: String,
        /// None: disabled by the deliverers, the endpoint having failed for too long.
        by: Option<Uuid>,
        /// Who is told.
        notify: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    WebhookEndpointEnabled {
        by: Uuid,
        at: DateTime<Utc>,
    },
    WebhookSecretRotated {
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for WebhookEvent {
    fn event_type(&self) -> String {
        match self {
            WebhookEvent::WebhookEndpointRegistered { .. } => "WebhookEndpointRegistered",
            WebhookEvent::WebhookEndpointUpdated { .. } => "WebhookEndpointUpdated",
            WebhookEvent::WebhookEndpointDisabled { .. } => "WebhookEndpointDisabled",
            WebhookEvent::WebhookEndpointEnabled { .. } => "WebhookEndpointEnabled",
            WebhookEvent::WebhookSecretRotated { .. } => "WebhookSecretRotated",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for WebhookEvent {}

impl WebhookEndpoint {
    fn existing(&self) -> Result<&EndpointSpec, WebhookError> {
        self.spec
            .as_ref()
            .ok_or_else(|| WebhookError::NotFound("webhook endpoint not found".into()))
    }

    pub fn decide(&self, command: WebhookCommand) -> Result<Vec<WebhookEvent>, WebhookError> {
        use WebhookEvent as E;
        match command {
            WebhookCommand::Register {
                endpoint_id,
                spec,
                by,
                at,
            } => {
                if self.id.is_some() {
                    return Err(WebhookError::Conflict(
                        "this webhook endpoint exists already".into(),
                    ));
                }
                Ok(vec![E::WebhookEndpointRegistered {
                    endpoint_id,
                    spec: EndpointSpec::parse(spec)?,
                    by,
                    at,
                }])
            }
            WebhookCommand::Update { spec, by, at } => {
                let spec = EndpointSpec::parse(spec)?;
                if self.existing()? == &spec {
                    return Ok(vec![]);
                }
                Ok(vec![E::WebhookEndpointUpdated { spec, by, at }])
            }
            WebhookCommand::Disable {
                reason,
                by,
                notify,
                at,
            } => {
                self.existing()?;
                if !self.enabled {
                    return match by {
                        // The deliverers racing an admin: already done.
                        None => Ok(vec![]),
                        Some(_) => Err(WebhookError::NotAllowed(
                            "this webhook endpoint is disabled already".into(),
                        )),
                    };
                }
                let reason = values::required_text("reason", &reason, MAX_LINE)?;
                Ok(vec![E::WebhookEndpointDisabled {
                    reason,
                    by,
                    notify,
                    at,
                }])
            }
            WebhookCommand::Enable { by, at } => {
                self.existing()?;
                if self.enabled {
                    return Err(WebhookError::NotAllowed(
                        "this webhook endpoint is enabled already".into(),
                    ));
                }
                Ok(vec![E::WebhookEndpointEnabled { by, at }])
            }
            WebhookCommand::RotateSecret { by, at } => {
                self.existing()?;
                Ok(vec![E::WebhookSecretRotated { by, at }])
            }
        }
    }
}

impl Aggregate for WebhookEndpoint {
    /// Persisted identifier.
    const TYPE: &'static str = "WebhookEndpoint";
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Error = WebhookError;
    type Services = ();

    async fn handle(
        &mut self,
        command: WebhookCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), WebhookError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: WebhookEvent) {
        use WebhookEvent as E;
        match event {
            E::WebhookEndpointRegistered {
                endpoint_id, spec, ..
            } => {
                self.id = Some(endpoint_id);
                self.spec = Some(spec);
                self.enabled = true;
            }
            E::WebhookEndpointUpdated { spec, .. } => self.spec = Some(spec),
            E::WebhookEndpointDisabled { .. } => self.enabled = false,
            E::WebhookEndpointEnabled { .. } => self.enabled = true,
            E::WebhookSecretRotated { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, role: Role, types: &[EventType]) -> EndpointSpec {
        EndpointSpec {
            url: url.into(),
            description: " Productivity platform ".into(),
            event_types: types.to_vec(),
            role,
        }
    }

    #[test]
    fn a_spec_is_an_http_url_and_types_its_role_may_receive() {
        let parsed = EndpointSpec::parse(spec(
            "https://Hooks.Example.com/in",
            Role::Manager,
            &[
                EventType::TimeEntriesApproved,
                EventType::TaskCreated,
                EventType::TaskCreated,
            ],
        ))
        .expect("valid");
        assert_eq!(parsed.url, "https://hooks.example.com/in");
        assert_eq!(parsed.description, "Productivity platform");
        assert_eq!(
            parsed.event_types,
            vec![EventType::TaskCreated, EventType::TimeEntriesApproved]
        );
        for (url, field) in [
            ("ftp://example.com/x", "url"),
            ("https://user:pw@example.com/", "url"),
            ("not a url", "url"),
            ("https://example.com/#frag", "url"),
        ] {
            let refused = EndpointSpec::parse(spec(url, Role::Manager, &[])).expect_err(url);
            assert_eq!(refused.field, field, "{url}");
        }
        let refused = EndpointSpec::parse(spec(
            "https://example.com/",
            Role::Consultant,
            &[EventType::TimeEntriesApproved],
        ))
        .expect_err("consultants do not see others' time");
        assert_eq!(refused.field, "eventTypes");
        let refused = EndpointSpec::parse(spec("https://example.com/", Role::Client, &[]))
            .expect_err("portal role");
        assert_eq!(refused.field, "role");
    }

    #[test]
    fn an_empty_type_list_receives_what_the_role_may() {
        let all = EndpointSpec::parse(spec("https://example.com/", Role::Consultant, &[]))
            .expect("valid");
        // What the fan-out selects an endpoint by: its role among the type's roles.
        assert!(all.event_types.is_empty());
        assert!(EventType::TaskAssigned.roles().contains(&all.role.as_str()));
        assert!(!EventType::TimeEntriesApproved
            .roles()
            .contains(&all.role.as_str()));
        assert_eq!(
            EventType::TimeEntriesApproved.roles(),
            vec!["admin", "manager", "reviewer"]
        );
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).expect("serializes"),
                serde_json::json!(t.as_str())
            );
        }
    }

    #[test]
    fn an_endpoint_is_disabled_once_and_the_deliverers_race_quietly() {
        let at = Utc::now();
        let by = Uuid::now_v7();
        let mut endpoint = WebhookEndpoint::default();
        let registered = endpoint
            .decide(WebhookCommand::Register {
                endpoint_id: Uuid::now_v7(),
                spec: spec("http://127.0.0.1:9/hook", Role::Admin, &[]),
                by,
                at,
            })
            .expect("registers");
        registered.into_iter().for_each(|e| endpoint.apply(e));
        assert!(endpoint.enabled);
        let automatic = |endpoint: &WebhookEndpoint| {
            endpoint.decide(WebhookCommand::Disable {
                reason: "failing since yesterday".into(),
                by: None,
                notify: vec![by],
                at,
            })
        };
        let disabled = automatic(&endpoint).expect("disables");
        disabled.into_iter().for_each(|e| endpoint.apply(e));
        assert_eq!(automatic(&endpoint).expect("quiet"), vec![]);
        let refused = endpoint
            .decide(WebhookCommand::Disable {
                reason: "again".into(),
                by: Some(by),
                notify: vec![],
                at,
            })
            .expect_err("an admin is told");
        assert!(matches!(refused, WebhookError::NotAllowed(_)));
        let same = endpoint
            .decide(WebhookCommand::Update {
                spec: spec("http://127.0.0.1:9/hook", Role::Admin, &[]),
                by,
                at,
            })
            .expect("nothing to change");
        assert_eq!(same, vec![]);
        assert!(matches!(
            WebhookEndpoint::default().decide(WebhookCommand::Enable { by, at }),
            Err(WebhookError::NotFound(_))
        ));
    }
}
