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
            at: at(),
        })
        .inspect_result();
    assert!(matches!(result, Err(TemplateError::Invalid(_))));
}
