//! Time from outside: API keys for integrations, the entries a productivity platform sends,
//! and the saved mappings from its people and references to ours.
//!
//! Each external entry is one stream, named by its external id ([`external_entry_id`]): the
//! event store's one-stream-per-id is the idempotency key, so a repeat (also 32 at once)
//! lands nothing and is answered from the stream. An entry that maps to a known user and
//! matter on arrival is logged as that user's draft by the `external-time` reactor, under
//! an entry id derived from it ([`time_entry_id`]); one that does not waits for a reviewer,
//! who maps it (and may save the mapping, [`Mappings`]) or discards it with a reason.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::timesheet::{WorkRef, DAY_MINUTES};
use crate::values::{self, MAX_LINE, MAX_TEXT};
use crate::ValidationError;

/// The one stream of saved mappings.
pub const MAPPINGS_ID: Uuid = Uuid::from_u128(0x01925a7e_0000_7000_8000_000000000002);

/// Longest API key lifetime.
pub const MAX_KEY_DAYS: i64 = 730;

/// The integration of the keys created before keys named theirs: they share it, and the
/// entries they sent keep the streams they were stored under. (Its value is the namespace
/// the first streams of external entries were named in.)
pub const SHARED_INTEGRATION: Uuid = Uuid::NAMESPACE_OID;

/// The integration a key created with `integration_id` (as its `ApiKeyCreated` holds it)
/// stands for.
pub fn stands_for(integration_id: Option<Uuid>) -> Uuid {
    integration_id.unwrap_or(SHARED_INTEGRATION)
}

/// The stream of the entry that `integration` (a platform, one or more API keys) calls
/// `external_id`: an external id is unique within its integration only.
pub fn external_entry_id(integration: Uuid, external_id: &str) -> Uuid {
    Uuid::new_v5(
        &integration,
        format!("zippcrm-external-time:{external_id}").as_bytes(),
    )
}

/// The time entry an external entry becomes once mapped.
pub fn time_entry_id(external_entry_id: Uuid) -> Uuid {
    Uuid::new_v5(&external_entry_id, b"time-entry")
}

/// The form in which an external user or reference is matched: trimmed, lower case.
pub fn normalized(reference: &str) -> String {
    reference.trim().to_lowercase()
}

/// Why a command was refused.
pub type IntegrationError = crate::Refused;

/// What an API key may do. The serialized names are persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Send time entries (`POST /api/v1/time-entries`, `ingestTimeEntries`).
    #[serde(rename = "time:ingest")]
    TimeIngest,
}

impl Scope {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TimeIngest => "time:ingest",
        }
    }
}

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

/// An external entry as the platform sent it, once its shape is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalInput {
    pub external_id: String,
    /// The platform's user: an email or its own id.
    pub user_ref: String,
    /// The platform's reference of the matter (a project or service item id, or its own).
    pub matter_ref: String,
    pub date: NaiveDate,
    pub minutes: i32,
    pub description: String,
    pub billable: bool,
}

impl ExternalInput {
    /// Checks and trims what the platform sent.
    pub fn parse(raw: ExternalInput) -> Result<ExternalInput, ValidationError> {
        if !(1..=DAY_MINUTES).contains(&raw.minutes) {
            return Err(ValidationError::new(
                "minutes",
                "must be between 1 and 1440",
            ));
        }
        Ok(ExternalInput {
            external_id: values::required_text("externalId", &raw.external_id, MAX_LINE)?,
            user_ref: values::required_text("user", &raw.user_ref, MAX_LINE)?,
            matter_ref: values::required_text("matter", &raw.matter_ref, MAX_LINE)?,
            description: values::required_text("description", &raw.description, MAX_TEXT)?,
            ..raw
        })
    }
}

/// Whom and what an external entry maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub user_id: Uuid,
    pub work: WorkRef,
}

/// Where an external entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalStatus {
    /// Mapped: it is (or is about to be) the user's draft entry.
    Mapped,
    /// Waiting in the review queue: no known user or matter.
    Unmapped,
    /// Mapped, but the timesheet refused it (the daily limit, a closed month): in the review
    /// queue with the reason.
    Refused,
    Discarded,
}

impl ExternalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalStatus::Mapped => "mapped",
            ExternalStatus::Unmapped => "unmapped",
            ExternalStatus::Refused => "refused",
            ExternalStatus::Discarded => "discarded",
        }
    }

    /// Whether a reviewer still has to decide it.
    pub fn in_review(self) -> bool {
        matches!(self, ExternalStatus::Unmapped | ExternalStatus::Refused)
    }
}

/// One entry from the platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternalEntry {
    pub id: Option<Uuid>,
    pub input: Option<ExternalInput>,
    pub status: Option<ExternalStatus>,
    pub mapping: Option<Mapping>,
    /// Why it is unmapped, refused or discarded.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExternalEntryCommand {
    /// Record an arrival, mapped or not (with why not). Refused as a duplicate when the
    /// entry was received before: the caller answers from the stream.
    Receive {
        external_entry_id: Uuid,
        input: ExternalInput,
        key_id: Option<Uuid>,
        mapping: Result<Mapping, String>,
        at: DateTime<Utc>,
    },
    /// A reviewer maps an entry in review.
    Map {
        mapping: Mapping,
        by: Uuid,
        at: DateTime<Utc>,
    },
    Discard {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    /// The timesheet refused the mapped entry.
    Refuse { reason: String, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExternalEntryEvent {
    ExternalEntryReceived {
        external_entry_id: Uuid,
        input: ExternalInput,
        /// The API key it came with (none when an admin sent it).
        key_id: Option<Uuid>,
        mapping: Option<Mapping>,
        /// Why it did not map.
        unmapped: Option<String>,
        at: DateTime<Utc>,
    },
    ExternalEntryMapped {
        mapping: Mapping,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ExternalEntryDiscarded {
        reason: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ExternalEntryRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for ExternalEntryEvent {
    fn event_type(&self) -> String {
        use ExternalEntryEvent as E;
        match self {
            E::ExternalEntryReceived { .. } => "ExternalEntryReceived",
            E::ExternalEntryMapped { .. } => "ExternalEntryMapped",
            E::ExternalEntryDiscarded { .. } => "ExternalEntryDiscarded",
            E::ExternalEntryRefused { .. } => "ExternalEntryRefused",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for ExternalEntryEvent {}

impl ExternalEntry {
    fn in_review(&self) -> Result<(), IntegrationError> {
        match self.status {
            None => Err(IntegrationError::NotFound(
                "external time entry not found".into(),
            )),
            Some(status) if status.in_review() => Ok(()),
            Some(status) => Err(IntegrationError::NotAllowed(format!(
                "this entry is {}: only unmapped and refused entries are reviewed",
                status.as_str()
            ))),
        }
    }

    pub fn decide(
        &self,
        command: ExternalEntryCommand,
    ) -> Result<Vec<ExternalEntryEvent>, IntegrationError> {
        use ExternalEntryCommand as C;
        use ExternalEntryEvent as E;
        let event = match command {
            C::Receive {
                external_entry_id,
                input,
                key_id,
                mapping,
                at,
            } => {
                if self.status.is_some() {
                    return Err(IntegrationError::Conflict(
                        "this external id was received before".into(),
                    ));
                }
                let input = ExternalInput::parse(input)?;
                let (mapping, unmapped) = match mapping {
                    Ok(mapping) => (Some(mapping), None),
                    Err(why) => (None, Some(why)),
                };
                E::ExternalEntryReceived {
                    external_entry_id,
                    input,
                    key_id,
                    mapping,
                    unmapped,
                    at,
                }
            }
            C::Map { mapping, by, at } => {
                self.in_review()?;
                E::ExternalEntryMapped { mapping, by, at }
            }
            C::Discard { reason, by, at } => {
                self.in_review()?;
                E::ExternalEntryDiscarded {
                    reason: values::required_text("reason", &reason, MAX_TEXT)?,
                    by,
                    at,
                }
            }
            C::Refuse { reason, at } => {
                if self.status != Some(ExternalStatus::Mapped) {
                    return Ok(Vec::new());
                }
                E::ExternalEntryRefused { reason, at }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for ExternalEntry {
    /// Persisted identifier.
    const TYPE: &'static str = "ExternalEntry";
    type Command = ExternalEntryCommand;
    type Event = ExternalEntryEvent;
    type Error = IntegrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ExternalEntryCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), IntegrationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ExternalEntryEvent) {
        use ExternalEntryEvent as E;
        match event {
            E::ExternalEntryReceived {
                external_entry_id,
                input,
                mapping,
                unmapped,
                ..
            } => {
                self.id = Some(external_entry_id);
                self.input = Some(input);
                self.status = Some(if mapping.is_some() {
                    ExternalStatus::Mapped
                } else {
                    ExternalStatus::Unmapped
                });
                self.mapping = mapping;
                self.reason = unmapped;
            }
            E::ExternalEntryMapped { mapping, .. } => {
                self.status = Some(ExternalStatus::Mapped);
                self.mapping = Some(mapping);
                self.reason = None;
            }
            E::ExternalEntryDiscarded { reason, .. } => {
                self.status = Some(ExternalStatus::Discarded);
                self.reason = Some(reason);
            }
            E::ExternalEntryRefused { reason, .. } => {
                self.status = Some(ExternalStatus::Refused);
                self.reason = Some(reason);
            }
        }
    }
}

/// Saved mappings: the platform's users (by their normalized reference) to ours, and its
/// matter references to ours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mappings {
    pub users: BTreeMap<String, Uuid>,
    pub matters: BTreeMap<String, WorkRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MappingCommand {
    SaveUser {
        external: String,
        user_id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    },
    SaveMatter {
        external: String,
        work: WorkRef,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MappingEvent {
    ExternalUserMapped {
        external: String,
        user_id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ExternalMatterMapped {
        external: String,
        work: WorkRef,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for MappingEvent {
    fn event_type(&self) -> String {
        match self {
            MappingEvent::ExternalUserMapped { .. } => "ExternalUserMapped",
            MappingEvent::ExternalMatterMapped { .. } => "ExternalMatterMapped",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for MappingEvent {}

impl Mappings {
    /// What `reference` maps to, if saved: a user and a matter.
    pub fn lookup(&self, user_ref: &str, matter_ref: &str) -> (Option<Uuid>, Option<WorkRef>) {
        (
            self.users.get(&normalized(user_ref)).copied(),
            self.matters.get(&normalized(matter_ref)).copied(),
        )
    }

    pub fn decide(&self, command: MappingCommand) -> Result<Vec<MappingEvent>, IntegrationError> {
        let key = |external: &str| -> Result<String, IntegrationError> {
            let text = values::required_text("external", external, MAX_LINE)?;
            Ok(normalized(&text))
        };
        Ok(match command {
            MappingCommand::SaveUser {
                external,
                user_id,
                by,
                at,
            } => {
                let external = key(&external)?;
                if self.users.get(&external) == Some(&user_id) {
                    return Ok(Vec::new());
                }
                vec![MappingEvent::ExternalUserMapped {
                    external,
                    user_id,
                    by,
                    at,
                }]
            }
            MappingCommand::SaveMatter {
                external,
                work,
                by,
                at,
            } => {
                let external = key(&external)?;
                if self.matters.get(&external) == Some(&work) {
                    return Ok(Vec::new());
                }
                vec![MappingEvent::ExternalMatterMapped {
                    external,
                    work,
                    by,
                    at,
                }]
            }
        })
    }
}

impl Aggregate for Mappings {
    /// Persisted identifier.
    const TYPE: &'static str = "ExternalMappings";
    type Command = MappingCommand;
    type Event = MappingEvent;
    type Error = IntegrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: MappingCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), IntegrationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: MappingEvent) {
        match event {
            MappingEvent::ExternalUserMapped {
                external, user_id, ..
            } => {
                self.users.insert(external, user_id);
            }
            MappingEvent::ExternalMatterMapped { external, work, .. } => {
                self.matters.insert(external, work);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn input(external_id: &str, minutes: i32) -> ExternalInput {
        ExternalInput {
            external_id: external_id.into(),
            user_ref: "Asha@Firm.example".into(),
            matter_ref: "CLICKUP-42".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
            minutes,
            description: " call with the client ".into(),
            billable: true,
        }
    }

    fn mapping() -> Mapping {
        Mapping {
            user_id: Uuid::from_u128(1),
            work: WorkRef::Service {
                service_item_id: Uuid::from_u128(2),
            },
        }
    }

    fn when(
        entry: &mut ExternalEntry,
        command: ExternalEntryCommand,
    ) -> Result<Vec<ExternalEntryEvent>, IntegrationError> {
        let events = entry.decide(command)?;
        for event in events.clone() {
            entry.apply(event);
        }
        Ok(events)
    }

    fn receive(external_id: &str, mapping: Result<Mapping, String>) -> ExternalEntryCommand {
        ExternalEntryCommand::Receive {
            external_entry_id: external_entry_id(SHARED_INTEGRATION, external_id),
            input: input(external_id, 30),
            key_id: None,
            mapping,
            at: at(),
        }
    }

    #[test]
    fn a_repeat_is_refused_as_a_duplicate_and_changes_nothing() {
        let mut entry = ExternalEntry::default();
        assert!(when(&mut entry, receive("tt-1", Ok(mapping()))).is_ok());
        let before = entry.clone();
        let again = when(&mut entry, receive("tt-1", Err("unknown".into())));
        assert!(matches!(again, Err(IntegrationError::Conflict(_))));
        assert_eq!(entry, before);
        assert_eq!(entry.status, Some(ExternalStatus::Mapped));
        assert_eq!(
            entry.input.map(|i| i.description),
            Some("call with the client".to_owned())
        );
    }

    #[test]
    fn a_bad_shape_stores_nothing() {
        let entry = ExternalEntry::default();
        for minutes in [0, -5, 1441] {
            let command = ExternalEntryCommand::Receive {
                external_entry_id: external_entry_id(SHARED_INTEGRATION, "x"),
                input: input("x", minutes),
                key_id: None,
                mapping: Ok(mapping()),
                at: at(),
            };
            assert!(matches!(
                entry.decide(command),
                Err(IntegrationError::Invalid(_))
            ));
        }
        let blank = ExternalEntryCommand::Receive {
            external_entry_id: external_entry_id(SHARED_INTEGRATION, " "),
            input: input(" ", 30),
            key_id: None,
            mapping: Ok(mapping()),
            at: at(),
        };
        assert!(matches!(
            entry.decide(blank),
            Err(IntegrationError::Invalid(_))
        ));
    }

    #[test]
    fn unmapped_entries_are_mapped_or_discarded_once() {
        let mut entry = ExternalEntry::default();
        when(
            &mut entry,
            receive("tt-2", Err("no user is known as x".into())),
        )
        .ok();
        assert_eq!(entry.status, Some(ExternalStatus::Unmapped));
        let discard = |reason: &str| ExternalEntryCommand::Discard {
            reason: reason.into(),
            by: Uuid::from_u128(9),
            at: at(),
        };
        assert!(matches!(
            entry.decide(discard(" ")),
            Err(IntegrationError::Invalid(_))
        ));
        let map = ExternalEntryCommand::Map {
            mapping: mapping(),
            by: Uuid::from_u128(9),
            at: at(),
        };
        assert!(when(&mut entry, map.clone()).is_ok());
        assert_eq!(entry.status, Some(ExternalStatus::Mapped));
        assert!(matches!(
            entry.decide(map),
            Err(IntegrationError::NotAllowed(_))
        ));
        assert!(matches!(
            entry.decide(discard("late")),
            Err(IntegrationError::NotAllowed(_))
        ));
    }

    #[test]
    fn a_refused_entry_returns_to_review() {
        let mut entry = ExternalEntry::default();
        when(&mut entry, receive("tt-3", Ok(mapping()))).ok();
        let refuse = ExternalEntryCommand::Refuse {
            reason: "at most 24 hours a day".into(),
            at: at(),
        };
        assert!(when(&mut entry, refuse.clone()).is_ok());
        assert_eq!(entry.status, Some(ExternalStatus::Refused));
        assert_eq!(when(&mut entry, refuse), Ok(Vec::new()));
        let discard = ExternalEntryCommand::Discard {
            reason: "double-counted".into(),
            by: Uuid::from_u128(9),
            at: at(),
        };
        assert!(when(&mut entry, discard).is_ok());
        assert_eq!(entry.status, Some(ExternalStatus::Discarded));
    }

    #[test]
    fn keys_need_a_name_a_scope_and_a_bounded_expiry_and_revoke_once() {
        let mut key = ApiKey::default();
        let create = |scopes: Vec<Scope>, days: i64| ApiKeyCommand::Create {
            key_id: Uuid::from_u128(5),
            integration_id: Uuid::from_u128(5),
            name: "Platform".into(),
            scopes,
            expires_at: at() + chrono::Duration::days(days),
            by: Uuid::from_u128(1),
            at: at(),
        };
        assert!(matches!(
            key.decide(create(Vec::new(), 30)),
            Err(IntegrationError::Invalid(_))
        ));
        assert!(matches!(
            key.decide(create(vec![Scope::TimeIngest], 0)),
            Err(IntegrationError::Invalid(_))
        ));
        assert!(matches!(
            key.decide(create(vec![Scope::TimeIngest], 731)),
            Err(IntegrationError::Invalid(_))
        ));
        let events = key
            .decide(create(vec![Scope::TimeIngest, Scope::TimeIngest], 90))
            .unwrap_or_default();
        for event in events {
            key.apply(event);
        }
        assert_eq!(key.scopes, [Scope::TimeIngest]);
        assert_eq!(key.integration(), Uuid::from_u128(5));
        let revoke = ApiKeyCommand::Revoke {
            by: Uuid::from_u128(1),
            at: at(),
        };
        for event in key.decide(revoke.clone()).unwrap_or_default() {
            key.apply(event);
        }
        assert!(matches!(
            key.decide(revoke),
            Err(IntegrationError::Conflict(_))
        ));
    }

    #[test]
    fn stored_key_events_decode_with_and_without_their_integration() {
        let before = r#"{"ApiKeyCreated":{"key_id":"00000000-0000-0000-0000-000000000005","name":"Platform","scopes":["time:ingest"],"expires_at":"2026-12-01T00:00:00Z","by":"00000000-0000-0000-0000-000000000001","at":"2026-11-01T00:00:00Z"}}"#;
        let after = r#"{"ApiKeyCreated":{"key_id":"00000000-0000-0000-0000-000000000006","integration_id":"00000000-0000-0000-0000-000000000005","name":"Platform","scopes":["time:ingest"],"expires_at":"2026-12-01T00:00:00Z","by":"00000000-0000-0000-0000-000000000001","at":"2026-11-01T00:00:00Z"}}"#;
        let mut old = ApiKey::default();
        old.apply(serde_json::from_str(before).expect("version 1, as first stored"));
        assert_eq!(old.integration(), SHARED_INTEGRATION);
        let mut new = ApiKey::default();
        new.apply(serde_json::from_str(after).expect("version 1 with its integration"));
        assert_eq!(new.integration(), Uuid::from_u128(5));
        for event in [before, after] {
            let decoded: ApiKeyEvent = serde_json::from_str(event).expect("decodes");
            assert_eq!(serde_json::to_string(&decoded).expect("encodes"), event);
        }
    }

    #[test]
    fn an_external_id_names_one_stream_per_integration() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_ne!(external_entry_id(a, "tt-1"), external_entry_id(b, "tt-1"));
        assert_eq!(external_entry_id(a, "tt-1"), external_entry_id(a, "tt-1"));
        // The streams stored before integrations were named keep their names, and migration
        // 0028 gives their keys this integration.
        assert_eq!(
            SHARED_INTEGRATION.to_string(),
            "6ba7b812-9dad-11d1-80b4-00c04fd430c8"
        );
        assert_eq!(
            external_entry_id(SHARED_INTEGRATION, "tt-1"),
            Uuid::new_v5(&Uuid::NAMESPACE_OID, b"zippcrm-external-time:tt-1")
        );
    }

    #[test]
    fn mappings_match_case_insensitively_and_save_only_changes() {
        let mut mappings = Mappings::default();
        let save = MappingCommand::SaveUser {
            external: " Asha@Firm.example".into(),
            user_id: Uuid::from_u128(1),
            by: Uuid::from_u128(9),
            at: at(),
        };
        for event in mappings.decide(save.clone()).unwrap_or_default() {
            mappings.apply(event);
        }
        assert_eq!(mappings.decide(save), Ok(Vec::new()));
        assert_eq!(
            mappings.lookup("asha@firm.EXAMPLE", "none"),
            (Some(Uuid::from_u128(1)), None)
        );
    }
}
