//! Tests of `service`.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn date(d: &str) -> NaiveDate {
    d.parse().unwrap_or_default()
}

const MANAGER: Actor = Actor {
    user_id: Uuid::from_u128(1),
    manages_team: true,
};
const CONSULTANT: Uuid = Uuid::from_u128(2);
const OTHER: Actor = Actor {
    user_id: Uuid::from_u128(3),
    manages_team: false,
};

fn consultant() -> Actor {
    Actor {
        user_id: CONSULTANT,
        manages_team: false,
    }
}

/// When `command`: the events, folded into the state.
fn when(
    item: &mut ServiceItem,
    command: ServiceItemCommand,
) -> Result<Vec<ServiceItemEvent>, ServiceError> {
    let events = item.decide(command)?;
    for event in events.clone() {
        item.apply(event);
    }
    Ok(events)
}

fn opened(due_on: Option<NaiveDate>) -> ServiceItem {
    let mut item = ServiceItem::default();
    let input = ServiceItemInput {
        client_id: Uuid::from_u128(10),
        team_id: Uuid::from_u128(11),
        category: Category::Gst,
        title: " GSTR-3B for October ".into(),
        description: String::new(),
        priority: Priority::High,
        due_on,
    };
    let events = when(
        &mut item,
        ServiceItemCommand::Open {
            service_item_id: Uuid::from_u128(12),
            item: input,
            by: MANAGER.user_id,
            at: at(),
        },
    );
    assert!(
        matches!(events.as_deref(), Ok([ServiceItemEvent::ServiceItemOpened { title, .. }]) if title == "GSTR-3B for October")
    );
    item
}

fn route(
    item: &mut ServiceItem,
    actor: Actor,
    budget: Option<i32>,
) -> Result<Vec<ServiceItemEvent>, ServiceError> {
    when(
        item,
        ServiceItemCommand::Route {
            actor,
            assignees: vec![Assignment {
                user_id: CONSULTANT,
                budget_minutes: budget,
            }],
            note: None,
            at: at(),
        },
    )
}

#[test]
fn only_the_teams_manager_routes() {
    let mut item = opened(None);
    assert!(matches!(
        route(&mut item, OTHER, None),
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        route(&mut item, consultant(), None),
        Err(ServiceError::Forbidden(_))
    ));
    let events = route(&mut item, MANAGER, Some(120)).unwrap_or_default();
    assert!(
        matches!(events.as_slice(), [ServiceItemEvent::ServiceItemRouted { added, .. }] if added == &[CONSULTANT])
    );
    assert_eq!(item.status, Some(ServiceStatus::Routed));
    assert_eq!(item.assignees.get(&CONSULTANT), Some(&Some(120)));
}

#[test]
fn rerouting_keeps_history_and_tells_only_new_assignees() {
    let mut item = opened(None);
    route(&mut item, MANAGER, None).ok();
    assert_eq!(route(&mut item, MANAGER, None), Ok(Vec::new()));
    let events = when(
        &mut item,
        ServiceItemCommand::Route {
            actor: MANAGER,
            assignees: vec![
                Assignment {
                    user_id: CONSULTANT,
                    budget_minutes: Some(60),
                },
                Assignment {
                    user_id: OTHER.user_id,
                    budget_minutes: None,
                },
            ],
            note: Some("second pair of hands".into()),
            at: at(),
        },
    )
    .unwrap_or_default();
    assert!(
        matches!(events.as_slice(), [ServiceItemEvent::ServiceItemRouted { added, .. }] if added == &[OTHER.user_id])
    );
    assert_eq!(item.assignees.len(), 2);
}

#[test]
fn routing_refuses_bad_assignments() {
    let mut item = opened(None);
    let twice = vec![
        Assignment {
            user_id: CONSULTANT,
            budget_minutes: None,
        },
        Assignment {
            user_id: CONSULTANT,
            budget_minutes: None,
        },
    ];
    for assignees in [Vec::new(), twice] {
        let refused = item.decide(ServiceItemCommand::Route {
            actor: MANAGER,
            assignees,
            note: None,
            at: at(),
        });
        assert!(matches!(refused, Err(ServiceError::Invalid(_))));
    }
    assert!(matches!(
        route(&mut item, MANAGER, Some(0)),
        Err(ServiceError::Invalid(_))
    ));
}

#[test]
fn assignees_move_it_and_outsiders_do_not() {
    let mut item = opened(None);
    let start = |actor| ServiceItemCommand::SetStatus {
        actor,
        status: ServiceStatus::InProgress,
        at: at(),
    };
    assert!(matches!(
        item.decide(start(MANAGER)),
        Err(ServiceError::NotAllowed(_))
    ));
    route(&mut item, MANAGER, None).ok();
    assert!(matches!(
        item.decide(start(OTHER)),
        Err(ServiceError::Forbidden(_))
    ));
    assert!(when(&mut item, start(consultant())).is_ok());
    for status in [ServiceStatus::WaitingOnClient, ServiceStatus::Done] {
        let moved = when(
            &mut item,
            ServiceItemCommand::SetStatus {
                actor: consultant(),
                status,
                at: at(),
            },
        );
        assert!(moved.is_ok());
    }
    assert_eq!(item.status, Some(ServiceStatus::Done));
    assert!(matches!(
        route(&mut item, MANAGER, None),
        Err(ServiceError::NotAllowed(_))
    ));
    let cancelled = ServiceItemCommand::SetStatus {
        actor: consultant(),
        status: ServiceStatus::Cancelled,
        at: at(),
    };
    assert!(matches!(
        item.decide(cancelled),
        Err(ServiceError::NotAllowed(_))
    ));
    assert!(when(&mut item, start(consultant())).is_ok());
}

#[test]
fn cancelling_takes_a_manager_and_a_reason_and_is_final() {
    let mut item = opened(None);
    let cancel = |actor, reason: &str| ServiceItemCommand::Cancel {
        actor,
        reason: reason.into(),
        at: at(),
    };
    assert!(matches!(
        item.decide(cancel(OTHER, "duplicate")),
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        item.decide(cancel(MANAGER, "  ")),
        Err(ServiceError::Invalid(_))
    ));
    assert!(when(&mut item, cancel(MANAGER, "raised twice")).is_ok());
    assert_eq!(item.status, Some(ServiceStatus::Cancelled));
    let start = ServiceItemCommand::SetStatus {
        actor: MANAGER,
        status: ServiceStatus::InProgress,
        at: at(),
    };
    assert!(matches!(
        item.decide(start),
        Err(ServiceError::NotAllowed(_))
    ));
}

#[test]
fn due_soon_then_overdue_once_each() {
    let mut item = opened(Some(date("2026-12-10")));
    route(&mut item, MANAGER, None).ok();
    let flag = |today: &str| ServiceItemCommand::FlagDue {
        today: date(today),
        managers: vec![MANAGER.user_id],
        at: at(),
    };
    assert_eq!(when(&mut item, flag("2026-12-01")), Ok(Vec::new()));
    let soon = when(&mut item, flag("2026-12-08")).unwrap_or_default();
    assert!(
        matches!(soon.as_slice(), [ServiceItemEvent::ServiceItemDueSoon { notify, .. }] if notify == &[CONSULTANT])
    );
    assert_eq!(when(&mut item, flag("2026-12-09")), Ok(Vec::new()));
    let late = when(&mut item, flag("2026-12-11")).unwrap_or_default();
    assert!(matches!(
        late.as_slice(),
        [ServiceItemEvent::ServiceItemOverdue { .. }]
    ));
    assert_eq!(when(&mut item, flag("2026-12-12")), Ok(Vec::new()));
    let done = ServiceItemCommand::SetStatus {
        actor: consultant(),
        status: ServiceStatus::Done,
        at: at(),
    };
    assert!(when(&mut item, done).is_ok());
    let moved = ServiceItemCommand::Update {
        actor: MANAGER,
        changes: ServiceItemChanges::default(),
        at: at(),
    };
    assert!(matches!(
        item.decide(moved),
        Err(ServiceError::NotAllowed(_))
    ));
}

#[test]
fn an_item_nobody_is_routed_to_alerts_the_teams_managers() {
    let mut item = opened(Some(date("2026-12-10")));
    let flag = ServiceItemCommand::FlagDue {
        today: date("2026-12-11"),
        managers: vec![MANAGER.user_id],
        at: at(),
    };
    let late = when(&mut item, flag).unwrap_or_default();
    assert!(
        matches!(late.as_slice(), [ServiceItemEvent::ServiceItemOverdue { notify, .. }] if notify == &[MANAGER.user_id])
    );
}

#[test]
fn updates_only_what_changed() {
    let mut item = opened(None);
    let update = |actor, changes| ServiceItemCommand::Update {
        actor,
        changes,
        at: at(),
    };
    let same = ServiceItemChanges {
        title: Some("GSTR-3B for October".into()),
        ..Default::default()
    };
    assert_eq!(when(&mut item, update(MANAGER, same)), Ok(Vec::new()));
    let later = ServiceItemChanges {
        due_on: Some(Some(date("2026-12-20"))),
        ..Default::default()
    };
    assert!(matches!(
        item.decide(update(OTHER, later.clone())),
        Err(ServiceError::Forbidden(_))
    ));
    assert!(when(&mut item, update(MANAGER, later)).is_ok());
    assert_eq!(item.due_on, Some(date("2026-12-20")));
}
