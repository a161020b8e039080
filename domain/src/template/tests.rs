//! Template rules.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

#[test]
fn every_seeded_template_is_valid_and_publishes_version_one() {
    for seed in seeded_templates() {
        let events = TestFramework::<WorkflowTemplate>::with(())
            .given_no_previous_events()
            .when(TemplateCommand::PublishVersion {
                template_id: seed.id,
                family: seed.family.into(),
                name: seed.name.into(),
                stages: seed.stages.clone(),
                publication: None,
                at: at(),
            })
            .inspect_result();
        let events = events.unwrap_or_else(|e| panic!("{}: {e}", seed.family));
        assert!(matches!(
            &events[..],
            [TemplateEvent::TemplateVersionPublished { version: 1, .. }]
        ));
    }
}

#[test]
fn stages_out_of_order_are_refused() {
    let mut stages = seeded_templates().remove(0).stages;
    stages.swap(0, 1);
    let result = TestFramework::<WorkflowTemplate>::with(())
        .given_no_previous_events()
        .when(TemplateCommand::PublishVersion {
            template_id: Uuid::from_u128(1),
            family: "RBI".into(),
            name: "x".into(),
            stages,
            publication: None,
            at: at(),
        })
        .inspect_result();
    assert!(matches!(result, Err(TemplateError::Invalid(_))));
}

#[test]
fn a_rule_change_publishes_only_the_version_after_the_latest() {
    let seed = seeded_templates().remove(0);
    let first = TemplateEvent::TemplateVersionPublished {
        template_id: seed.id,
        family: seed.family.into(),
        name: seed.name.into(),
        version: 1,
        stages: seed.stages.clone(),
        rule_change_id: None,
        effective_on: None,
        at: at(),
    };
    let publish = |version| TemplateCommand::PublishVersion {
        template_id: seed.id,
        family: seed.family.into(),
        name: seed.name.into(),
        stages: seed.stages.clone(),
        publication: Some(Publication {
            rule_change_id: Uuid::from_u128(7),
            version,
            effective_on: chrono::NaiveDate::from_ymd_opt(2027, 4, 1).unwrap_or_default(),
        }),
        at: at(),
    };
    let refused = TestFramework::<WorkflowTemplate>::with(())
        .given(vec![first.clone()])
        .when(publish(3))
        .inspect_result();
    assert!(matches!(
        refused,
        Err(TemplateError::Moved {
            current: 1,
            wanted: 3
        })
    ));
    let published = TestFramework::<WorkflowTemplate>::with(())
        .given(vec![first])
        .when(publish(2))
        .inspect_result()
        .unwrap_or_default();
    assert!(matches!(
        &published[..],
        [TemplateEvent::TemplateVersionPublished {
            version: 2,
            rule_change_id: Some(_),
            effective_on: Some(_),
            ..
        }]
    ));
}

#[test]
fn stored_template_events_still_deserialise() {
    // Version 1 before rule changes (no rule_change_id, no effective_on), and after.
    let stage = r#"{"stage":"onboarding","sla_days":7,"items":[{"key":"a","title":"A","mandatory":true,"evidence_required":false,"responsible_role":"support"}]}"#;
    let samples = [
        format!(
            r#"{{"TemplateVersionPublished":{{"template_id":"00000000-0000-0000-0000-000000000001","family":"RBI","name":"n","version":1,"stages":[{stage}],"at":"2026-01-05T10:00:00Z"}}}}"#
        ),
        format!(
            r#"{{"TemplateVersionPublished":{{"template_id":"00000000-0000-0000-0000-000000000001","family":"RBI","name":"n","version":2,"stages":[{stage}],"rule_change_id":"00000000-0000-0000-0000-000000000002","effective_on":"2027-04-01","at":"2026-01-05T10:00:00Z"}}}}"#
        ),
    ];
    for sample in &samples {
        let parsed: Result<TemplateEvent, _> = serde_json::from_str(sample);
        assert!(parsed.is_ok(), "{sample}: {parsed:?}");
    }
}

#[test]
fn a_project_starts_on_the_latest_version_in_effect() {
    let seed = seeded_templates().remove(0);
    let version = |version, effective_on: Option<&str>| TemplateVersion {
        version,
        stages: seed.stages.clone(),
        published_at: at(),
        rule_change_id: None,
        effective_on: effective_on.and_then(|d| d.parse().ok()),
    };
    let template = WorkflowTemplate {
        id: Some(seed.id),
        family: "RBI".into(),
        name: "n".into(),
        versions: vec![version(1, None), version(2, Some("2027-04-01"))],
    };
    let on = |d: &str| {
        template
            .in_effect(d.parse().unwrap_or_default())
            .map(|v| v.version)
    };
    assert_eq!(on("2027-03-31"), Some(1));
    assert_eq!(on("2027-04-01"), Some(2));
}

#[test]
fn milestones_and_request_templates_are_checked() {
    let mut stages = seeded_templates().remove(0).stages;
    stages[0].milestones = vec![MilestoneSpec {
        key: "fee".into(),
        title: "Fee".into(),
        amount_minor: 0,
        currency: "INR".into(),
    }];
    assert!(validate_stages(&stages).is_err(), "an amount of zero");
    stages[0].milestones[0].amount_minor = 100;
    assert!(validate_stages(&stages).is_ok());
    stages[1].milestones = stages[0].milestones.clone();
    assert!(
        validate_stages(&stages).is_err(),
        "a key twice in the template"
    );
    stages[1].milestones.clear();
    stages[0].items[0].request = Some(RequestTemplate {
        instructions: "Upload it".into(),
        due_in_days: Some(0),
    });
    assert!(validate_stages(&stages).is_err(), "zero days to answer");
}
