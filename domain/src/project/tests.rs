//! Project rules.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;
use crate::template::seeded_templates;

fn create(name: &str) -> ProjectCommand {
    let seed = seeded_templates().remove(0);
    ProjectCommand::Create {
        project_id: Uuid::from_u128(1),
        client_id: Uuid::from_u128(2),
        name: name.into(),
        template: TemplateRef {
            template_id: seed.id,
            family: seed.family.into(),
            version: 1,
        },
        stages: seed.stages,
        at: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date"),
    }
}

#[test]
fn a_new_project_starts_active_in_onboarding_with_pending_items() {
    let events = TestFramework::<Project>::with(())
        .given_no_previous_events()
        .when(create("NBFC CoR"))
        .inspect_result();
    let mut project = Project::default();
    for event in events.unwrap_or_default() {
        project.apply(event);
    }
    assert_eq!(project.status, ProjectStatus::Active);
    assert_eq!(
        project.current_stage,
        Some(crate::template::StageKey::Onboarding)
    );
    assert_eq!(project.stages.len(), 5);
    assert!(project
        .stages
        .iter()
        .flat_map(|s| &s.items)
        .all(|i| i.status == ItemStatus::Pending));
}

#[test]
fn a_project_needs_a_name() {
    let result = TestFramework::<Project>::with(())
        .given_no_previous_events()
        .when(create(" "))
        .inspect_result();
    assert!(matches!(result, Err(ProjectError::Invalid(ref e)) if e.field == "projectName"));
}
