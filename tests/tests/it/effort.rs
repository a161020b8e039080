//! Effort over HTTP: a consultant logs and submits a week, the manager of their team
//! rejects and approves it, the customer sees the approved effort and nothing else.

use serde_json::{json, Value};
use tests::*;

const ENTRY: &str = "id date minutes billable state reason reverses";
const SHEET: &str =
    "week totalMinutes submittedMinutes approvedMinutes entries { id minutes state reason }";

fn entries(sheet: &Value) -> Vec<Value> {
    sheet["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn a_week_is_logged_submitted_rejected_approved_and_shown_to_the_customer() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (manager, manager_token) = create_user(&app, &admin, "mgr@zipp.example", "MANAGER").await;
    let (_, stranger_token) = create_user(&app, &admin, "mgr2@zipp.example", "MANAGER").await;
    let (consultant, consultant_token) =
        create_user(&app, &admin, "con@zipp.example", "CONSULTANT").await;
    let (_, reviewer_token) = create_user(&app, &admin, "rev@zipp.example", "REVIEWER").await;
    let lead = capture_lead(&app, &admin, "Effort Finance", "cfo@effort.example").await;
    win_lead(&app, &admin, &lead).await;
    let (client, project) = convert_with_project(&app, &admin, &lead, "cfo@effort.example").await;
    app.settled().await;

    // The manager manages the consultant through a team.
    team(
        &app,
        &admin,
        "GST desk",
        &[(manager.as_str(), true), (consultant.as_str(), false)],
    )
    .await;

    let log = format!(
        "mutation($i: TimeEntryInput!) {{ logTime(input: $i) {{ caughtUp entry {{ {ENTRY} }} timesheet {{ {SHEET} }} }} }}"
    );
    let entry = |date: &str, minutes: i64| json!({ "i": { "date": date, "minutes": minutes, "description": "GST return", "projectId": project } });
    let first = app
        .ok(Some(&consultant_token), &log, entry("2026-11-23", 600))
        .await;
    assert_eq!(first["logTime"]["entry"]["state"], "DRAFT");
    assert_eq!(first["logTime"]["timesheet"]["week"], "2026-W48");
    let first_id = first["logTime"]["entry"]["id"].clone();
    let second = app
        .ok(Some(&consultant_token), &log, entry("2026-11-25", 90))
        .await;
    let second_id = second["logTime"]["entry"]["id"].clone();
    assert_eq!(second["logTime"]["timesheet"]["totalMinutes"], 690);

    // Refusals on logging: over 24 hours a day, no such project or task, a portal user.
    let over = app
        .gql(Some(&consultant_token), &log, entry("2026-11-23", 841))
        .await;
    assert_eq!(error_code(&over), Some("BAD_USER_INPUT"), "{over}");
    let unknown = app
        .gql(
            Some(&consultant_token),
            &log,
            json!({ "i": { "date": "2026-11-23", "minutes": 30, "description": "x", "projectId": "00000000-0000-0000-0000-000000000001" } }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    let no_task = app
        .gql(
            Some(&consultant_token),
            &log,
            json!({ "i": { "date": "2026-11-23", "minutes": 30, "description": "x", "projectId": project, "taskId": project } }),
        )
        .await;
    assert_eq!(error_code(&no_task), Some("NOT_FOUND"), "{no_task}");
    let portal = activate_portal_user(&app, "cfo@effort.example", "a-long-password-3").await;
    let customer = app.gql(Some(&portal), &log, entry("2026-11-23", 30)).await;
    assert_eq!(error_code(&customer), Some("FORBIDDEN"), "{customer}");

    // Submitted entries are immutable.
    let submit = format!(
        "mutation {{ submitTimesheet(weekOf: \"2026-11-27\") {{ caughtUp timesheet {{ {SHEET} }} }} }}"
    );
    let submitted = app.ok(Some(&consultant_token), &submit, json!({})).await;
    assert_eq!(
        submitted["submitTimesheet"]["timesheet"]["submittedMinutes"],
        690
    );
    let edit = format!(
        "mutation($e: UUID!, $i: TimeEntryInput!) {{ editTimeEntry(entryId: $e, input: $i) {{ entry {{ {ENTRY} }} }} }}"
    );
    let mut changed = entry("2026-11-23", 480);
    changed["e"] = first_id.clone();
    let locked = app
        .gql(Some(&consultant_token), &edit, changed.clone())
        .await;
    assert_eq!(error_code(&locked), Some("BAD_USER_INPUT"), "{locked}");

    // Only a reviewer or a manager of the consultant's teams decides, and the queue shows it.
    let queue =
        "{ effortApprovalQueue { userId weekStart submittedMinutes user { displayName } } }";
    let mine = app.ok(Some(&manager_token), queue, json!({})).await;
    assert_eq!(
        mine["effortApprovalQueue"][0]["userId"],
        consultant.as_str()
    );
    assert_eq!(mine["effortApprovalQueue"][0]["weekStart"], "2026-11-23");
    let theirs = app.ok(Some(&stranger_token), queue, json!({})).await;
    assert_eq!(theirs["effortApprovalQueue"], json!([]));
    let approve = format!(
        "mutation($u: UUID!) {{ approveTimesheet(userId: $u, weekOf: \"2026-11-23\") {{ caughtUp timesheet {{ {SHEET} }} }} }}"
    );
    let by_stranger = app
        .gql(Some(&stranger_token), &approve, json!({ "u": consultant }))
        .await;
    assert_eq!(error_code(&by_stranger), Some("FORBIDDEN"), "{by_stranger}");
    let by_self = app
        .gql(
            Some(&consultant_token),
            &approve,
            json!({ "u": consultant }),
        )
        .await;
    assert_eq!(error_code(&by_self), Some("FORBIDDEN"), "{by_self}");

    // Rejected with a reason, edited, submitted again, approved.
    let rejected = app
        .ok(
            Some(&manager_token),
            &format!("mutation($u: UUID!, $e: [UUID!]!) {{ rejectTimeEntries(userId: $u, weekOf: \"2026-11-23\", entryIds: $e, reason: \"Split by matter\") {{ timesheet {{ {SHEET} }} }} }}"),
            json!({ "u": consultant, "e": [first_id] }),
        )
        .await;
    let sheet = &rejected["rejectTimeEntries"]["timesheet"];
    let rejected_entry = entries(sheet)
        .into_iter()
        .find(|e| e["id"] == first_id)
        .expect("rejected entry");
    assert_eq!(rejected_entry["state"], "REJECTED");
    assert_eq!(rejected_entry["reason"], "Split by matter");
    let edited = app.ok(Some(&consultant_token), &edit, changed).await;
    assert_eq!(edited["editTimeEntry"]["entry"]["minutes"], 480);
    app.ok(Some(&consultant_token), &submit, json!({})).await;
    let approved = app
        .ok(Some(&manager_token), &approve, json!({ "u": consultant }))
        .await;
    assert_eq!(
        approved["approveTimesheet"]["timesheet"]["approvedMinutes"],
        570
    );

    // Approved effort is locked; a reversal references it and waits for approval.
    let delete = "mutation($e: UUID!) { deleteTimeEntry(entryId: $e) { caughtUp } }";
    let gone = app
        .gql(Some(&consultant_token), delete, json!({ "e": second_id }))
        .await;
    assert_eq!(error_code(&gone), Some("BAD_USER_INPUT"), "{gone}");
    let reversed = app
        .ok(
            Some(&consultant_token),
            &format!("mutation($e: UUID!) {{ reverseTimeEntry(entryId: $e, reason: \"Wrong client\") {{ entry {{ {ENTRY} }} }} }}"),
            json!({ "e": second_id }),
        )
        .await;
    let reversal = &reversed["reverseTimeEntry"]["entry"];
    assert_eq!(reversal["minutes"], -90);
    assert_eq!(reversal["state"], "DRAFT");
    assert_eq!(reversal["reverses"], second_id);
    // Another person's timesheet is for approvers.
    let peek = app
        .gql(
            Some(&stranger_token),
            &format!("query($u: UUID!) {{ timesheet(userId: $u, weekOf: \"2026-11-23\") {{ {SHEET} }} }}"),
            json!({ "u": consultant }),
        )
        .await;
    assert_eq!(
        error_code(&peek),
        Some("FORBIDDEN"),
        "not their team: {peek}"
    );
    let own_team = app
        .gql(
            Some(&manager_token),
            &format!("query($u: UUID!) {{ timesheet(userId: $u, weekOf: \"2026-11-23\") {{ {SHEET} }} }}"),
            json!({ "u": consultant }),
        )
        .await;
    assert_eq!(
        own_team["data"]["timesheet"]["approvedMinutes"], 570,
        "{own_team}"
    );
    let by_consultant = app
        .gql(
            Some(&consultant_token),
            &format!("query($u: UUID!) {{ timesheet(userId: $u, weekOf: \"2026-11-23\") {{ {SHEET} }} }}"),
            json!({ "u": manager }),
        )
        .await;
    assert_eq!(
        error_code(&by_consultant),
        Some("FORBIDDEN"),
        "{by_consultant}"
    );

    // The customer sees approved effort only: not the draft reversal, not other clients'.
    let effort = "query($c: UUID) { approvedEffort(clientId: $c) { id minutes state } }";
    let seen = app
        .ok(Some(&portal), effort, json!({ "c": Value::Null }))
        .await;
    let seen = seen["approvedEffort"].as_array().expect("effort").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|e| e["state"] == "APPROVED"));
    let forced = app
        .ok(
            Some(&portal),
            effort,
            json!({ "c": "00000000-0000-0000-0000-000000000009" }),
        )
        .await;
    assert_eq!(forced["approvedEffort"].as_array().map(Vec::len), Some(2));
    let internal = app.ok(Some(&admin), effort, json!({ "c": client })).await;
    assert_eq!(internal["approvedEffort"].as_array().map(Vec::len), Some(2));
    let reviewer_queue = app.ok(Some(&reviewer_token), queue, json!({})).await;
    assert_eq!(
        reviewer_queue["effortApprovalQueue"],
        json!([]),
        "nothing submitted"
    );

    // A rebuild gives the same rows.
    assert_rebuild_equals_live(&app, "effort").await;
    app.stop().await;
}
