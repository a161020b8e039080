//! User rules.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::Role;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn register(role: Role, client_id: Option<Uuid>) -> UserCommand {
    UserCommand::Register {
        user_id: Uuid::from_u128(1),
        email: "Priya@Firm.example".into(),
        display_name: "Priya".into(),
        role,
        client_id,
        at: at(),
    }
}

fn registered(role: Role) -> UserEvent {
    UserEvent::UserRegistered {
        user_id: Uuid::from_u128(1),
        email: "priya@firm.example".into(),
        display_name: "Priya".into(),
        role,
        client_id: None,
        at: at(),
    }
}

#[test]
fn registering_normalises_the_email() {
    TestFramework::<User>::with(())
        .given_no_previous_events()
        .when(register(Role::Sales, None))
        .then_expect_events(vec![registered(Role::Sales)]);
}

#[test]
fn a_portal_user_needs_a_client() {
    TestFramework::<User>::with(())
        .given_no_previous_events()
        .when(register(Role::Client, None))
        .then_expect_error(UserError::ClientMismatch);
}

#[test]
fn an_internal_user_cannot_belong_to_a_client() {
    TestFramework::<User>::with(())
        .given_no_previous_events()
        .when(register(Role::Sales, Some(Uuid::from_u128(9))))
        .then_expect_error(UserError::ClientMismatch);
}

#[test]
fn an_internal_user_cannot_become_a_portal_user() {
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Sales)])
        .when(UserCommand::ChangeRole {
            role: Role::Client,
            at: at(),
        })
        .then_expect_error(UserError::PortalRoleChange);
}

#[test]
fn a_deactivated_user_changes_no_more() {
    TestFramework::<User>::with(())
        .given(vec![
            registered(Role::Sales),
            UserEvent::UserDeactivated { at: at() },
        ])
        .when(UserCommand::ChangeRole {
            role: Role::Manager,
            at: at(),
        })
        .then_expect_error(UserError::Deactivated);
}

#[test]
fn preferences_name_known_kinds_once_and_repeating_them_changes_nothing() {
    let set = |muted: &[&str], digest| UserCommand::SetNotificationPreferences {
        email_muted: muted.iter().map(|k| (*k).to_owned()).collect(),
        digest,
        whatsapp: vec![],
        whatsapp_number: None,
        at: at(),
    };
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Consultant)])
        .when(set(&["task_assigned", "no_such_kind"], false))
        .then_expect_error_message(
            "emailMuted: 'no_such_kind' is not a kind of notification (one of request_raised, upload_received, upload_reviewed, stage_advanced, task_assigned, licence_expiry, service_routed, service_due_soon, service_overdue, template_version_published, webhook_endpoint_disabled)",
        );
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Consultant)])
        .when(set(
            &["task_assigned", "stage_advanced", "task_assigned"],
            true,
        ))
        .then_expect_events(vec![UserEvent::NotificationPreferencesSet {
            email_muted: vec!["stage_advanced".into(), "task_assigned".into()],
            digest: true,
            whatsapp: vec![],
            whatsapp_number: None,
            at: at(),
        }]);
    TestFramework::<User>::with(())
        .given(vec![
            registered(Role::Consultant),
            UserEvent::NotificationPreferencesSet {
                email_muted: vec!["task_assigned".into()],
                digest: false,
                whatsapp: vec![],
                whatsapp_number: None,
                at: at(),
            },
        ])
        .when(set(&["task_assigned"], false))
        .then_expect_events(vec![]);
}

#[test]
fn whatsapp_is_opted_into_per_kind_with_a_number() {
    let set = |kinds: &[&str], number: Option<&str>| UserCommand::SetNotificationPreferences {
        email_muted: vec![],
        digest: false,
        whatsapp: kinds.iter().map(|k| (*k).to_owned()).collect(),
        whatsapp_number: number.map(str::to_owned),
        at: at(),
    };
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Client)])
        .when(set(&["request_raised"], None))
        .then_expect_error_message("whatsappNumber: give the number WhatsApp messages go to");
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Client)])
        .when(set(&["request_raised"], Some("98200 12345")))
        .then_expect_error_message(
            "whatsappNumber: must be an international number such as +91 98200 12345",
        );
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Client)])
        .when(set(&["request_raised", "no_such_kind"], Some("+91 98200 12345")))
        .then_expect_error_message(
            "whatsapp: 'no_such_kind' is not a kind of notification (one of request_raised, upload_received, upload_reviewed, stage_advanced, task_assigned, licence_expiry, service_routed, service_due_soon, service_overdue, template_version_published, webhook_endpoint_disabled)",
        );
    TestFramework::<User>::with(())
        .given(vec![registered(Role::Client)])
        .when(set(
            &["upload_reviewed", "request_raised", "request_raised"],
            Some("+91 (982) 001-2345"),
        ))
        .then_expect_events(vec![UserEvent::NotificationPreferencesSet {
            email_muted: vec![],
            digest: false,
            whatsapp: vec!["request_raised".into(), "upload_reviewed".into()],
            whatsapp_number: Some("+919820012345".into()),
            at: at(),
        }]);
    // The shape stored before WhatsApp existed still reads.
    let old: UserEvent = serde_json::from_str(
        r#"{"NotificationPreferencesSet":{"email_muted":["task_assigned"],"digest":true,"at":"2026-12-01T00:00:00Z"}}"#,
    )
    .expect("old shape");
    assert!(matches!(
        old,
        UserEvent::NotificationPreferencesSet { whatsapp, whatsapp_number: None, .. } if whatsapp.is_empty()
    ));
}
