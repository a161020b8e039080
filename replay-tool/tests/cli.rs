//! The `zippcrm-replay` binary, run as an operator would: against a database a real server
//! has written, with exit codes checked.

use std::process::{Command, Output};

use serde_json::json;
use tests::*;

fn replay(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zippcrm-replay"))
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .output()
        .expect("zippcrm-replay runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A team with a manager and a consultant, a week logged, partly rejected, resubmitted and
/// approved, a reversal, rates, a service item routed, worked, noted and logged on, and time
/// from the platform (an API key, a mapped and an unmapped entry, a mapping saved): every
/// event family of effort, for `verify`.
async fn effort_workload(app: &TestApp, admin: &str, lead: &str) {
    let (manager, manager_token) = create_user(app, admin, "mgr@heron.example", "MANAGER").await;
    let (consultant, consultant_token) =
        create_user(app, admin, "con@heron.example", "CONSULTANT").await;
    let team = team(
        app,
        admin,
        "Desk",
        &[(manager.as_str(), true), (consultant.as_str(), false)],
    )
    .await;
    let project = app
        .ok(
            Some(admin),
            "query($id: UUID!) { lead(id: $id) { project { id } } }",
            json!({ "id": lead }),
        )
        .await["lead"]["project"]["id"]
        .clone();
    let log = "mutation($i: TimeEntryInput!) { logTime(input: $i) { entry { id } } }";
    let mut ids = Vec::new();
    for (date, minutes) in [("2026-11-23", 120), ("2026-11-24", 45)] {
        let logged = app
            .ok(
                Some(&consultant_token),
                log,
                json!({ "i": { "date": date, "minutes": minutes, "description": "filing", "projectId": project } }),
            )
            .await;
        ids.push(logged["logTime"]["entry"]["id"].clone());
    }
    let submit = "mutation { submitTimesheet(weekOf: \"2026-11-23\") { caughtUp } }";
    app.ok(Some(&consultant_token), submit, json!({})).await;
    app.ok(
        Some(&manager_token),
        "mutation($u: UUID!, $e: [UUID!]!) { rejectTimeEntries(userId: $u, weekOf: \"2026-11-23\", entryIds: $e, reason: \"split it\") { caughtUp } }",
        json!({ "u": consultant, "e": [ids[1]] }),
    )
    .await;
    app.ok(
        Some(&consultant_token),
        "mutation($e: UUID!) { deleteTimeEntry(entryId: $e) { caughtUp } }",
        json!({ "e": ids[1] }),
    )
    .await;
    app.ok(
        Some(&consultant_token),
        log,
        json!({ "i": { "date": "2026-11-24", "minutes": 30, "description": "filing", "projectId": project } }),
    )
    .await;
    app.ok(Some(&consultant_token), submit, json!({})).await;
    app.ok(
        Some(&manager_token),
        "mutation($u: UUID!) { approveTimesheet(userId: $u, weekOf: \"2026-11-23\") { caughtUp } }",
        json!({ "u": consultant }),
    )
    .await;
    app.ok(
        Some(&consultant_token),
        "mutation($e: UUID!) { reverseTimeEntry(entryId: $e, reason: \"wrong matter\") { caughtUp } }",
        json!({ "e": ids[0] }),
    )
    .await;
    app.ok(
        Some(admin),
        "mutation { setRate(input: { scope: { role: CONSULTANT }, hourlyMinor: 150000 }) { caughtUp } }",
        json!({}),
    )
    .await;
    let client = app
        .ok(
            Some(admin),
            "query($id: UUID!) { lead(id: $id) { project { clientId } } }",
            json!({ "id": lead }),
        )
        .await["lead"]["project"]["clientId"]
        .clone();
    let item = app
        .ok(
            Some(&manager_token),
            "mutation($c: UUID!, $t: UUID!) { openServiceItem(input: { clientId: $c, teamId: $t, category: SECRETARIAL, \
               title: \"Board minutes\", dueOn: \"2026-11-30\" }) { serviceItem { id } } }",
            json!({ "c": client, "t": team }),
        )
        .await["openServiceItem"]["serviceItem"]["id"]
        .clone();
    app.ok(
        Some(&manager_token),
        "mutation($id: UUID!, $u: UUID!) { routeServiceItem(id: $id, assignees: [{ userId: $u, budgetMinutes: 120 }]) { caughtUp } }",
        json!({ "id": item, "u": consultant }),
    )
    .await;
    for mutation in [
        "mutation($id: UUID!) { setServiceItemStatus(id: $id, status: IN_PROGRESS) { caughtUp } }",
        "mutation($id: UUID!) { addServiceNote(id: $id, body: \"drafted\") { caughtUp } }",
        "mutation($id: UUID!) { updateServiceItem(id: $id, input: { priority: URGENT }) { caughtUp } }",
    ] {
        app.ok(Some(&consultant_token), mutation, json!({ "id": item }))
            .await;
    }
    app.ok(
        Some(&consultant_token),
        log,
        json!({ "i": { "date": "2026-11-25", "minutes": 50, "description": "minutes", "serviceItemId": item } }),
    )
    .await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let key = app
        .ok(
            Some(admin),
            "mutation($e: DateTime!) { createApiKey(input: { name: \"platform\", scopes: [TIME_INGEST], expiresAt: $e }) { token } }",
            json!({ "e": expires }),
        )
        .await["createApiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let ingested = app
        .ok(
            Some(&key),
            "mutation($e: [ExternalTimeEntryInput!]!) { ingestTimeEntries(entries: $e) { results { status externalEntryId } } }",
            json!({ "e": [
                { "externalId": "cli-1", "user": "con@heron.example", "matter": project, "date": "2026-11-26", "minutes": 20, "description": "call" },
                { "externalId": "cli-2", "user": "someone-else", "matter": "PLAT-1", "date": "2026-11-26", "minutes": 20, "description": "call" }
            ] }),
        )
        .await;
    app.ok(
        Some(&manager_token),
        "mutation($id: UUID!, $u: UUID!, $p: UUID!) { mapExternalTimeEntry(id: $id, input: { userId: $u, projectId: $p, saveMapping: true }) { caughtUp } }",
        json!({ "id": ingested["ingestTimeEntries"]["results"][1]["externalEntryId"], "u": consultant, "p": project }),
    )
    .await;
    let guidance = app
        .ok(
            Some(admin),
            "mutation { recordGuidance(input: { regulator: \"SEBI\", circularRef: \"SEBI/HO/2026/1\", title: \"RA norms\", \
               issuedOn: \"2026-11-02\", summary: \"s\" }) { guidance { id } } }",
            json!({}),
        )
        .await["recordGuidance"]["guidance"]["id"]
        .clone();
    app.ok(
        Some(admin),
        "mutation($id: UUID!) { closeGuidanceWithoutAction(id: $id, reason: \"not ours\") { caughtUp } }",
        json!({ "id": guidance }),
    )
    .await;
}

/// A rule change answering a guidance item, drafted by a manager, approved and published by
/// the admin as the RBI template's version 2 (the reactor then publishes it, actions the
/// guidance and notes the project), and the project moved onto it by two people.
async fn governance_workload(app: &TestApp, admin: &str, lead: &str) {
    let (_, manager) = create_user(app, admin, "rules@heron.example", "MANAGER").await;
    let guidance = app
        .ok(
            Some(&manager),
            "mutation { recordGuidance(input: { regulator: \"RBI\", circularRef: \"RBI/2026-27/77\", title: \"Capital plans\", \
               issuedOn: \"2026-11-02\", summary: \"s\" }) { guidance { id } } }",
            json!({}),
        )
        .await["recordGuidance"]["guidance"]["id"]
        .clone();
    let project = app
        .ok(
            Some(admin),
            "query($id: UUID!) { lead(id: $id) { project { id templateId } } }",
            json!({ "id": lead }),
        )
        .await["lead"]["project"]
        .clone();
    let template = app
        .ok(
            Some(admin),
            "{ workflowTemplates { id stages { key slaDays slaExtensionDays items { key title mandatory evidenceRequired responsibleRole } } } }",
            json!({}),
        )
        .await["workflowTemplates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["id"] == project["templateId"]).cloned())
        .expect("the project's template");
    let mut stages = template["stages"].clone();
    stages[2]["items"]
        .as_array_mut()
        .expect("filing items")
        .push(
            json!({ "key": "capital_plan", "title": "Capital plan", "mandatory": true,
                      "evidenceRequired": true, "responsibleRole": "SUPPORT" }),
        );
    let change = app
        .ok(
            Some(&manager),
            "mutation($i: DraftRuleChangeInput!) { draftRuleChange(input: $i) { ruleChange { id } } }",
            json!({ "i": { "templateId": template["id"], "guidanceId": guidance, "title": "Capital plan", "stages": stages } }),
        )
        .await["draftRuleChange"]["ruleChange"]["id"]
        .clone();
    app.ok(
        Some(&manager),
        "mutation($id: UUID!) { submitRuleChange(id: $id) { caughtUp } }",
        json!({ "id": change }),
    )
    .await;
    for mutation in [
        "mutation($id: UUID!) { approveRuleChange(id: $id) { caughtUp } }",
        "mutation($id: UUID!) { publishRuleChange(id: $id, effectiveOn: \"2027-01-01\") { caughtUp } }",
    ] {
        app.ok(Some(admin), mutation, json!({ "id": change })).await;
    }
    app.settled().await;
    app.ok(
        Some(&manager),
        "mutation($p: UUID!) { proposeTemplateMove(projectId: $p) { caughtUp } }",
        json!({ "p": project["id"] }),
    )
    .await;
    app.ok(
        Some(admin),
        "mutation($p: UUID!) { approveProjectChange(projectId: $p, number: 1) { caughtUp } }",
        json!({ "p": project["id"] }),
    )
    .await;
    app.settled().await;
}

// Multi-threaded: `replay` blocks its thread while the binary runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_verify_rebuild_and_history_work_and_fail_clearly() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Heron Securities", "desk@heron.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "portal@heron.example").await;
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { addLeadNote(id: $id, body: \"kick-off booked\") { caughtUp } }",
        json!({ "id": lead }),
    )
    .await;
    effort_workload(&app, &admin, &lead).await;
    governance_workload(&app, &admin, &lead).await;
    let url = app.database_url.clone();
    app.stop().await;

    let status = replay(&url, &["status"]);
    assert!(status.status.success(), "{}", text(&status));
    for name in [
        "leads",
        "clients",
        "projects",
        "users",
        "templates",
        "teams",
        "effort",
        "rates",
        "service_desk",
        "integrations",
        "guidance",
        "rule_changes",
        "portal-access",
        "rule-publication",
    ] {
        assert!(text(&status).contains(name), "{}", text(&status));
    }

    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));

    // A reactor moved back reacts again from there; one that does not exist is named.
    let moved = replay(
        &url,
        &[
            "reactor-start",
            "--reactor",
            "portal-access",
            "--position",
            "0",
        ],
    );
    assert!(moved.status.success(), "{}", text(&moved));
    let position: i64 = sqlx::query_scalar(
        "SELECT last_position FROM projection_checkpoints WHERE name = 'portal-access'",
    )
    .fetch_one(&sqlx::PgPool::connect(&url).await.expect("pool"))
    .await
    .expect("checkpoint");
    assert_eq!(position, 0);
    let unknown = replay(
        &url,
        &["reactor-start", "--reactor", "no-such", "--position", "0"],
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("portal-access"),
        "{}",
        text(&unknown)
    );

    let rebuild = replay(&url, &["rebuild", "--all"]);
    assert!(rebuild.status.success(), "{}", text(&rebuild));
    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "after rebuild: {}", text(&verify));

    let history = replay(&url, &["history", "--type", "Lead", "--id", &lead]);
    assert!(history.status.success(), "{}", text(&history));
    assert!(
        text(&history).contains("LeadCaptured"),
        "{}",
        text(&history)
    );
    assert!(
        text(&history).contains("kick-off booked"),
        "{}",
        text(&history)
    );

    // A tampered read model is a difference: verify exits non-zero and names the table.
    let pool = sqlx::PgPool::connect(&url).await.expect("pool");
    sqlx::query("UPDATE lead_view SET company = 'Tampered' WHERE id = $1::uuid")
        .bind(&lead)
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;
    let verify = replay(&url, &["verify"]);
    assert!(!verify.status.success(), "tampering must be found");
    assert!(text(&verify).contains("lead_view"), "{}", text(&verify));
    // A rebuild repairs it.
    let rebuild = replay(&url, &["rebuild", "--projection", "leads"]);
    assert!(rebuild.status.success(), "{}", text(&rebuild));
    assert!(replay(&url, &["verify"]).status.success());

    // Operator mistakes: clear messages, non-zero exits.
    let unknown = replay(&url, &["rebuild", "--projection", "nope"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("nope"), "{}", text(&unknown));
    let (prefix, _) = url.rsplit_once('/').expect("path");
    let missing = replay(&format!("{prefix}/no_such_database"), &["status"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).to_lowercase().contains("database"),
        "{}",
        text(&missing)
    );
}

// Multi-threaded: `replay` blocks its thread while the binary runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_after_a_delivery_workload_and_rebuild_keeps_it_equal() {
    let app = spawn_app().await.expect("server");
    let firm = tests::delivery::firm(&app).await;
    tests::delivery::workload(&app, &firm).await;
    let url = app.database_url.clone();
    app.stop().await;

    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
    let rebuild = replay(&url, &["rebuild", "--all"]);
    assert!(rebuild.status.success(), "{}", text(&rebuild));
    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "after rebuild: {}", text(&verify));
    let history = replay(
        &url,
        &["history", "--type", "Project", "--id", &firm.project_a],
    );
    assert!(
        text(&history).contains("TaskRolledUp"),
        "{}",
        text(&history)
    );
}
