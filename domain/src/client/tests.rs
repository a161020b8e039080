//! Client rules.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn contact(email: &str) -> ContactInput {
    ContactInput {
        contact_id: Uuid::from_u128(7),
        name: "Asha Rao".into(),
        email: email.into(),
        phone: None,
    }
}

fn create() -> ClientCommand {
    ClientCommand::Create {
        client_id: Uuid::from_u128(1),
        name: "Acme Finance".into(),
        lead_id: None,
        primary_contact: contact("asha@acme.example"),
        at: at(),
    }
}

#[test]
fn creating_a_client_records_its_primary_contact() {
    let events = TestFramework::<Client>::with(())
        .given_no_previous_events()
        .when(create())
        .inspect_result();
    assert!(matches!(
        &events.as_deref(),
        Ok([ClientEvent::ClientCreated {
            primary_contact: Contact { primary: true, .. },
            ..
        }])
    ));
}

#[test]
fn creating_twice_is_refused() {
    let created = TestFramework::<Client>::with(())
        .given_no_previous_events()
        .when(create())
        .inspect_result();
    TestFramework::<Client>::with(())
        .given(created.unwrap_or_default())
        .when(create())
        .then_expect_error(ClientError::AlreadyExists);
}

#[test]
fn a_duplicate_contact_email_is_refused() {
    let created = TestFramework::<Client>::with(())
        .given_no_previous_events()
        .when(create())
        .inspect_result();
    TestFramework::<Client>::with(())
        .given(created.unwrap_or_default())
        .when(ClientCommand::AddContact {
            contact: contact("ASHA@acme.example"),
            at: at(),
        })
        .then_expect_error(ClientError::DuplicateContact("asha@acme.example".into()));
}

#[test]
fn an_invalid_contact_email_is_refused() {
    let command = ClientCommand::Create {
        client_id: Uuid::from_u128(1),
        name: "Acme".into(),
        lead_id: None,
        primary_contact: contact("nope"),
        at: at(),
    };
    let result = TestFramework::<Client>::with(())
        .given_no_previous_events()
        .when(command)
        .inspect_result();
    assert!(matches!(result, Err(ClientError::Invalid(ref e)) if e.field == "contactEmail"));
}
