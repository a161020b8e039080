//! The delivery engine through the real server: gates with verified evidence, maker-checker,
//! waivers, the roll-up cascade in history, the document loop across two clients, refused
//! uploads, expiry alerts with two schedulers, rebuild equality and past checklists.

use chrono::Utc;
use serde_json::{json, Value};
use tests::delivery::*;
use tests::*;

const REQUEST_ADVANCE: &str =
    "mutation($p: UUID!) { requestStageAdvance(projectId: $p) { caughtUp project { currentStage } } }";
const APPROVE: &str =
    "mutation($p: UUID!) { approveStageAdvance(projectId: $p) { caughtUp project { currentStage } } }";

fn item<'a>(project: &'a Value, stage: &str, key: &str) -> &'a Value {
    project["stages"]
        .as_array()
        .and_then(|stages| stages.iter().find(|s| s["key"] == stage))
        .and_then(|s| s["items"].as_array())
        .and_then(|items| items.iter().find(|i| i["key"] == key))
        .expect("item")
}

#[tokio::test]
async fn the_gate_opens_only_on_verified_evidence_and_a_second_persons_approval() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    let p = &firm.project_a;

    // Nothing verified: refused, and the refusal names the missing items.
    let refused = app
        .gql(Some(&firm.manager.1), REQUEST_ADVANCE, json!({ "p": p }))
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Signed engagement letter") && message.contains("KYC"),
        "{message}"
    );

    // The customer uploads each document through the portal; a reviewer accepts them.
    for key in ["engagement_letter", "kyc_directors"] {
        let request = raise_request(&app, &firm.support.1, p, "ONBOARDING", key).await;
        let (status, body) = upload(
            &app,
            &firm.portal_a,
            &request,
            &format!("{key}.pdf"),
            "application/pdf",
            pdf(key),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["version"], 1);
        assert_eq!(body["caughtUp"], true);
    }
    let queue = app
        .ok(
            Some(&firm.reviewer.1),
            "{ reviewQueue { id fileName sha256 } }",
            json!({}),
        )
        .await;
    let queued = queue["reviewQueue"].as_array().expect("queue").clone();
    assert_eq!(queued.len(), 2);
    let shown = project(&app, &firm.support.1, p).await;
    assert_eq!(
        item(&shown, "ONBOARDING", "engagement_letter")["status"],
        "EVIDENCE_SUBMITTED"
    );
    // Still refused while evidence waits for review.
    let refused = app
        .gql(Some(&firm.support.1), REQUEST_ADVANCE, json!({ "p": p }))
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"));
    let before_review = Utc::now();
    for upload in &queued {
        accept(&app, &firm, upload["id"].as_str().expect("id")).await;
    }

    // The manager asks; the manager may not approve their own request (maker-checker).
    app.ok(Some(&firm.manager.1), REQUEST_ADVANCE, json!({ "p": p }))
        .await;
    let own = app
        .gql(Some(&firm.manager.1), APPROVE, json!({ "p": p }))
        .await;
    assert_eq!(error_code(&own), Some("FORBIDDEN"), "{own}");
    assert!(own["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("maker-checker"));
    // Support may not approve at all; the reviewer may.
    let support = app
        .gql(Some(&firm.support.1), APPROVE, json!({ "p": p }))
        .await;
    assert_eq!(error_code(&support), Some("FORBIDDEN"));
    let approved = app
        .ok(Some(&firm.reviewer.1), APPROVE, json!({ "p": p }))
        .await;
    assert_eq!(
        approved["approveStageAdvance"]["project"]["currentStage"],
        "DOCUMENTATION"
    );
    let shown = project(&app, &firm.support.1, p).await;
    assert!(shown["stages"][0]["completedAt"].is_string());
    assert!(shown["stages"][1]["startedAt"].is_string());

    // The stage history records who asked and who decided.
    let advances = app
        .ok(
            Some(&firm.support.1),
            "query($p: UUID!) { project(id: $p) { stageAdvances { decision requestedBy decidedBy } } }",
            json!({ "p": p }),
        )
        .await;
    let advance = &advances["project"]["stageAdvances"][0];
    assert_eq!(advance["decision"], "approved");
    assert_eq!(advance["requestedBy"], firm.manager.0.as_str());
    assert_eq!(advance["decidedBy"], firm.reviewer.0.as_str());

    // The customer was told: request raised (2), uploads reviewed (2), stage advanced.
    let notes = app
        .ok(
            Some(&firm.portal_a),
            "{ notifications { kind read } unreadNotificationCount }",
            json!({}),
        )
        .await;
    let kinds: Vec<&str> = notes["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "request_raised").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "upload_reviewed").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "stage_advanced").count(), 1);
    assert_eq!(notes["unreadNotificationCount"], 5);
    app.settled().await;
    let outbox: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM email_outbox WHERE to_address = 'portal@alpha.example' AND kind <> 'set_password'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("outbox");
    assert_eq!(outbox, 5, "one email per notification");
    let read = app
        .ok(
            Some(&firm.portal_a),
            "mutation { markNotificationsRead }",
            json!({}),
        )
        .await;
    assert_eq!(read["markNotificationsRead"], 0);

    // projectAsOf shows the checklist as it stood before the review.
    let then = app
        .ok(
            Some(&firm.admin),
            "query($p: UUID!, $at: DateTime!) { projectAsOf(id: $p, at: $at) { currentStage stages { key items { key status } } } }",
            json!({ "p": p, "at": before_review.to_rfc3339() }),
        )
        .await;
    let as_of = &then["projectAsOf"];
    assert_eq!(as_of["currentStage"], "ONBOARDING");
    assert_eq!(
        item(as_of, "ONBOARDING", "engagement_letter")["status"],
        "EVIDENCE_SUBMITTED"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_a_manager_may_waive_an_item_and_must_say_why() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    let waive = "mutation($p: UUID!, $r: String!) { waiveChecklistItem(projectId: $p, stage: ONBOARDING, key: \"kyc_directors\", reason: $r) { project { id } } }";
    let support = app
        .gql(
            Some(&firm.support.1),
            waive,
            json!({ "p": firm.project_a, "r": "known client" }),
        )
        .await;
    assert_eq!(error_code(&support), Some("FORBIDDEN"), "{support}");
    let no_reason = app
        .gql(
            Some(&firm.manager.1),
            waive,
            json!({ "p": firm.project_a, "r": "  " }),
        )
        .await;
    assert_eq!(error_code(&no_reason), Some("BAD_USER_INPUT"));
    app.ok(
        Some(&firm.manager.1),
        waive,
        json!({ "p": firm.project_a, "r": "KYC on file since 2025" }),
    )
    .await;
    let shown = project(&app, &firm.support.1, &firm.project_a).await;
    let kyc = item(&shown, "ONBOARDING", "kyc_directors");
    assert_eq!(kyc["status"], "WAIVED");
    assert_eq!(kyc["reason"], "KYC on file since 2025");
    // The portal user cannot waive anything either.
    let portal = app
        .gql(
            Some(&firm.portal_a),
            waive,
            json!({ "p": firm.project_a, "r": "please" }),
        )
        .await;
    assert_eq!(error_code(&portal), Some("FORBIDDEN"));
    app.stop().await;
}

#[tokio::test]
async fn a_subtask_change_cascades_to_task_and_project_with_the_causation_chain_in_history() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    let p = &firm.project_a;
    let task = app
        .ok(
            Some(&firm.support.1),
            "mutation($p: UUID!) { addTask(projectId: $p, input: { title: \"Board resolution\", stage: ONBOARDING, estimateHours: 4 }) { createdId } }",
            json!({ "p": p }),
        )
        .await["addTask"]["createdId"]
        .clone();
    let mut subtasks = Vec::new();
    for (title, hours) in [("Draft", Some(3.0)), ("Sign", None)] {
        subtasks.push(
            app.ok(
                Some(&firm.support.1),
                "mutation($p: UUID!, $t: UUID!, $i: AddSubtaskInput!) { addSubtask(projectId: $p, taskId: $t, input: $i) { createdId } }",
                json!({ "p": p, "t": task, "i": { "title": title, "estimateHours": hours } }),
            )
            .await["addSubtask"]["createdId"]
                .clone(),
        );
    }
    let done = app
        .ok(
            Some(&firm.support.1),
            "mutation($p: UUID!, $t: UUID!, $s: UUID) { setTaskStatus(projectId: $p, taskId: $t, subtaskId: $s, status: COMPLETED) { project { progress tasks { status progress } stages { key progress } } } }",
            json!({ "p": p, "t": task, "s": subtasks[0] }),
        )
        .await;
    let shown = &done["setTaskStatus"]["project"];
    assert_eq!(shown["tasks"][0]["status"], "IN_PROGRESS");
    assert_eq!(shown["tasks"][0]["progress"], 0.75);
    assert_eq!(shown["progress"], 0.75);
    assert_eq!(shown["stages"][0]["progress"], 0.75);
    assert_eq!(shown["stages"][1]["progress"], 0.0);

    let history = app
        .ok(
            Some(&firm.admin),
            "query($id: UUID!) { history(aggregateType: PROJECT, aggregateId: $id, first: 100) { nodes { eventId eventType causationId } pageInfo { hasNextPage } } }",
            json!({ "id": p }),
        )
        .await;
    assert_eq!(history["history"]["pageInfo"]["hasNextPage"], false);
    let events = history["history"]["nodes"].as_array().expect("events");
    let at = events
        .iter()
        .rposition(|e| e["eventType"] == "SubtaskStatusChanged")
        .expect("subtask change");
    let chain: Vec<&str> = events[at..]
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .collect();
    assert_eq!(
        chain,
        [
            "SubtaskStatusChanged",
            "TaskRolledUp",
            "ProjectProgressChanged"
        ]
    );
    assert_eq!(events[at + 1]["causationId"], events[at]["eventId"]);
    assert_eq!(events[at + 2]["causationId"], events[at + 1]["eventId"]);
    assert_ne!(events[at]["causationId"], events[at - 1]["eventId"]);

    // Reopen: complete the other subtask (review), then reopen it.
    for status in ["COMPLETED", "IN_PROGRESS"] {
        app.ok(
            Some(&firm.support.1),
            "mutation($p: UUID!, $t: UUID!, $s: UUID, $st: TaskStatus!) { setTaskStatus(projectId: $p, taskId: $t, subtaskId: $s, status: $st) { caughtUp } }",
            json!({ "p": p, "t": task, "s": subtasks[1], "st": status }),
        )
        .await;
    }
    let shown = project(&app, &firm.support.1, p).await;
    assert_eq!(shown["tasks"][0]["status"], "IN_PROGRESS");
    // A task with subtasks does not take a status by hand (other than review to completed).
    let by_hand = app
        .gql(
            Some(&firm.support.1),
            "mutation($p: UUID!, $t: UUID!) { setTaskStatus(projectId: $p, taskId: $t, status: BLOCKED) { caughtUp } }",
            json!({ "p": p, "t": task }),
        )
        .await;
    assert_eq!(error_code(&by_hand), Some("BAD_USER_INPUT"));
    app.stop().await;
}

/// Every file under the test server's evidence directory.
fn stored_files(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() {
                            walk(&path)
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&files_dir(&app.database_url))
}

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn requests_uploads_and_downloads_are_isolated_between_clients() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    let request_a = raise_request(
        &app,
        &firm.support.1,
        &firm.project_a,
        "ONBOARDING",
        "engagement_letter",
    )
    .await;
    let request_b = raise_request(
        &app,
        &firm.support.1,
        &firm.project_b,
        "ONBOARDING",
        "engagement_letter",
    )
    .await;
    let content = pdf("alpha's signed letter");
    let (status, uploaded) = upload(
        &app,
        &firm.portal_a,
        &request_a,
        "letter.pdf",
        "application/pdf",
        content.clone(),
    )
    .await;
    assert_eq!(status, 201, "{uploaded}");
    let upload_a = uploaded["uploadId"].as_str().expect("id").to_owned();

    // Each portal user sees their own request only.
    let list = "{ documentRequests { id status uploads { id } } }";
    let seen_by_b = app.ok(Some(&firm.portal_b), list, json!({})).await;
    let ids: Vec<&str> = seen_by_b["documentRequests"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [request_b.as_str()]);
    let one = app
        .ok(
            Some(&firm.portal_b),
            "query($id: UUID!) { documentRequest(id: $id) { id } }",
            json!({ "id": request_a }),
        )
        .await;
    assert_eq!(one["documentRequest"], Value::Null);
    let seen_by_a = app.ok(Some(&firm.portal_a), list, json!({})).await;
    assert_eq!(seen_by_a["documentRequests"][0]["status"], "SUBMITTED");

    // B can neither upload to A's request nor download A's file: both are "not found".
    let (status, body) = upload(
        &app,
        &firm.portal_b,
        &request_a,
        "x.pdf",
        "application/pdf",
        pdf("x"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let download = |token: &str| {
        app.http
            .get(format!("{}/files/uploads/{upload_a}", app.address))
            .bearer_auth(token.to_owned())
            .send()
    };
    let refused = download(&firm.portal_b).await.expect("sent");
    assert_eq!(refused.status().as_u16(), 404);
    let anonymous = app
        .http
        .get(format!("{}/files/uploads/{upload_a}", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);

    // A, and the firm's staff, get the exact bytes back.
    for token in [&firm.portal_a, &firm.reviewer.1] {
        let response = download(token).await.expect("sent");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().expect("header"),
            "application/pdf"
        );
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            content.as_slice()
        );
    }

    // B's upload to their own request works and is version 1 there; a re-upload is v2.
    for version in [1, 2] {
        let (status, body) = upload(
            &app,
            &firm.portal_b,
            &request_b,
            "b.pdf",
            "application/pdf",
            pdf(&format!("b{version}")),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["version"], version);
    }
    app.stop().await;
}

#[tokio::test]
async fn oversized_or_wrong_type_uploads_are_refused_and_store_nothing() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    let request = raise_request(
        &app,
        &firm.support.1,
        &firm.project_a,
        "ONBOARDING",
        "engagement_letter",
    )
    .await;
    let (files_before, events_before) = (stored_files(&app), event_count(&app).await);

    let mut big = pdf("big");
    big.resize(MAX_UPLOAD_BYTES + 1, b' ');
    let cases = [
        ("big.pdf", "application/pdf", big, 413),
        (
            "tool.exe",
            "application/x-msdownload",
            b"MZ\x90\x00".to_vec(),
            415,
        ),
        (
            "fake.pdf",
            "application/pdf",
            b"MZ\x90\x00 not a pdf".to_vec(),
            415,
        ),
        ("empty.pdf", "application/pdf", Vec::new(), 415),
    ];
    for (name, media_type, bytes, expected) in cases {
        let (status, body) = upload(&app, &firm.portal_a, &request, name, media_type, bytes).await;
        assert_eq!(status, expected, "{name}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{name}"
        );
        assert!(body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // A request id that does not exist.
    let (status, _) = upload(
        &app,
        &firm.portal_a,
        &uuid::Uuid::new_v4().to_string(),
        "a.pdf",
        "application/pdf",
        pdf("a"),
    )
    .await;
    assert_eq!(status, 404);

    assert_eq!(stored_files(&app), files_before, "no file stored");
    assert_eq!(event_count(&app).await, events_before, "no event appended");
    let requests = app
        .ok(
            Some(&firm.portal_a),
            "{ documentRequests { status uploads { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(requests["documentRequests"][0]["status"], "OPEN");
    assert_eq!(requests["documentRequests"][0]["uploads"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn an_expiry_alert_is_raised_once_even_with_two_schedulers() {
    let app = spawn_app().await.expect("server");
    let replica = spawn_app_on(&app.database_url).await.expect("replica");
    let firm = firm(&app).await;
    let p = &firm.project_a;
    to_issue(&app, &firm, p).await;
    let today = Utc::now().date_naive();
    let expires = today + chrono::Days::new(45);
    app.ok(
        Some(&firm.support.1),
        "mutation($p: UUID!, $e: NaiveDate!) { recordLicence(projectId: $p, input: { number: \"N-14.03.01234\", issuedOn: \"2025-01-01\", expiresOn: $e }) { caughtUp project { licence { number } } } }",
        json!({ "p": p, "e": expires.to_string() }),
    )
    .await;
    // A request due in 3 days gets one reminder, however often the scheduler runs.
    app.ok(
        Some(&firm.support.1),
        "mutation($p: UUID!, $d: NaiveDate!) { raiseDocumentRequest(projectId: $p, input: { stage: ISSUE, itemKey: \"post_registration_filings\", instructions: \"Certified copy\", dueOn: $d }) { caughtUp } }",
        json!({ "p": p, "d": (today + chrono::Days::new(3)).to_string() }),
    )
    .await;

    let (one, two) = tokio::join!(
        reactions::scheduler::run_once(&app.state.bus, &app.pool, today),
        reactions::scheduler::run_once(&replica.state.bus, &replica.pool, today),
    );
    one.expect("first scheduler");
    two.expect("second scheduler");
    reactions::scheduler::run_once(&app.state.bus, &app.pool, today)
        .await
        .expect("third pass");

    let alerts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'LicenceExpiryAlertRaised'",
    )
    .bind(p)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(alerts, 1, "one alert event");
    // Any later mutation waits until the read models have folded everything before it.
    app.ok(
        Some(&firm.portal_a),
        "mutation { markNotificationsRead }",
        json!({}),
    )
    .await;
    app.ok(
        Some(&firm.support.1),
        "mutation($p: UUID!) { renameProject(id: $p, name: \"NBFC CoR (issued)\") { caughtUp } }",
        json!({ "p": p }),
    )
    .await;
    let shown = app
        .ok(
            Some(&firm.portal_a),
            "query($p: UUID!) { project(id: $p) { expiryAlerts { daysAhead } } notifications { kind } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(
        shown["project"]["expiryAlerts"],
        json!([{ "daysAhead": 60 }])
    );
    let expiry_notes = shown["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .filter(|n| n["kind"] == "licence_expiry")
        .count();
    assert_eq!(expiry_notes, 1);
    app.settled().await;
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM email_outbox WHERE to_address = 'portal@alpha.example' AND kind IN ('request_reminder', 'licence_expiry') ORDER BY kind",
    )
    .fetch_all(&app.pool)
    .await
    .expect("outbox");
    assert_eq!(emails, ["licence_expiry", "request_reminder"]);
    replica.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn the_delivery_read_models_rebuild_to_the_same_state() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    workload(&app, &firm).await;
    for name in ["projects", "notifications"] {
        let projection = projections::by_name(name).expect("projection");
        let differences = projections::rebuild::verify(&app.pool, projection.as_ref(), &|_| {})
            .await
            .expect("verify");
        assert!(differences.is_empty(), "{name}: {differences:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_project_closed_pending_updates_applies_changes_only_once_someone_else_approves() {
    let app = spawn_app().await.expect("server");
    let firm = firm(&app).await;
    let p = &firm.project_a;
    to_issue(&app, &firm, p).await;
    app.ok(
        Some(&firm.manager.1),
        "mutation($p: UUID!) { setProjectStatus(id: $p, status: CLOSED_PENDING_UPDATES, reason: \"awaiting the certificate\") { caughtUp } }",
        json!({ "p": p }),
    )
    .await;
    let task = app
        .gql(
            Some(&firm.support.1),
            "mutation($p: UUID!) { addTask(projectId: $p, input: { title: \"More work\" }) { caughtUp } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(error_code(&task), Some("BAD_USER_INPUT"), "{task}");

    app.ok(
        Some(&firm.support.1),
        "mutation($p: UUID!, $i: LiaisonEntryInput!) { addLiaisonEntry(projectId: $p, input: $i) { caughtUp } }",
        json!({ "p": p, "i": { "date": "2026-01-05", "regulator": "rbi", "direction": "INBOUND", "summary": "Certificate dispatched by post", "attachments": [] } }),
    )
    .await;
    app.ok(
        Some(&firm.support.1),
        "mutation($p: UUID!) { recordLicence(projectId: $p, input: { number: \"N-14.03.01234\", issuedOn: \"2026-01-02\", expiresOn: \"2031-01-01\" }) { caughtUp } }",
        json!({ "p": p }),
    )
    .await;
    let state = "query($p: UUID!) { project(id: $p) { licence { number } liaisonLog { summary } changeProposals { number kind summary decision reason } } }";
    let held = app
        .ok(Some(&firm.support.1), state, json!({ "p": p }))
        .await;
    assert!(held["project"]["licence"].is_null(), "{held}");
    assert_eq!(
        held["project"]["liaisonLog"].as_array().map(Vec::len),
        Some(0),
        "nothing applied before approval: {held}"
    );
    let proposals = &held["project"]["changeProposals"];
    assert_eq!(proposals[0]["kind"], "liaison_entry");
    assert_eq!(
        proposals[0]["summary"],
        "RBI, inbound on 2026-01-05: Certificate dispatched by post"
    );
    assert_eq!(proposals[1]["kind"], "licence");
    assert_eq!(proposals[1]["decision"], "pending");
    let queue = app
        .ok(
            Some(&firm.reviewer.1),
            "{ pendingProjectChanges { projectId number } }",
            json!({}),
        )
        .await;
    assert_eq!(
        queue["pendingProjectChanges"].as_array().map(Vec::len),
        Some(2)
    );

    let approve = "mutation($p: UUID!, $n: Int!) { approveProjectChange(projectId: $p, number: $n) { caughtUp project { licence { number } } } }";
    // The proposer cannot approve it, nor can support, nor the customer.
    let own = app
        .gql(Some(&firm.support.1), approve, json!({ "p": p, "n": 1 }))
        .await;
    assert_eq!(error_code(&own), Some("FORBIDDEN"), "{own}");
    let portal = app
        .gql(Some(&firm.portal_a), approve, json!({ "p": p, "n": 1 }))
        .await;
    assert_eq!(error_code(&portal), Some("FORBIDDEN"), "{portal}");
    let unknown = app
        .gql(Some(&firm.reviewer.1), approve, json!({ "p": p, "n": 9 }))
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");

    app.ok(Some(&firm.reviewer.1), approve, json!({ "p": p, "n": 1 }))
        .await;
    let no_reason = app
        .gql(
            Some(&firm.manager.1),
            "mutation($p: UUID!) { refuseProjectChange(projectId: $p, number: 2, reason: \"\") { caughtUp } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(
        error_code(&no_reason),
        Some("BAD_USER_INPUT"),
        "{no_reason}"
    );
    app.ok(
        Some(&firm.manager.1),
        "mutation($p: UUID!) { refuseProjectChange(projectId: $p, number: 2, reason: \"the number has a typo\") { caughtUp } }",
        json!({ "p": p }),
    )
    .await;
    let decided = app
        .ok(Some(&firm.support.1), state, json!({ "p": p }))
        .await;
    assert!(decided["project"]["licence"].is_null(), "{decided}");
    assert_eq!(
        decided["project"]["liaisonLog"][0]["summary"],
        "Certificate dispatched by post"
    );
    let proposals = &decided["project"]["changeProposals"];
    assert_eq!(proposals[0]["decision"], "approved");
    assert_eq!(proposals[1]["decision"], "refused");
    assert_eq!(proposals[1]["reason"], "the number has a typo");
    // Internal only: the customer does not see proposals.
    let hidden = app
        .gql(
            Some(&firm.portal_a),
            "query($p: UUID!) { project(id: $p) { changeProposals { number } } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(error_code(&hidden), Some("FORBIDDEN"), "{hidden}");
    app.stop().await;
}
