//! Given/when/then tests of the Lead rules.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;

type LeadTest = TestFramework<Lead>;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0)
        .single()
        .expect("valid date")
}

fn lead_id() -> Uuid {
    Uuid::from_u128(1)
}

fn input() -> CaptureLeadInput {
    CaptureLeadInput {
        company: "Acme Finance".into(),
        contact_name: "Asha Rao".into(),
        email: "Asha@Acme.example".into(),
        phone: Some("+91 98200 12345".into()),
        source: LeadSource::Website,
        service_interest: "RBI NBFC registration".into(),
        owner_id: None,
    }
}

fn captured() -> LeadEvent {
    LeadEvent::LeadCaptured {
        lead_id: lead_id(),
        company: "Acme Finance".into(),
        contact_name: "Asha Rao".into(),
        email: "asha@acme.example".into(),
        phone: Some("+91 98200 12345".into()),
        source: LeadSource::Website,
        service_interest: "RBI NBFC registration".into(),
        owner_id: None,
        at: at(),
    }
}

fn moved(from: LeadStage, to: LeadStage) -> LeadEvent {
    LeadEvent::LeadStageChanged {
        from,
        to,
        reason: None,
        at: at(),
    }
}

#[test]
fn capturing_a_lead_normalises_its_email() {
    LeadTest::with(())
        .given_no_previous_events()
        .when(LeadCommand::Capture {
            lead_id: lead_id(),
            input: input(),
            at: at(),
        })
        .then_expect_events(vec![captured()]);
}

#[test]
fn capturing_with_an_invalid_email_is_refused() {
    let mut bad = input();
    bad.email = "not-an-email".into();
    let result = LeadTest::with(())
        .given_no_previous_events()
        .when(LeadCommand::Capture {
            lead_id: lead_id(),
            input: bad,
            at: at(),
        })
        .inspect_result();
    assert!(
        matches!(result, Err(LeadError::Invalid(ref e)) if e.field == "email"),
        "{result:?}"
    );
}

#[test]
fn capturing_with_an_empty_company_is_refused() {
    let mut bad = input();
    bad.company = "   ".into();
    let result = LeadTest::with(())
        .given_no_previous_events()
        .when(LeadCommand::Capture {
            lead_id: lead_id(),
            input: bad,
            at: at(),
        })
        .inspect_result();
    assert!(
        matches!(result, Err(LeadError::Invalid(ref e)) if e.field == "company"),
        "{result:?}"
    );
}

#[test]
fn capturing_twice_is_refused() {
    LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::Capture {
            lead_id: lead_id(),
            input: input(),
            at: at(),
        })
        .then_expect_error(LeadError::AlreadyCaptured);
}

#[test]
fn commands_on_a_missing_lead_are_not_found() {
    LeadTest::with(())
        .given_no_previous_events()
        .when(LeadCommand::Score {
            score: 10,
            at: at(),
        })
        .then_expect_error(LeadError::NotFound);
}

#[test]
fn scores_outside_zero_to_hundred_are_refused() {
    let result = LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::Score {
            score: 101,
            at: at(),
        })
        .inspect_result();
    assert!(matches!(result, Err(LeadError::Invalid(_))));
}

#[test]
fn open_stages_move_freely() {
    LeadTest::with(())
        .given(vec![
            captured(),
            moved(LeadStage::Prospect, LeadStage::Proposal),
        ])
        .when(LeadCommand::MoveStage {
            to: LeadStage::Qualified,
            at: at(),
        })
        .then_expect_events(vec![moved(LeadStage::Proposal, LeadStage::Qualified)]);
}

#[test]
fn winning_from_prospect_is_refused() {
    let result = LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::Win { at: at() })
        .inspect_result();
    assert!(matches!(
        result,
        Err(LeadError::InvalidTransition {
            to: LeadStage::Won,
            ..
        })
    ));
}

#[test]
fn winning_from_negotiation_is_accepted() {
    LeadTest::with(())
        .given(vec![
            captured(),
            moved(LeadStage::Prospect, LeadStage::Negotiation),
        ])
        .when(LeadCommand::Win { at: at() })
        .then_expect_events(vec![moved(LeadStage::Negotiation, LeadStage::Won)]);
}

#[test]
fn losing_needs_a_reason() {
    let result = LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::Lose {
            reason: " ".into(),
            at: at(),
        })
        .inspect_result();
    assert!(matches!(result, Err(LeadError::Invalid(ref e)) if e.field == "reason"));
}

#[test]
fn a_closed_lead_cannot_move() {
    let lost = LeadEvent::LeadStageChanged {
        from: LeadStage::Prospect,
        to: LeadStage::Lost,
        reason: Some("budget".into()),
        at: at(),
    };
    let result = LeadTest::with(())
        .given(vec![captured(), lost])
        .when(LeadCommand::MoveStage {
            to: LeadStage::Qualified,
            at: at(),
        })
        .inspect_result();
    assert!(matches!(
        result,
        Err(LeadError::InvalidTransition {
            from: LeadStage::Lost,
            ..
        })
    ));
}

#[test]
fn moving_to_won_through_move_stage_is_refused() {
    let result = LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::MoveStage {
            to: LeadStage::Won,
            at: at(),
        })
        .inspect_result();
    assert!(matches!(result, Err(LeadError::InvalidTransition { .. })));
}

#[test]
fn only_a_won_lead_converts() {
    LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::Convert {
            client_id: Uuid::from_u128(2),
            project_id: None,
            at: at(),
        })
        .then_expect_error(LeadError::NotWon(LeadStage::Prospect));
}

#[test]
fn converting_twice_is_refused() {
    let converted = LeadEvent::LeadConverted {
        client_id: Uuid::from_u128(2),
        project_id: None,
        at: at(),
    };
    LeadTest::with(())
        .given(vec![
            captured(),
            moved(LeadStage::Prospect, LeadStage::Proposal),
            moved(LeadStage::Proposal, LeadStage::Won),
            converted,
        ])
        .when(LeadCommand::Convert {
            client_id: Uuid::from_u128(3),
            project_id: None,
            at: at(),
        })
        .then_expect_error(LeadError::AlreadyConverted);
}

#[test]
fn activities_keep_their_follow_up_date() {
    let follow_up = chrono::NaiveDate::from_ymd_opt(2026, 2, 1);
    let activity = ActivityInput {
        activity_id: Uuid::from_u128(9),
        kind: "call".into(),
        summary: "Discussed NBFC capital norms".into(),
        follow_up_on: follow_up,
    };
    LeadTest::with(())
        .given(vec![captured()])
        .when(LeadCommand::LogActivity { activity, at: at() })
        .then_expect_events(vec![LeadEvent::LeadActivityLogged {
            activity_id: Uuid::from_u128(9),
            kind: "call".into(),
            summary: "Discussed NBFC capital norms".into(),
            follow_up_on: follow_up,
            at: at(),
        }]);
}

#[test]
fn stored_v1_events_still_deserialise() {
    // A sample of every stored event version; a shape change must keep these loading.
    let samples = [
        r#"{"LeadCaptured":{"lead_id":"00000000-0000-0000-0000-000000000001","company":"Acme","contact_name":"A","email":"a@b.co","source":"website","service_interest":"RBI","at":"2026-01-05T10:00:00Z"}}"#,
        r#"{"LeadAssigned":{"owner_id":"00000000-0000-0000-0000-000000000002","at":"2026-01-05T10:00:00Z"}}"#,
        r#"{"LeadScored":{"score":40,"at":"2026-01-05T10:00:00Z"}}"#,
        r#"{"LeadStageChanged":{"from":"prospect","to":"lost","reason":"budget","at":"2026-01-05T10:00:00Z"}}"#,
        r#"{"LeadNoteAdded":{"note_id":"00000000-0000-0000-0000-000000000003","body":"hi","at":"2026-01-05T10:00:00Z"}}"#,
        r#"{"LeadActivityLogged":{"activity_id":"00000000-0000-0000-0000-000000000004","kind":"call","summary":"s","follow_up_on":"2026-02-01","at":"2026-01-05T10:00:00Z"}}"#,
        r#"{"LeadConverted":{"client_id":"00000000-0000-0000-0000-000000000005","at":"2026-01-05T10:00:00Z"}}"#,
    ];
    for sample in samples {
        let parsed: Result<LeadEvent, _> = serde_json::from_str(sample);
        assert!(parsed.is_ok(), "{sample}: {parsed:?}");
    }
}
