//! Tests of `rule_change`.

use super::*;
use crate::template::seeded_templates;

const AUTHOR: Uuid = Uuid::from_u128(1);
const REVIEWER: Person = Person {
    user_id: Uuid::from_u128(2),
    role: Role::Reviewer,
};

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn stages(optional_first: bool) -> Vec<StageSpec> {
    let mut stages = seeded_templates()
        .into_iter()
        .next()
        .map(|t| t.stages)
        .unwrap_or_default();
    if let Some(item) = stages.get_mut(2).and_then(|s| s.items.first_mut()) {
        item.mandatory = !optional_first;
    }
    stages
}

fn when(
    c: &mut RuleChange,
    command: RuleChangeCommand,
) -> Result<Vec<RuleChangeEvent>, RuleChangeError> {
    let events = c.decide(command)?;
    for e in events.clone() {
        c.apply(e);
    }
    Ok(events)
}

fn drafted() -> RuleChange {
    let mut change = RuleChange::default();
    let draft = RuleChangeCommand::Draft {
        rule_change_id: Uuid::from_u128(9),
        template_id: Uuid::from_u128(8),
        base_version: 1,
        guidance_id: None,
        title: "Capital plan at filing".into(),
        stages: stages(true),
        by: AUTHOR,
        at: at(),
    };
    assert!(when(&mut change, draft).is_ok());
    change
}

fn submit(c: &mut RuleChange) -> Result<Vec<RuleChangeEvent>, RuleChangeError> {
    when(
        c,
        RuleChangeCommand::Submit {
            changes: 1,
            by: AUTHOR,
            at: at(),
        },
    )
}

fn publish(by: Person, current_version: u32) -> RuleChangeCommand {
    RuleChangeCommand::Publish {
        by,
        effective_on: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
        current_version,
        at: at(),
    }
}

#[test]
fn only_the_author_edits_and_a_change_of_nothing_is_not_submitted() {
    let mut change = drafted();
    let other = RuleChangeCommand::Revise {
        stages: stages(false),
        by: REVIEWER.user_id,
        at: at(),
    };
    assert!(matches!(
        change.decide(other),
        Err(RuleChangeError::Forbidden(_))
    ));
    let nothing = RuleChangeCommand::Submit {
        changes: 0,
        by: AUTHOR,
        at: at(),
    };
    assert!(matches!(
        change.decide(nothing),
        Err(RuleChangeError::NotAllowed(_))
    ));
    let broken = RuleChangeCommand::Revise {
        stages: Vec::new(),
        by: AUTHOR,
        at: at(),
    };
    assert!(matches!(
        change.decide(broken),
        Err(RuleChangeError::Invalid(_))
    ));
    assert!(submit(&mut change).is_ok());
    let late = RuleChangeCommand::Revise {
        stages: stages(false),
        by: AUTHOR,
        at: at(),
    };
    assert!(matches!(
        change.decide(late),
        Err(RuleChangeError::NotAllowed(_))
    ));
}

#[test]
fn the_author_never_approves_and_a_manager_never_approves_or_publishes() {
    let mut change = drafted();
    submit(&mut change).ok();
    let approve = |by| RuleChangeCommand::Approve {
        by,
        comment: None,
        at: at(),
    };
    let author = Person {
        user_id: AUTHOR,
        role: Role::Reviewer,
    };
    let manager = Person {
        user_id: Uuid::from_u128(3),
        role: Role::Manager,
    };
    assert!(matches!(
        change.decide(approve(author)),
        Err(RuleChangeError::Forbidden(_))
    ));
    assert!(matches!(
        change.decide(approve(manager)),
        Err(RuleChangeError::Forbidden(_))
    ));
    assert!(matches!(
        change.decide(publish(REVIEWER, 1)),
        Err(RuleChangeError::NotAllowed(_))
    ));
    assert!(when(&mut change, approve(REVIEWER)).is_ok());
    assert!(matches!(
        change.decide(publish(manager, 1)),
        Err(RuleChangeError::Forbidden(_))
    ));
    assert!(matches!(
        change.decide(publish(author, 1)),
        Err(RuleChangeError::Forbidden(_))
    ));
}

#[test]
fn returned_changes_are_revised_and_submitted_again() {
    let mut change = drafted();
    submit(&mut change).ok();
    let blank = RuleChangeCommand::Return {
        by: REVIEWER,
        comments: " ".into(),
        at: at(),
    };
    assert!(matches!(
        change.decide(blank),
        Err(RuleChangeError::Invalid(_))
    ));
    let back = RuleChangeCommand::Return {
        by: REVIEWER,
        comments: "name the evidence".into(),
        at: at(),
    };
    assert!(when(&mut change, back).is_ok());
    let revise = RuleChangeCommand::Revise {
        stages: stages(false),
        by: AUTHOR,
        at: at(),
    };
    assert!(when(&mut change, revise).is_ok());
    assert!(submit(&mut change).is_ok());
    assert_eq!(change.status, Some(RuleChangeStatus::Submitted));
}

#[test]
fn published_once_as_the_next_version_and_never_again() {
    let mut change = drafted();
    submit(&mut change).ok();
    when(
        &mut change,
        RuleChangeCommand::Approve {
            by: REVIEWER,
            comment: None,
            at: at(),
        },
    )
    .ok();
    assert!(matches!(
        change.decide(publish(REVIEWER, 2)),
        Err(RuleChangeError::Conflict(_))
    ));
    let admin = Person {
        user_id: Uuid::from_u128(4),
        role: Role::Admin,
    };
    let events = when(&mut change, publish(admin, 1)).unwrap_or_default();
    assert!(matches!(
        events.as_slice(),
        [RuleChangeEvent::RuleChangePublished { version: 2, .. }]
    ));
    assert!(matches!(
        change.decide(publish(admin, 1)),
        Err(RuleChangeError::NotAllowed(_))
    ));
    let revise = RuleChangeCommand::Revise {
        stages: stages(false),
        by: AUTHOR,
        at: at(),
    };
    assert!(matches!(
        change.decide(revise),
        Err(RuleChangeError::NotAllowed(_))
    ));
}
