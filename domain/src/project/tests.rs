//! Project rules: gates, maker-checker, waivers, roll-up and progress, documents, alerts.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;
use crate::template::{seeded_templates, StageKey};
use crate::{Consequence, Rejection, Role};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn actor(n: u128, role: Role) -> Actor {
    Actor {
        user_id: Uuid::from_u128(n),
        role,
    }
}

const SUPPORT: u128 = 10;
const MANAGER: u128 = 11;
const REVIEWER: u128 = 12;

fn create(name: &str) -> ProjectCommand {
    create_from(seeded_templates().remove(0), name)
}

fn create_from(seed: crate::template::SeedTemplate, name: &str) -> ProjectCommand {
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
        at: at(),
    }
}

/// A project driven command by command, folding the events each one emits.
struct Run {
    project: Project,
    events: Vec<ProjectEvent>,
}

impl Run {
    fn new() -> Self {
        Self::with(seeded_templates().remove(0))
    }

    fn with(seed: crate::template::SeedTemplate) -> Self {
        let mut run = Run {
            project: Project::default(),
            events: Vec::new(),
        };
        run.ok(create_from(seed, "NBFC CoR"));
        run
    }

    fn exec(&mut self, command: ProjectCommand) -> Result<Vec<ProjectEvent>, ProjectError> {
        let events = TestFramework::<Project>::with(())
            .given(self.events.clone())
            .when(command)
            .inspect_result()?;
        for event in &events {
            self.project.apply(event.clone());
        }
        self.events.extend(events.clone());
        Ok(events)
    }

    fn ok(&mut self, command: ProjectCommand) -> Vec<ProjectEvent> {
        self.exec(command).expect("command accepted")
    }

    fn names(events: &[ProjectEvent]) -> Vec<&'static str> {
        events.iter().map(ProjectEvent::name).collect()
    }

    /// Verifies or accepts evidence for every mandatory item of the current stage.
    fn satisfy_gate(&mut self) {
        let stage = self.project.current_stage.expect("stage");
        let items: Vec<(String, bool)> = self
            .project
            .missing_for_gate()
            .iter()
            .map(|i| (i.key.clone(), i.evidence_required))
            .collect();
        for (n, (key, evidence)) in (0u128..).zip(items) {
            if evidence {
                let request_id = Uuid::from_u128(1000 + n + 100 * stage as u128);
                let upload_id = Uuid::from_u128(5000 + n + 100 * stage as u128);
                self.ok(DocumentCommand::RaiseDocumentRequest {
                    request_id,
                    stage,
                    item_key: key.clone(),
                    instructions: "Please upload it".into(),
                    due_on: None,
                    actor: actor(SUPPORT, Role::Support),
                    at: at(),
                }
                .into());
                self.ok(DocumentCommand::RecordUpload {
                    request_id,
                    upload_id,
                    file: file("a.pdf"),
                    actor: actor(99, Role::Client),
                    at: at(),
                }
                .into());
                self.ok(DocumentCommand::ReviewUpload {
                    upload_id,
                    accept: true,
                    reason: String::new(),
                    actor: actor(REVIEWER, Role::Reviewer),
                    at: at(),
                }
                .into());
            } else {
                self.ok(GateCommand::VerifyItem {
                    stage,
                    key,
                    actor: actor(SUPPORT, Role::Support),
                    at: at(),
                }
                .into());
            }
        }
    }

    fn advance(&mut self) {
        self.ok(GateCommand::RequestAdvance {
            request_id: Uuid::new_v4(),
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }
        .into());
        self.ok(GateCommand::DecideAdvance {
            approve: true,
            reason: String::new(),
            actor: actor(MANAGER, Role::Manager),
            at: at(),
        }
        .into());
    }
}

fn file(name: &str) -> FileMeta {
    FileMeta {
        name: name.into(),
        size: 10,
        media_type: "application/pdf".into(),
        sha256: "00".repeat(32),
        storage_key: format!("k/{name}"),
    }
}

fn task(n: u128, estimate: Option<f64>) -> ProjectCommand {
    TaskCommand::AddTask {
        task: NewTask {
            task_id: Uuid::from_u128(n),
            stage: Some(StageKey::Onboarding),
            title: format!("task {n}"),
            assignee: None,
            priority: Priority::Medium,
            due_on: None,
            estimate_hours: estimate,
        },
        at: at(),
    }
    .into()
}

fn subtask(task: u128, n: u128, estimate: Option<f64>) -> ProjectCommand {
    TaskCommand::AddSubtask {
        task_id: Uuid::from_u128(task),
        subtask_id: Uuid::from_u128(n),
        title: format!("subtask {n}"),
        assignee: None,
        estimate_hours: estimate,
        at: at(),
    }
    .into()
}

fn set(task: u128, subtask: Option<u128>, status: TaskStatus) -> ProjectCommand {
    TaskCommand::SetTaskStatus {
        task_id: Uuid::from_u128(task),
        subtask_id: subtask.map(Uuid::from_u128),
        status,
        at: at(),
    }
    .into()
}

#[test]
fn a_new_project_starts_active_in_onboarding_with_pending_items() {
    let run = Run::new();
    assert_eq!(run.project.status, ProjectStatus::Active);
    assert_eq!(run.project.current_stage, Some(StageKey::Onboarding));
    assert_eq!(run.project.stages.len(), 5);
    assert!(run
        .project
        .stages
        .iter()
        .flat_map(|s| &s.items)
        .all(|i| i.status == ItemStatus::Pending));
    assert_eq!(run.project.progress, 0, "an empty project has no progress");
}

#[test]
fn a_project_needs_a_name() {
    let result = TestFramework::<Project>::with(())
        .given_no_previous_events()
        .when(create(" "))
        .inspect_result();
    assert!(matches!(result, Err(ProjectError::Invalid(ref e)) if e.field == "projectName"));
}

#[test]
fn the_gate_refuses_with_the_missing_items_then_opens_once_verified() {
    let mut run = Run::new();
    let refused = run.exec(
        GateCommand::RequestAdvance {
            request_id: Uuid::from_u128(7),
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }
        .into(),
    );
    let Err(ProjectError::GateNotMet { stage, missing }) = refused else {
        panic!("expected a gate refusal, got {refused:?}");
    };
    assert_eq!(stage, "onboarding");
    assert!(
        missing.contains(&"Signed engagement letter".to_owned()),
        "{missing:?}"
    );
    run.satisfy_gate();
    run.advance();
    assert_eq!(run.project.current_stage, Some(StageKey::Documentation));
    let onboarding = run.project.stage(StageKey::Onboarding).expect("stage");
    assert!(onboarding.completed_at.is_some());
}

#[test]
fn the_requester_cannot_approve_their_own_advance() {
    let mut run = Run::new();
    run.satisfy_gate();
    run.ok(GateCommand::RequestAdvance {
        request_id: Uuid::from_u128(7),
        actor: actor(MANAGER, Role::Manager),
        at: at(),
    }
    .into());
    let own = run.exec(
        GateCommand::DecideAdvance {
            approve: true,
            reason: String::new(),
            actor: actor(MANAGER, Role::Manager),
            at: at(),
        }
        .into(),
    );
    assert!(
        matches!(own, Err(ref e) if e.kind() == crate::ErrorKind::Forbidden),
        "{own:?}"
    );
    let consultant = run.exec(
        GateCommand::DecideAdvance {
            approve: true,
            reason: String::new(),
            actor: actor(13, Role::Consultant),
            at: at(),
        }
        .into(),
    );
    assert!(matches!(consultant, Err(ProjectError::Forbidden(_))));
    let refusal_without_reason = run.exec(
        GateCommand::DecideAdvance {
            approve: false,
            reason: " ".into(),
            actor: actor(REVIEWER, Role::Reviewer),
            at: at(),
        }
        .into(),
    );
    assert!(matches!(
        refusal_without_reason,
        Err(ProjectError::Invalid(_))
    ));
    let events = run.ok(GateCommand::DecideAdvance {
        approve: true,
        reason: "checked".into(),
        actor: actor(REVIEWER, Role::Reviewer),
        at: at(),
    }
    .into());
    assert_eq!(
        Run::names(&events),
        ["StageAdvanceApproved", "StageAdvanced"]
    );
    assert!(events[1].is_consequence());
}

#[test]
fn only_a_manager_waives_and_a_waiver_needs_a_reason() {
    let mut run = Run::new();
    let waive = |who: Actor, reason: &str| {
        GateCommand::WaiveItem {
            stage: StageKey::Onboarding,
            key: "kyc_directors".into(),
            reason: reason.into(),
            actor: who,
            at: at(),
        }
        .into()
    };
    assert!(matches!(
        run.exec(waive(actor(SUPPORT, Role::Support), "known client")),
        Err(ProjectError::Forbidden(_))
    ));
    assert!(matches!(
        run.exec(waive(actor(MANAGER, Role::Manager), "")),
        Err(ProjectError::Invalid(_))
    ));
    run.ok(waive(
        actor(MANAGER, Role::Manager),
        "KYC on file from 2025",
    ));
    let item = run
        .project
        .item(StageKey::Onboarding, "kyc_directors")
        .expect("item");
    assert_eq!(item.status, ItemStatus::Waived);
    assert_eq!(item.reason.as_deref(), Some("KYC on file from 2025"));
}

#[test]
fn evidence_items_are_verified_only_through_review() {
    let mut run = Run::new();
    let direct = run.exec(
        GateCommand::VerifyItem {
            stage: StageKey::Onboarding,
            key: "engagement_letter".into(),
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }
        .into(),
    );
    assert!(matches!(direct, Err(ProjectError::NotAllowed(_))));
    let request_id = Uuid::from_u128(40);
    run.ok(DocumentCommand::RaiseDocumentRequest {
        request_id,
        stage: StageKey::Onboarding,
        item_key: "engagement_letter".into(),
        instructions: "Signed letter, all pages".into(),
        due_on: NaiveDate::from_ymd_opt(2026, 1, 15),
        actor: actor(SUPPORT, Role::Support),
        at: at(),
    }
    .into());
    let first = run.ok(DocumentCommand::RecordUpload {
        request_id,
        upload_id: Uuid::from_u128(41),
        file: file("letter.pdf"),
        actor: actor(99, Role::Client),
        at: at(),
    }
    .into());
    assert_eq!(
        Run::names(&first),
        ["EvidenceUploaded", "ChecklistItemEvidenceSubmitted"]
    );
    let rejected = run.ok(DocumentCommand::ReviewUpload {
        upload_id: Uuid::from_u128(41),
        accept: false,
        reason: "page 2 missing".into(),
        actor: actor(REVIEWER, Role::Reviewer),
        at: at(),
    }
    .into());
    assert_eq!(
        Run::names(&rejected),
        ["UploadRejected", "ChecklistItemRejected"]
    );
    let second = run.ok(DocumentCommand::RecordUpload {
        request_id,
        upload_id: Uuid::from_u128(42),
        file: file("letter-v2.pdf"),
        actor: actor(99, Role::Client),
        at: at(),
    }
    .into());
    assert!(matches!(
        &second[0],
        ProjectEvent::EvidenceUploaded { version: 2, .. }
    ));
    // The older upload can no longer be reviewed.
    assert!(run
        .exec(
            DocumentCommand::ReviewUpload {
                upload_id: Uuid::from_u128(41),
                accept: true,
                reason: String::new(),
                actor: actor(REVIEWER, Role::Reviewer),
                at: at(),
            }
            .into()
        )
        .is_err());
    run.ok(DocumentCommand::ReviewUpload {
        upload_id: Uuid::from_u128(42),
        accept: true,
        reason: String::new(),
        actor: actor(REVIEWER, Role::Reviewer),
        at: at(),
    }
    .into());
    assert_eq!(
        run.project
            .item(StageKey::Onboarding, "engagement_letter")
            .map(|i| i.status),
        Some(ItemStatus::Verified)
    );
    // A verified item takes no more uploads.
    assert!(matches!(
        run.exec(
            DocumentCommand::RecordUpload {
                request_id,
                upload_id: Uuid::from_u128(43),
                file: file("again.pdf"),
                actor: actor(99, Role::Client),
                at: at(),
            }
            .into()
        ),
        Err(ProjectError::NotAllowed(_))
    ));
}

#[test]
fn a_subtask_change_rolls_up_to_the_task_and_the_project_as_consequences() {
    let mut run = Run::new();
    run.ok(task(100, Some(4.0)));
    run.ok(subtask(100, 101, Some(3.0)));
    run.ok(subtask(100, 102, None));
    let events = run.ok(set(100, Some(101), TaskStatus::Completed));
    assert_eq!(
        Run::names(&events),
        [
            "SubtaskStatusChanged",
            "TaskRolledUp",
            "ProjectProgressChanged"
        ]
    );
    assert!(!events[0].is_consequence());
    assert!(events[1].is_consequence() && events[2].is_consequence());
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(task.progress, 7_500, "3 h of 3 h + 1 h");
    assert_eq!(run.project.progress, 7_500);

    // All subtasks completed: the task goes to review (this project does not auto-complete).
    run.ok(set(100, Some(102), TaskStatus::Completed));
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!((task.status, task.progress), (TaskStatus::Review, 10_000));
    // Review to completed is the one manual move on a task with subtasks.
    assert!(run.exec(set(100, None, TaskStatus::Blocked)).is_err());
    let signed_off = run.ok(set(100, None, TaskStatus::Completed));
    assert_eq!(Run::names(&signed_off), ["TaskStatusChanged"]);
    assert_eq!(
        run.project.task(Uuid::from_u128(100)).map(|t| t.status),
        Some(TaskStatus::Completed),
        "the sign-off stands"
    );

    // Reopening a subtask reopens the task.
    run.ok(set(100, Some(102), TaskStatus::InProgress));
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!(
        (task.status, task.progress),
        (TaskStatus::InProgress, 7_500)
    );
}

#[test]
fn all_blocked_is_blocked_with_no_progress() {
    let mut run = Run::new();
    run.ok(task(100, None));
    run.ok(subtask(100, 101, None));
    run.ok(subtask(100, 102, None));
    run.ok(set(100, Some(101), TaskStatus::Blocked));
    run.ok(set(100, Some(102), TaskStatus::Blocked));
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!((task.status, task.progress), (TaskStatus::Blocked, 0));
    assert_eq!(run.project.progress, 0);
}

#[test]
fn deleting_a_subtask_recomputes_status_and_progress() {
    let mut run = Run::new();
    run.ok(task(100, Some(2.0)));
    run.ok(task(200, Some(2.0)));
    run.ok(subtask(100, 101, None));
    run.ok(subtask(100, 102, None));
    run.ok(set(100, Some(101), TaskStatus::Completed));
    assert_eq!(run.project.progress, 2_500);
    let events = run.ok(TaskCommand::RemoveSubtask {
        task_id: Uuid::from_u128(100),
        subtask_id: Uuid::from_u128(102),
        at: at(),
    }
    .into());
    assert_eq!(
        Run::names(&events),
        ["SubtaskRemoved", "TaskRolledUp", "ProjectProgressChanged"]
    );
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!((task.status, task.progress), (TaskStatus::Review, 10_000));
    assert_eq!(run.project.progress, 5_000);
    // The last subtask gone, the task keeps its status and its own progress.
    run.ok(TaskCommand::RemoveSubtask {
        task_id: Uuid::from_u128(100),
        subtask_id: Uuid::from_u128(101),
        at: at(),
    }
    .into());
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!((task.status, task.progress), (TaskStatus::Review, 0));
    assert_eq!(run.project.progress, 0);
}

#[test]
fn a_task_without_subtasks_is_zero_or_one() {
    let mut run = Run::new();
    run.ok(task(100, Some(6.0)));
    run.ok(task(200, Some(2.0)));
    let events = run.ok(set(200, None, TaskStatus::Completed));
    assert_eq!(
        Run::names(&events),
        ["TaskStatusChanged", "ProjectProgressChanged"]
    );
    assert_eq!(run.project.progress, 2_500);
    assert_eq!(run.project.progress_of(Some(StageKey::Onboarding)), 2_500);
    assert_eq!(run.project.progress_of(Some(StageKey::Filing)), 0);
}

#[test]
fn completing_a_stage_makes_its_milestones_billable() {
    let mut run = Run::new();
    run.ok(BillingCommand::AddMilestone {
        milestone_id: Uuid::from_u128(70),
        stage: StageKey::Onboarding,
        title: "Retainer".into(),
        amount_minor: 5_000_000,
        currency: "inr".into(),
        at: at(),
    }
    .into());
    assert!(matches!(
        run.exec(
            BillingCommand::AddMilestone {
                milestone_id: Uuid::from_u128(71),
                stage: StageKey::Filing,
                title: "Filing fee".into(),
                amount_minor: 0,
                currency: "INR".into(),
                at: at(),
            }
            .into()
        ),
        Err(ProjectError::Invalid(_))
    ));
    run.satisfy_gate();
    run.advance();
    let milestone = &run.project.milestones[0];
    assert!(milestone.billable);
    assert_eq!(milestone.currency, "INR");
}

fn to_issue_stage(run: &mut Run) {
    for _ in 0..4 {
        run.satisfy_gate();
        run.advance();
    }
    assert_eq!(run.project.current_stage, Some(StageKey::Issue));
}

#[test]
fn expiry_alerts_are_raised_once_per_threshold_and_never_repeated() {
    let mut run = Run::new();
    to_issue_stage(&mut run);
    let expires = NaiveDate::from_ymd_opt(2027, 6, 30).expect("date");
    run.ok(BillingCommand::RecordLicence {
        number: "N-14.03.1234".into(),
        issued_on: NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
        expires_on: expires,
        actor: actor(SUPPORT, Role::Support),
        at: at(),
    }
    .into());
    let alerts = |run: &mut Run, days_before: i64| {
        run.ok(BillingCommand::RaiseExpiryAlerts {
            today: expires - chrono::Days::new(days_before as u64),
            at: at(),
        }
        .into())
    };
    assert!(alerts(&mut run, 120).is_empty());
    assert_eq!(alerts(&mut run, 90).len(), 1);
    assert!(
        alerts(&mut run, 89).is_empty(),
        "the 90-day alert is not repeated"
    );
    assert_eq!(alerts(&mut run, 45).len(), 1);
    assert!(alerts(&mut run, 45).is_empty());
    assert_eq!(alerts(&mut run, 10).len(), 1);
    assert!(alerts(&mut run, 1).is_empty());
    assert_eq!(run.project.alerts_raised, [90, 60, 30]);
}

#[test]
fn a_licence_recorded_late_raises_only_the_most_urgent_alert() {
    let mut run = Run::new();
    to_issue_stage(&mut run);
    let expires = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    run.ok(BillingCommand::RecordLicence {
        number: "IRDAI/2026/7".into(),
        issued_on: NaiveDate::from_ymd_opt(2025, 3, 1).expect("date"),
        expires_on: expires,
        actor: actor(SUPPORT, Role::Support),
        at: at(),
    }
    .into());
    let events = run.ok(BillingCommand::RaiseExpiryAlerts {
        today: expires - chrono::Days::new(20),
        at: at(),
    }
    .into());
    assert!(matches!(
        events.as_slice(),
        [ProjectEvent::LicenceExpiryAlertRaised { days_ahead: 30, .. }]
    ));
}

#[test]
fn a_licence_is_recorded_at_the_issue_stage_only() {
    let mut run = Run::new();
    let early = run.exec(
        BillingCommand::RecordLicence {
            number: "X".into(),
            issued_on: NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            expires_on: NaiveDate::from_ymd_opt(2027, 1, 1).expect("date"),
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }
        .into(),
    );
    assert!(matches!(early, Err(ProjectError::NotAllowed(_))));
}

#[test]
fn on_hold_projects_do_not_move_and_closed_ones_change_nothing() {
    let mut run = Run::new();
    assert!(matches!(
        run.exec(ProjectCommand::SetStatus {
            status: ProjectStatus::OnHold,
            reason: "client paused".into(),
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }),
        Err(ProjectError::Forbidden(_))
    ));
    run.ok(ProjectCommand::SetStatus {
        status: ProjectStatus::OnHold,
        reason: "client paused".into(),
        actor: actor(MANAGER, Role::Manager),
        at: at(),
    });
    run.satisfy_gate();
    assert!(matches!(
        run.exec(
            GateCommand::RequestAdvance {
                request_id: Uuid::from_u128(9),
                actor: actor(SUPPORT, Role::Support),
                at: at(),
            }
            .into()
        ),
        Err(ProjectError::NotAllowed(_))
    ));
    run.ok(ProjectCommand::SetStatus {
        status: ProjectStatus::Closed,
        reason: "engagement ended".into(),
        actor: actor(MANAGER, Role::Manager),
        at: at(),
    });
    assert!(matches!(
        run.exec(task(300, None)),
        Err(ProjectError::NotAllowed(_))
    ));
}

#[test]
fn the_clock_extends_once_where_the_template_allows_it() {
    let extend = |who: Actor| {
        GateCommand::ExtendStageClock {
            reason: "SEBI asked for more documents".into(),
            actor: who,
            at: at(),
        }
        .into()
    };
    // RBI's Liaison clock (30 days) has no extension.
    let mut rbi = Run::new();
    for _ in 0..3 {
        rbi.satisfy_gate();
        rbi.advance();
    }
    assert_eq!(rbi.project.current_stage, Some(StageKey::Liaison));
    assert!(matches!(
        rbi.exec(extend(actor(MANAGER, Role::Manager))),
        Err(ProjectError::NotAllowed(_))
    ));

    // SEBI's Liaison clock is 15 days, extendable once by 15.
    let mut sebi = Run::with(seeded_templates().remove(1));
    assert_eq!(
        sebi.project.template.as_ref().map(|t| t.family.as_str()),
        Some("SEBI")
    );
    for _ in 0..3 {
        sebi.satisfy_gate();
        sebi.advance();
    }
    assert!(matches!(
        sebi.exec(extend(actor(SUPPORT, Role::Support))),
        Err(ProjectError::Forbidden(_))
    ));
    sebi.ok(extend(actor(MANAGER, Role::Manager)));
    let liaison = sebi.project.stage(StageKey::Liaison).expect("stage");
    assert_eq!(
        (liaison.sla_days, liaison.extended_days),
        (Some(15), Some(15))
    );
    assert!(matches!(
        sebi.exec(extend(actor(MANAGER, Role::Manager))),
        Err(ProjectError::NotAllowed(_))
    ));
}

#[test]
fn where_the_project_allows_it_tasks_complete_by_themselves() {
    let mut run = Run::new();
    run.ok(TaskCommand::SetTaskPolicy {
        auto_complete: true,
        at: at(),
    }
    .into());
    run.ok(task(100, None));
    run.ok(subtask(100, 101, None));
    run.ok(set(100, Some(101), TaskStatus::Completed));
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!(
        (task.status, task.progress),
        (TaskStatus::Completed, 10_000)
    );
    assert_eq!(run.project.progress, 10_000);
}

#[test]
fn closed_pending_updates_holds_each_change_for_someone_elses_approval() {
    let mut run = Run::new();
    to_issue_stage(&mut run);
    run.ok(ProjectCommand::SetStatus {
        status: ProjectStatus::ClosedPendingUpdates,
        reason: "awaiting the registration certificate".into(),
        actor: actor(MANAGER, Role::Manager),
        at: at(),
    });
    assert!(matches!(
        run.exec(task(300, None)),
        Err(ProjectError::NotAllowed(_))
    ));
    let entry = |id: u128| {
        ChangeCommand::AddLiaisonEntry {
            entry: NewLiaisonEntry {
                entry_id: Uuid::from_u128(id),
                date: NaiveDate::from_ymd_opt(2025, 12, 30).expect("date"),
                regulator: "rbi".into(),
                direction: Direction::Inbound,
                summary: "Certificate dispatched".into(),
                attachments: vec![],
            },
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }
        .into()
    };
    let proposed = run.ok(entry(400));
    assert!(matches!(
        proposed.as_slice(),
        [ProjectEvent::ChangeProposed { proposal: 1, change, .. }]
            if matches!(**change, ProjectEvent::LiaisonEntryAdded { .. })
    ));
    let decide = |proposal: u32, approve: bool, reason: &str, who: Actor| {
        ChangeCommand::DecideChange {
            proposal,
            approve,
            reason: reason.into(),
            actor: who,
            at: at(),
        }
        .into()
    };
    assert!(matches!(
        run.exec(decide(1, true, "", actor(SUPPORT, Role::Support))),
        Err(ProjectError::Forbidden(_))
    ));
    assert!(matches!(
        run.exec(decide(1, true, "", actor(SUPPORT, Role::Manager))),
        Err(ProjectError::Forbidden(m)) if m.contains("maker-checker")
    ));
    assert!(matches!(
        run.exec(decide(7, true, "", actor(REVIEWER, Role::Reviewer))),
        Err(ProjectError::NotFound(_))
    ));
    let approved = run.ok(decide(1, true, "", actor(REVIEWER, Role::Reviewer)));
    assert_eq!(
        Run::names(&approved),
        ["ChangeApproved", "LiaisonEntryAdded"]
    );
    assert!(matches!(
        &approved[1],
        ProjectEvent::LiaisonEntryAdded { proposal: Some(1), by, regulator, .. }
            if *by == Uuid::from_u128(SUPPORT) && regulator == "RBI"
    ));
    assert!(approved[1].is_consequence(), "caused by the approval");
    assert!(
        matches!(
            run.exec(decide(1, true, "", actor(REVIEWER, Role::Reviewer))),
            Err(ProjectError::NotFound(_))
        ),
        "a decided proposal cannot be decided again"
    );

    let licence: ProjectCommand = BillingCommand::RecordLicence {
        number: "N-14.03.1234".into(),
        issued_on: NaiveDate::from_ymd_opt(2025, 12, 1).expect("date"),
        expires_on: NaiveDate::from_ymd_opt(2030, 12, 1).expect("date"),
        actor: actor(SUPPORT, Role::Support),
        at: at(),
    }
    .into();
    run.ok(licence.clone());
    assert!(run.project.licence.is_none(), "held until approved");
    assert!(matches!(
        run.exec(licence.clone()),
        Err(ProjectError::Conflict(_))
    ));
    assert!(matches!(
        run.exec(decide(2, false, " ", actor(MANAGER, Role::Manager))),
        Err(ProjectError::Invalid(_))
    ));
    assert_eq!(
        Run::names(&run.ok(decide(
            2,
            false,
            "wrong number",
            actor(MANAGER, Role::Manager)
        ))),
        ["ChangeRefused"]
    );
    assert!(run.project.licence.is_none() && run.project.proposals.is_empty());

    // A proposal left pending cannot be approved once the project is closed for good.
    run.ok(licence);
    run.ok(ProjectCommand::SetStatus {
        status: ProjectStatus::Closed,
        reason: "done".into(),
        actor: actor(MANAGER, Role::Manager),
        at: at(),
    });
    assert!(matches!(
        run.exec(decide(3, true, "", actor(MANAGER, Role::Manager))),
        Err(ProjectError::NotAllowed(_))
    ));
    assert!(run.project.licence.is_none());
}

#[test]
fn decide_is_pure_and_its_events_fold_to_what_handle_leaves() {
    let mut run = Run::new();
    run.ok(task(100, Some(2.0)));
    run.ok(subtask(100, 101, None));
    run.ok(subtask(100, 102, None));
    let before = run.project.clone();
    let command = set(100, Some(101), TaskStatus::Completed);
    // The roll-up is decided from the subtask change folded on a copy: the project itself
    // is left as it was, and deciding again gives the same events.
    let decided = run.project.decide(command.clone()).expect("accepted");
    assert_eq!(run.project, before);
    assert_eq!(run.project.decide(command.clone()), Ok(decided.clone()));
    assert_eq!(
        Run::names(&decided),
        [
            "SubtaskStatusChanged",
            "TaskRolledUp",
            "ProjectProgressChanged"
        ]
    );
    let handled = run.ok(command);
    assert_eq!(handled, decided);
    let task = run.project.task(Uuid::from_u128(100)).expect("task");
    assert_eq!(task.progress, 5_000);
}

/// Version 2 of the first seeded template: its first onboarding item removed, a mandatory
/// evidence item added to filing, and the documentation clock shortened.
fn version_two() -> Vec<crate::template::StageSpec> {
    let mut stages = seeded_templates().remove(0).stages;
    stages[0].items.remove(0);
    let mut added = stages[2].items[0].clone();
    added.key = "capital_plan".into();
    added.title = "Capital adequacy plan".into();
    added.mandatory = true;
    added.evidence_required = true;
    stages[2].items.push(added);
    stages[1].sla_days = Some(10);
    stages
}

fn propose_move(by: Actor) -> ProjectCommand {
    ProjectCommand::Change(ChangeCommand::ProposeTemplateMove {
        version: 2,
        stages: version_two(),
        actor: by,
        at: at(),
    })
}

fn decide_change(proposal: u32, approve: bool, by: Actor) -> ProjectCommand {
    ProjectCommand::Change(ChangeCommand::DecideChange {
        proposal,
        approve,
        reason: if approve {
            String::new()
        } else {
            "not now".into()
        },
        actor: by,
        at: at(),
    })
}

#[test]
fn a_move_to_a_newer_version_is_proposed_by_a_manager_and_approved_by_someone_else() {
    let mut run = Run::new();
    run.satisfy_gate();
    let kept: Vec<(String, ItemStatus)> = run.project.stages[0]
        .items
        .iter()
        .skip(1)
        .map(|i| (i.key.clone(), i.status))
        .collect();
    assert!(kept.iter().any(|(_, s)| *s == ItemStatus::Verified));
    let removed_key = run.project.stages[0].items[0].key.clone();

    assert!(matches!(
        run.exec(propose_move(actor(SUPPORT, Role::Support))),
        Err(ProjectError::Forbidden(_))
    ));
    let proposed = run.ok(propose_move(actor(MANAGER, Role::Manager)));
    assert!(matches!(
        proposed.as_slice(),
        [ProjectEvent::ChangeProposed { change, .. }]
            if matches!(change.as_ref(), ProjectEvent::TemplateMoved { added, removed, .. }
                if added.len() == 1 && removed.len() == 1 && removed[0].key == removed_key)
    ));
    assert_eq!(run.project.template.as_ref().map(|t| t.version), Some(1));
    assert!(matches!(
        run.exec(propose_move(actor(MANAGER + 100, Role::Manager))),
        Err(ProjectError::Conflict(_))
    ));
    assert!(matches!(
        run.exec(decide_change(1, true, actor(MANAGER, Role::Manager))),
        Err(ProjectError::Forbidden(_))
    ));
    let moved = run.ok(decide_change(1, true, actor(REVIEWER, Role::Reviewer)));
    assert_eq!(Run::names(&moved), ["ChangeApproved", "TemplateMoved"]);
    assert!(moved[1].is_consequence());

    let project = &run.project;
    assert_eq!(project.template.as_ref().map(|t| t.version), Some(2));
    let onboarding: Vec<(String, ItemStatus)> = project.stages[0]
        .items
        .iter()
        .map(|i| (i.key.clone(), i.status))
        .collect();
    assert_eq!(
        onboarding, kept,
        "kept items keep their status, verified ones too"
    );
    assert_eq!(
        project
            .item(StageKey::Filing, "capital_plan")
            .map(|i| i.status),
        Some(ItemStatus::Pending)
    );
    assert_eq!(project.stages[1].sla_days, Some(10));
    assert!(project.stages[0].started_at.is_some());
    assert!(matches!(
        run.exec(propose_move(actor(MANAGER, Role::Manager))),
        Err(ProjectError::NotAllowed(_))
    ));
}

#[test]
fn a_refused_move_changes_nothing_and_a_closed_project_is_not_moved() {
    let mut run = Run::new();
    run.ok(propose_move(actor(MANAGER, Role::Manager)));
    let refused = run.ok(decide_change(1, false, actor(REVIEWER, Role::Reviewer)));
    assert_eq!(Run::names(&refused), ["ChangeRefused"]);
    assert_eq!(run.project.template.as_ref().map(|t| t.version), Some(1));
    run.ok(ProjectCommand::SetStatus {
        status: ProjectStatus::Closed,
        reason: "withdrawn".into(),
        actor: actor(MANAGER, Role::Manager),
        at: at(),
    });
    assert!(matches!(
        run.exec(propose_move(actor(MANAGER, Role::Manager))),
        Err(ProjectError::NotAllowed(_))
    ));
    let noted = run.ok(ProjectCommand::NoteNewerTemplateVersion {
        version: 2,
        rule_change_id: Uuid::from_u128(77),
        notify: vec![Uuid::from_u128(MANAGER)],
        at: at(),
    });
    assert!(noted.is_empty(), "a closed project is told of nothing");
}

#[test]
fn a_newer_version_is_noted_only_for_projects_behind_it() {
    let mut run = Run::new();
    let note = |version| ProjectCommand::NoteNewerTemplateVersion {
        version,
        rule_change_id: Uuid::from_u128(77),
        notify: vec![Uuid::from_u128(MANAGER)],
        at: at(),
    };
    assert_eq!(
        Run::names(&run.ok(note(2))),
        ["NewerTemplateVersionPublished"]
    );
    assert!(run.ok(note(1)).is_empty());
}

/// The first seeded template with `beneficial_owners` added to onboarding (mandatory, with
/// evidence) and the documentation clock cut to `documentation_days`.
fn proposal(documentation_days: u32) -> Vec<crate::template::StageSpec> {
    let mut stages = seeded_templates().remove(0).stages;
    let mut added = stages[0].items[0].clone();
    added.key = "beneficial_owners".into();
    added.mandatory = true;
    stages[0].items.push(added);
    stages[1].sla_days = Some(documentation_days);
    stages
}

#[test]
fn a_dry_run_reports_the_gates_the_proposal_would_have_refused() {
    let mut run = Run::new();
    run.satisfy_gate();
    run.advance();
    let later = at() + chrono::Duration::days(3);
    let result = dry_run(run.events.clone(), &proposal(1), later);
    assert_eq!(
        result.refused_gates,
        [RefusedGate {
            stage: StageKey::Onboarding,
            advanced_at: at(),
            missing: vec!["beneficial_owners".to_owned()],
        }]
    );
    assert!(result.missing_now.is_empty(), "documentation is unchanged");
    assert_eq!(
        result.breached_clocks,
        [BreachedClock {
            stage: StageKey::Documentation,
            used_days: 3,
            allowed_days: 1,
            allowed_days_then: Some(30),
        }]
    );
    assert_eq!(
        dry_run(run.events.clone(), &proposal(30), later)
            .refused_gates
            .len(),
        1
    );
    assert!(dry_run(run.events, &proposal(30), later)
        .breached_clocks
        .is_empty());
}

#[test]
fn a_dry_run_reports_only_what_the_proposal_adds_to_what_is_missing_now() {
    let run = Run::new();
    let result = dry_run(run.events.clone(), &proposal(30), at());
    assert_eq!(
        result.missing_now,
        [ItemRef {
            stage: StageKey::Onboarding,
            key: "beneficial_owners".into(),
        }]
    );
    assert!(result.refused_gates.is_empty());
    let unchanged = seeded_templates().remove(0).stages;
    assert!(dry_run(run.events, &unchanged, at()).is_empty());
}

/// The first seeded template with a filing fee on onboarding and a request template on the
/// engagement letter.
fn with_fee_and_request_template() -> crate::template::SeedTemplate {
    let mut seed = seeded_templates().remove(0);
    seed.stages[0].milestones = vec![crate::template::MilestoneSpec {
        key: "onboarding_fee".into(),
        title: "Onboarding fee".into(),
        amount_minor: 2_500_000,
        currency: "INR".into(),
    }];
    seed.stages[0].items[0].request = Some(crate::template::RequestTemplate {
        instructions: "Sign and upload the engagement letter".into(),
        due_in_days: Some(10),
    });
    seed
}

#[test]
fn a_versions_milestones_come_with_the_project_and_bill_with_their_stage() {
    let mut run = Run::with(with_fee_and_request_template());
    let project_id = Uuid::from_u128(1);
    assert_eq!(
        run.project.milestones,
        [Milestone {
            id: template_milestone_id(project_id, "onboarding_fee"),
            stage: StageKey::Onboarding,
            title: "Onboarding fee".into(),
            amount_minor: 2_500_000,
            currency: "INR".into(),
            billable: false,
        }]
    );
    run.satisfy_gate();
    run.advance();
    assert!(run.project.milestones[0].billable);
}

#[test]
fn a_request_raised_without_instructions_takes_the_items_template() {
    let mut run = Run::with(with_fee_and_request_template());
    let raise = |key: &str, n: u128| -> ProjectCommand {
        DocumentCommand::RaiseDocumentRequest {
            request_id: Uuid::from_u128(900 + n),
            stage: StageKey::Onboarding,
            item_key: key.into(),
            instructions: " ".into(),
            due_on: None,
            actor: actor(SUPPORT, Role::Support),
            at: at(),
        }
        .into()
    };
    let raised = run.ok(raise("engagement_letter", 1));
    assert!(matches!(
        raised.as_slice(),
        [ProjectEvent::DocumentRequestRaised { instructions, due_on: Some(due), .. }]
            if instructions == "Sign and upload the engagement letter"
                && *due == NaiveDate::from_ymd_opt(2026, 1, 11).unwrap_or_default()
    ));
    assert!(matches!(
        run.exec(raise("kyc_directors", 2)),
        Err(ProjectError::Invalid(_))
    ));
}
