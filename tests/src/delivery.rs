//! A consulting firm with staff and two clients, and a delivery workload that exercises
//! stage gates, the document loop, tasks with roll-up, liaison, milestones and the licence.

use serde_json::{json, Value};

use crate::*;

/// Staff and two clients, each with a project and an activated portal user.
#[derive(Debug)]
pub struct Firm {
    /// Admin token.
    pub admin: String,
    /// Support user (id, token).
    pub support: (String, String),
    /// Manager (id, token).
    pub manager: (String, String),
    /// Reviewer (id, token).
    pub reviewer: (String, String),
    /// Client A's project.
    pub project_a: String,
    /// Client B's project.
    pub project_b: String,
    /// Client A's portal token.
    pub portal_a: String,
    /// Client B's portal token.
    pub portal_b: String,
}

/// Sets up the firm on `app`.
pub async fn firm(app: &TestApp) -> Firm {
    let admin = app.admin().await;
    let support = create_user(app, &admin, "support@firm.example", "SUPPORT").await;
    let manager = create_user(app, &admin, "manager@firm.example", "MANAGER").await;
    let reviewer = create_user(app, &admin, "reviewer@firm.example", "REVIEWER").await;
    let lead_a = capture_lead(app, &admin, "Alpha Capital", "alpha@alpha.example").await;
    let lead_b = capture_lead(app, &admin, "Beta Insure", "beta@beta.example").await;
    win_lead(app, &admin, &lead_a).await;
    win_lead(app, &admin, &lead_b).await;
    let (_, project_a) = convert_with_project(app, &admin, &lead_a, "portal@alpha.example").await;
    let (_, project_b) = convert_with_project(app, &admin, &lead_b, "portal@beta.example").await;
    let portal_a = activate_portal_user(app, "portal@alpha.example", "alpha-portal-pass").await;
    let portal_b = activate_portal_user(app, "portal@beta.example", "beta-portal-pass1").await;
    Firm {
        admin,
        support,
        manager,
        reviewer,
        project_a,
        project_b,
        portal_a,
        portal_b,
    }
}

/// The project as a JSON tree (stages with items, tasks, requests).
pub async fn project(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(
        Some(token),
        "query($id: UUID!) { project(id: $id) { id name currentStage progress stagesComplete
            licence { number expiresOn }
            stages { key progress startedAt completedAt daysUsed daysLeft breached slaDays
                     items { key title mandatory evidenceRequired status reason } }
            tasks { id status progress subtasks { id status progress } } } }",
        json!({ "id": id }),
    )
    .await["project"]
        .clone()
}

/// Mandatory items of the current stage that are not settled: (stage, key).
pub async fn missing(app: &TestApp, token: &str, id: &str) -> Vec<(String, String)> {
    let project = project(app, token, id).await;
    let current = project["currentStage"].clone();
    project["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter(|s| s["key"] == current)
        .flat_map(|s| s["items"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["mandatory"] == true && i["status"] != "VERIFIED" && i["status"] != "WAIVED")
        .map(|i| {
            (
                current.as_str().unwrap_or_default().to_owned(),
                i["key"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waives what is missing (manager), then support requests the advance and the reviewer
/// approves it.
pub async fn waive_and_advance(app: &TestApp, firm: &Firm, id: &str) {
    for (stage, key) in missing(app, &firm.support.1, id).await {
        app.ok(
            Some(&firm.manager.1),
            "mutation($p: UUID!, $s: StageKey!, $k: String!) { waiveChecklistItem(projectId: $p, stage: $s, key: $k, reason: \"on file\") { caughtUp } }",
            json!({ "p": id, "s": stage, "k": key }),
        )
        .await;
    }
    app.ok(
        Some(&firm.support.1),
        "mutation($p: UUID!) { requestStageAdvance(projectId: $p) { caughtUp } }",
        json!({ "p": id }),
    )
    .await;
    app.ok(
        Some(&firm.reviewer.1),
        "mutation($p: UUID!) { approveStageAdvance(projectId: $p, comment: \"ok\") { caughtUp } }",
        json!({ "p": id }),
    )
    .await;
}

/// Takes a project to the Issue stage.
pub async fn to_issue(app: &TestApp, firm: &Firm, id: &str) {
    for _ in 0..4 {
        waive_and_advance(app, firm, id).await;
    }
}

/// Accepts an upload (reviewer).
pub async fn accept(app: &TestApp, firm: &Firm, upload_id: &str) {
    app.ok(
        Some(&firm.reviewer.1),
        "mutation($u: UUID!) { acceptUpload(uploadId: $u) { caughtUp } }",
        json!({ "u": upload_id }),
    )
    .await;
}

/// A workload over every delivery feature, on both clients.
pub async fn workload(app: &TestApp, firm: &Firm) {
    for (project_id, portal) in [
        (&firm.project_a, &firm.portal_a),
        (&firm.project_b, &firm.portal_b),
    ] {
        let request = raise_request(
            app,
            &firm.support.1,
            project_id,
            "ONBOARDING",
            "engagement_letter",
        )
        .await;
        let (status, first) = upload(
            app,
            portal,
            &request,
            "letter.pdf",
            "application/pdf",
            pdf("v1"),
        )
        .await;
        assert_eq!(status, 201, "{first}");
        app.ok(
            Some(&firm.reviewer.1),
            "mutation($u: UUID!) { rejectUpload(uploadId: $u, reason: \"unsigned\") { caughtUp } }",
            json!({ "u": first["uploadId"] }),
        )
        .await;
        let (_, second) = upload(
            app,
            portal,
            &request,
            "letter-signed.pdf",
            "application/pdf",
            pdf("v2"),
        )
        .await;
        accept(app, firm, second["uploadId"].as_str().expect("upload id")).await;
        let task = app
            .ok(
                Some(&firm.support.1),
                "mutation($p: UUID!) { addTask(projectId: $p, input: { title: \"Prepare filing\", stage: FILING, estimateHours: 6, assigneeId: null }) { createdId } }",
                json!({ "p": project_id }),
            )
            .await["addTask"]["createdId"]
            .clone();
        let mut subtasks = Vec::new();
        for (title, hours) in [("Draft", 4.0), ("Review", 2.0)] {
            subtasks.push(
                app.ok(
                    Some(&firm.support.1),
                    "mutation($p: UUID!, $t: UUID!, $i: AddSubtaskInput!) { addSubtask(projectId: $p, taskId: $t, input: $i) { createdId } }",
                    json!({ "p": project_id, "t": task, "i": { "title": title, "estimateHours": hours, "assigneeId": firm.support.0 } }),
                )
                .await["addSubtask"]["createdId"]
                    .clone(),
            );
        }
        app.ok(
            Some(&firm.support.1),
            "mutation($p: UUID!, $t: UUID!, $s: UUID) { setTaskStatus(projectId: $p, taskId: $t, subtaskId: $s, status: COMPLETED) { caughtUp } }",
            json!({ "p": project_id, "t": task, "s": subtasks[0] }),
        )
        .await;
        app.ok(
            Some(&firm.support.1),
            "mutation($p: UUID!, $i: LiaisonEntryInput!) { addLiaisonEntry(projectId: $p, input: $i) { caughtUp } }",
            json!({ "p": project_id, "i": { "date": "2026-01-05", "regulator": "rbi", "direction": "OUTBOUND", "summary": "Application acknowledged", "attachments": ["ack.pdf"] } }),
        )
        .await;
        app.ok(
            Some(&firm.support.1),
            "mutation($p: UUID!) { addMilestone(projectId: $p, input: { stage: ONBOARDING, title: \"Retainer\", amountMinor: 5000000, currency: \"INR\" }) { caughtUp } }",
            json!({ "p": project_id }),
        )
        .await;
        waive_and_advance(app, firm, project_id).await;
    }
    app.ok(
        Some(&firm.manager.1),
        "mutation($p: UUID!) { setProjectStatus(id: $p, status: ON_HOLD, reason: \"client travelling\") { caughtUp } }",
        json!({ "p": firm.project_b }),
    )
    .await;
    // Closed pending updates: one liaison entry approved by a second person, one refused.
    app.ok(
        Some(&firm.manager.1),
        "mutation($p: UUID!) { setProjectStatus(id: $p, status: CLOSED_PENDING_UPDATES, reason: \"awaiting the certificate\") { caughtUp } }",
        json!({ "p": firm.project_a }),
    )
    .await;
    for summary in ["Certificate dispatched", "Courier delayed"] {
        app.ok(
            Some(&firm.support.1),
            "mutation($p: UUID!, $i: LiaisonEntryInput!) { addLiaisonEntry(projectId: $p, input: $i) { caughtUp } }",
            json!({ "p": firm.project_a, "i": { "date": "2026-01-06", "regulator": "RBI", "direction": "INBOUND", "summary": summary, "attachments": [] } }),
        )
        .await;
    }
    app.ok(
        Some(&firm.reviewer.1),
        "mutation($p: UUID!) { approveProjectChange(projectId: $p, number: 1) { caughtUp } }",
        json!({ "p": firm.project_a }),
    )
    .await;
    app.ok(
        Some(&firm.manager.1),
        "mutation($p: UUID!) { refuseProjectChange(projectId: $p, number: 2, reason: \"duplicate\") { caughtUp } }",
        json!({ "p": firm.project_a }),
    )
    .await;
    app.ok(
        Some(&firm.portal_a),
        "mutation { markNotificationsRead }",
        json!({}),
    )
    .await;
}
