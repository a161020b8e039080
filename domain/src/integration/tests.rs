//! The integration aggregates, given, when, then.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;
use crate::timesheet::WorkRef;

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
