//! Governed rule changes over HTTP: drafted against a template version, reviewed by four
//! eyes, published as the next version by the `rule-publication` reactor (guidance
//! actioned, impacted projects' owners told), and a project moved onto it deliberately,
//! keeping its verified evidence.

use serde_json::{json, Value};
use tests::*;

const CHANGE: &str = "id status baseVersion publishedVersion effectiveOn guidanceId \
    diff { kind stage itemKey } steps { step by comment }";

const TEMPLATE_STAGES: &str =
    "stages { key slaDays slaExtensionDays items { key title mandatory evidenceRequired responsibleRole } }";

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// The RBI template's id and its latest version's stages, as `TemplateStageInput`s.
async fn rbi(app: &TestApp, token: &str) -> (Value, Value) {
    let templates = app
        .ok(
            Some(token),
            &format!("{{ workflowTemplates {{ id family {TEMPLATE_STAGES} }} }}"),
            json!({}),
        )
        .await;
    let rbi = templates["workflowTemplates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["family"] == "RBI"))
        .cloned()
        .expect("RBI template");
    (rbi["id"].clone(), rbi["stages"].clone())
}

/// `stages` with `item` added to `stage` (mandatory, with evidence) and, when given, the
/// item `drop` of that stage removed.
fn with_item(stages: &Value, stage: &str, item: &str, drop: Option<&str>) -> Value {
    let mut stages = stages.clone();
    if let Some(list) = stages
        .as_array_mut()
        .and_then(|s| s.iter_mut().find(|s| s["key"] == stage))
        .and_then(|s| s["items"].as_array_mut())
    {
        list.retain(|i| Some(i["key"].as_str().unwrap_or_default()) != drop);
        list.push(
            json!({ "key": item, "title": format!("New: {item}"), "mandatory": true,
                          "evidenceRequired": true, "responsibleRole": "SUPPORT" }),
        );
    }
    stages
}

const DRAFT: &str = "mutation($i: DraftRuleChangeInput!) { draftRuleChange(input: $i) { caughtUp ruleChange { id status baseVersion } } }";

async fn draft(app: &TestApp, token: &str, input: Value) -> Value {
    let drafted = app.ok(Some(token), DRAFT, json!({ "i": input })).await;
    drafted["draftRuleChange"]["ruleChange"]["id"].clone()
}

fn step(name: &str) -> String {
    match name {
        "revise" => format!("mutation($id: UUID!, $s: [TemplateStageInput!]!) {{ reviseRuleChange(id: $id, stages: $s) {{ ruleChange {{ {CHANGE} }} }} }}"),
        "approve" => format!("mutation($id: UUID!) {{ approveRuleChange(id: $id, comment: \"fine\") {{ ruleChange {{ {CHANGE} }} }} }}"),
        "return" => format!("mutation($id: UUID!, $c: String!) {{ returnRuleChange(id: $id, comments: $c) {{ ruleChange {{ {CHANGE} }} }} }}"),
        "publish" => format!("mutation($id: UUID!) {{ publishRuleChange(id: $id, effectiveOn: \"2027-04-01\") {{ caughtUp ruleChange {{ {CHANGE} }} }} }}"),
        _ => format!("mutation($id: UUID!) {{ submitRuleChange(id: $id) {{ ruleChange {{ {CHANGE} }} }} }}"),
    }
}

#[tokio::test]
async fn a_rule_change_is_reviewed_by_four_eyes_and_published_as_the_next_version() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (author_id, author) = create_user(&app, &admin, "author@rules.example", "REVIEWER").await;
    let (_, second) = create_user(&app, &admin, "second@rules.example", "REVIEWER").await;
    let (_, manager) = create_user(&app, &admin, "manager@rules.example", "MANAGER").await;
    let (_, consultant) = create_user(&app, &admin, "con@rules.example", "CONSULTANT").await;
    let lead = capture_lead(&app, &admin, "Rules Finance", "cfo@rules.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@rules.example").await;
    let (template, stages) = rbi(&app, &admin).await;

    let recorded = app
        .ok(
            Some(&author),
            "mutation { recordGuidance(input: { regulator: \"RBI\", circularRef: \"RBI/2026-27/40\", title: \"Capital plans\", \
               issuedOn: \"2026-11-20\", summary: \"A capital plan at filing.\" }) { guidance { id } } }",
            json!({}),
        )
        .await;
    let guidance = recorded["recordGuidance"]["guidance"]["id"].clone();

    // Drafting: internal roles that assess guidance only; a copy of the latest version
    // when no stages are given, which changes nothing and is not submitted.
    let input = json!({ "templateId": template, "guidanceId": guidance, "title": "Capital plan at filing" });
    let refused = app
        .gql(Some(&consultant), DRAFT, json!({ "i": input }))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let change = draft(&app, &author, input.clone()).await;
    let empty = app
        .gql(Some(&author), &step("submit"), json!({ "id": change }))
        .await;
    assert_eq!(code(&empty), "BAD_USER_INPUT", "{empty}");

    // A rival drafted against the same version, approved first but published second.
    let rival = draft(
        &app,
        &second,
        json!({ "templateId": template, "title": "Rival", "stages": with_item(&stages, "FILING", "rival_item", None) }),
    )
    .await;
    app.ok(Some(&second), &step("submit"), json!({ "id": rival }))
        .await;
    app.ok(Some(&author), &step("approve"), json!({ "id": rival }))
        .await;

    // Only the author revises; a broken definition is refused with what is wrong.
    let proposed = with_item(&stages, "FILING", "capital_plan", None);
    let revise = step("revise");
    let not_author = app
        .gql(
            Some(&second),
            &revise,
            json!({ "id": change, "s": proposed }),
        )
        .await;
    assert_eq!(code(&not_author), "FORBIDDEN");
    let broken = app
        .gql(
            Some(&author),
            &revise,
            json!({ "id": change, "s": [proposed[0].clone()] }),
        )
        .await;
    assert_eq!(code(&broken), "BAD_USER_INPUT");
    let revised = app
        .ok(
            Some(&author),
            &revise,
            json!({ "id": change, "s": proposed }),
        )
        .await;
    assert_eq!(
        revised["reviseRuleChange"]["ruleChange"]["diff"],
        json!([{ "kind": "ITEM_ADDED", "stage": "FILING", "itemKey": "capital_plan" }])
    );
    app.ok(Some(&author), &step("submit"), json!({ "id": change }))
        .await;

    // Four eyes: not the author, never a manager; returned with comments, then approved.
    for (token, why) in [(&author, "the author"), (&manager, "a manager")] {
        let approve = app
            .gql(Some(token), &step("approve"), json!({ "id": change }))
            .await;
        assert_eq!(code(&approve), "FORBIDDEN", "{why} approving: {approve}");
    }
    let returned = app
        .ok(
            Some(&second),
            &step("return"),
            json!({ "id": change, "c": "name the evidence" }),
        )
        .await;
    assert_eq!(
        returned["returnRuleChange"]["ruleChange"]["status"],
        "RETURNED"
    );
    app.ok(Some(&author), &step("submit"), json!({ "id": change }))
        .await;
    app.ok(Some(&second), &step("approve"), json!({ "id": change }))
        .await;
    for (token, why) in [(&author, "the author"), (&manager, "a manager")] {
        let publish = app
            .gql(Some(token), &step("publish"), json!({ "id": change }))
            .await;
        assert_eq!(code(&publish), "FORBIDDEN", "{why} publishing: {publish}");
    }
    let published = app
        .ok(Some(&admin), &step("publish"), json!({ "id": change }))
        .await;
    let published = &published["publishRuleChange"]["ruleChange"];
    assert_eq!(published["status"], "PUBLISHED");
    assert_eq!(published["publishedVersion"], 2);
    assert_eq!(published["effectiveOn"], "2027-04-01");
    let steps: Vec<&str> = published["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["step"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        steps,
        [
            "drafted",
            "revised",
            "submitted",
            "returned",
            "submitted",
            "approved",
            "published"
        ]
    );
    assert_eq!(published["steps"][0]["by"], author_id.as_str());
    assert_eq!(published["steps"][3]["comment"], "name the evidence");

    // Published once; immutable; the rival now targets a version that moved on.
    let twice = app
        .gql(Some(&admin), &step("publish"), json!({ "id": change }))
        .await;
    assert_eq!(code(&twice), "BAD_USER_INPUT", "{twice}");
    let late = app
        .gql(Some(&author), &revise, json!({ "id": change, "s": stages }))
        .await;
    assert_eq!(code(&late), "BAD_USER_INPUT");
    let rival_published = app
        .gql(Some(&admin), &step("publish"), json!({ "id": rival }))
        .await;
    assert_eq!(code(&rival_published), "CONFLICT", "{rival_published}");

    // The reactor: version 2 published with its rule change, the guidance actioned, the
    // project's owner (who opened it) told; the project stays on version 1.
    app.settled().await;
    let versions = app
        .ok(
            Some(&admin),
            "query($t: UUID!) { templateVersions(templateId: $t) { version ruleChangeId effectiveOn } \
               templateDiff(templateId: $t, from: 1, to: 2) { kind itemKey } }",
            json!({ "t": template }),
        )
        .await;
    assert_eq!(
        versions["templateVersions"],
        json!([
            { "version": 1, "ruleChangeId": null, "effectiveOn": null },
            { "version": 2, "ruleChangeId": change, "effectiveOn": "2027-04-01" },
        ])
    );
    assert_eq!(
        versions["templateDiff"],
        json!([{ "kind": "ITEM_ADDED", "itemKey": "capital_plan" }])
    );
    let actioned = app
        .ok(
            Some(&admin),
            "query($g: UUID!) { guidanceItem(id: $g) { status ruleChanges { id status } } }",
            json!({ "g": guidance }),
        )
        .await;
    assert_eq!(
        actioned["guidanceItem"],
        json!({ "status": "ACTIONED", "ruleChanges": [{ "id": change, "status": "PUBLISHED" }] })
    );
    let pinned = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { project(id: $id) { templateVersion } }",
            json!({ "id": project }),
        )
        .await;
    assert_eq!(pinned["project"]["templateVersion"], 1);
    let notes = app
        .ok(
            Some(&admin),
            "{ notifications(first: 50) { kind projectId } }",
            json!({}),
        )
        .await;
    let told: Vec<&Value> = notes["notifications"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter(|n| n["kind"] == "template_version_published")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(told.len(), 1, "{notes}");
    assert_eq!(told[0]["projectId"], project.as_str());
    let history = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { history(aggregateType: RULE_CHANGE, aggregateId: $id, first: 100) { nodes { eventType actorRole } } }",
            json!({ "id": change }),
        )
        .await;
    assert_eq!(
        history["history"]["nodes"].as_array().map(Vec::len),
        Some(7),
        "{history}"
    );
    let listed = app
        .ok(
            Some(&consultant),
            "query($t: UUID!) { ruleChanges(templateId: $t, status: APPROVED) { id } }",
            json!({ "t": template }),
        )
        .await;
    assert_eq!(listed["ruleChanges"], json!([{ "id": rival }]));
    let portal = activate_portal_user(&app, "cfo@rules.example", "a-long-password-4").await;
    let hidden = app
        .gql(Some(&portal), "{ ruleChanges { id } }", json!({}))
        .await;
    assert_eq!(code(&hidden), "FORBIDDEN");

    for model in ["rule_changes", "templates", "guidance", "notifications"] {
        assert_rebuild_equals_live(&app, model).await;
    }
}

const PROJECT: &str = "query($id: UUID!) { project(id: $id) { templateVersion stages { key slaDays items { key status } } } }";

fn item_status<'a>(project: &'a Value, stage: &str, key: &str) -> Option<&'a str> {
    project["project"]["stages"]
        .as_array()?
        .iter()
        .find(|s| s["key"] == stage)?["items"]
        .as_array()?
        .iter()
        .find(|i| i["key"] == key)?["status"]
        .as_str()
}

#[tokio::test]
async fn a_project_moves_to_a_newer_version_only_with_a_second_person_and_keeps_its_evidence() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, author) = create_user(&app, &admin, "author@move.example", "REVIEWER").await;
    let (_, manager) = create_user(&app, &admin, "manager@move.example", "MANAGER").await;
    let (_, support) = create_user(&app, &admin, "support@move.example", "SUPPORT").await;
    let lead = capture_lead(&app, &admin, "Move Finance", "cfo@move.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@move.example").await;
    let portal = activate_portal_user(&app, "cfo@move.example", "a-long-password-4").await;

    // The engagement letter verified through an accepted upload.
    let request = raise_request(&app, &admin, &project, "ONBOARDING", "engagement_letter").await;
    let (status, uploaded) = upload(
        &app,
        &portal,
        &request,
        "letter.pdf",
        "application/pdf",
        pdf("letter"),
    )
    .await;
    assert_eq!(status, 201, "{uploaded}");
    let upload_id = uploaded["uploadId"].clone();
    app.ok(
        Some(&author),
        "mutation($u: UUID!) { acceptUpload(uploadId: $u) { caughtUp } }",
        json!({ "u": upload_id }),
    )
    .await;

    // Version 2: the kick-off call dropped, a beneficial-owner declaration added.
    let (template, stages) = rbi(&app, &admin).await;
    let change = draft(
        &app,
        &author,
        json!({ "templateId": template, "title": "Beneficial owners at onboarding",
                "stages": with_item(&stages, "ONBOARDING", "beneficial_owners", Some("kickoff_call")) }),
    )
    .await;
    app.ok(Some(&author), &step("submit"), json!({ "id": change }))
        .await;
    app.ok(Some(&admin), &step("approve"), json!({ "id": change }))
        .await;
    app.ok(Some(&admin), &step("publish"), json!({ "id": change }))
        .await;
    app.settled().await;

    let propose = "mutation($p: UUID!) { proposeTemplateMove(projectId: $p) { caughtUp project { templateVersion } } }";
    let by_support = app
        .gql(Some(&support), propose, json!({ "p": project }))
        .await;
    assert_eq!(code(&by_support), "FORBIDDEN");
    let by_reviewer = app
        .gql(Some(&author), propose, json!({ "p": project }))
        .await;
    assert_eq!(code(&by_reviewer), "FORBIDDEN", "managers propose moves");
    let proposed = app
        .ok(Some(&manager), propose, json!({ "p": project }))
        .await;
    assert_eq!(
        proposed["proposeTemplateMove"]["project"]["templateVersion"],
        1
    );
    let again = app
        .gql(Some(&manager), propose, json!({ "p": project }))
        .await;
    assert_eq!(code(&again), "CONFLICT");
    let pending = app
        .ok(
            Some(&admin),
            "{ pendingProjectChanges { projectId number kind summary } }",
            json!({}),
        )
        .await;
    let held = &pending["pendingProjectChanges"][0];
    assert_eq!(held["kind"], "template_version");
    assert_eq!(
        held["summary"],
        "move from template version 1 to 2: 1 checklist items added, 1 removed"
    );
    let approve = "mutation($p: UUID!, $n: Int!) { approveProjectChange(projectId: $p, number: $n) { caughtUp } }";
    let own = app
        .gql(
            Some(&manager),
            approve,
            json!({ "p": project, "n": held["number"] }),
        )
        .await;
    assert_eq!(code(&own), "FORBIDDEN", "the proposer never approves");
    let before = app
        .ok(Some(&admin), PROJECT, json!({ "id": project }))
        .await;
    assert_eq!(
        item_status(&before, "ONBOARDING", "engagement_letter"),
        Some("VERIFIED")
    );
    app.ok(
        Some(&author),
        approve,
        json!({ "p": project, "n": held["number"] }),
    )
    .await;

    let after = app
        .ok(Some(&admin), PROJECT, json!({ "id": project }))
        .await;
    assert_eq!(after["project"]["templateVersion"], 2);
    assert_eq!(
        item_status(&after, "ONBOARDING", "engagement_letter"),
        Some("VERIFIED"),
        "verified evidence is kept"
    );
    assert_eq!(
        item_status(&after, "ONBOARDING", "beneficial_owners"),
        Some("PENDING")
    );
    assert_eq!(item_status(&after, "ONBOARDING", "kickoff_call"), None);
    let request_after = app
        .ok(
            Some(&portal),
            "{ documentRequests { id uploads { id state } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        request_after["documentRequests"][0]["uploads"][0]["state"],
        "ACCEPTED"
    );
    let history = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { history(aggregateType: PROJECT, aggregateId: $id, first: 100) { nodes { eventType } } }",
            json!({ "id": project }),
        )
        .await;
    let types: Vec<&str> = history["history"]["nodes"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["eventType"].as_str()).collect())
        .unwrap_or_default();
    for expected in [
        "NewerTemplateVersionPublished",
        "ChangeProposed",
        "ChangeApproved",
        "TemplateMoved",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    // Its gate now needs the new item: the move is real, not a label.
    let advance = app
        .gql(
            Some(&support),
            "mutation($p: UUID!) { requestStageAdvance(projectId: $p) { caughtUp } }",
            json!({ "p": project }),
        )
        .await;
    assert!(
        advance["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("beneficial_owners")),
        "{advance}"
    );
    assert_rebuild_equals_live(&app, "projects").await;
}

#[tokio::test]
async fn a_dry_run_replays_the_templates_projects_under_the_draft() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, author) = create_user(&app, &admin, "author@dry.example", "REVIEWER").await;
    let (_, manager) = create_user(&app, &admin, "manager@dry.example", "MANAGER").await;
    let (_, support) = create_user(&app, &admin, "support@dry.example", "SUPPORT").await;
    let mut projects = Vec::new();
    for n in 0..3 {
        let email = format!("cfo{n}@dry.example");
        let lead = capture_lead(&app, &admin, &format!("Dry Finance {n}"), &email).await;
        win_lead(&app, &admin, &lead).await;
        projects.push(convert_with_project(&app, &admin, &lead, &email).await.1);
    }
    let (ahead, behind, closed) = (&projects[0], &projects[1], &projects[2]);
    // Ahead: its mandatory onboarding items waived, then through the gate into
    // documentation. Behind: untouched. Closed: closed before doing anything.
    for key in ["engagement_letter", "kyc_directors"] {
        app.ok(
            Some(&manager),
            "mutation($p: UUID!, $k: String!) { waiveChecklistItem(projectId: $p, stage: ONBOARDING, key: $k, reason: \"held on file\") { caughtUp } }",
            json!({ "p": ahead, "k": key }),
        )
        .await;
    }
    app.ok(
        Some(&support),
        "mutation($p: UUID!) { requestStageAdvance(projectId: $p) { caughtUp } }",
        json!({ "p": ahead }),
    )
    .await;
    app.ok(
        Some(&manager),
        "mutation($p: UUID!) { approveStageAdvance(projectId: $p) { caughtUp } }",
        json!({ "p": ahead }),
    )
    .await;
    app.ok(
        Some(&manager),
        "mutation($p: UUID!) { setProjectStatus(id: $p, status: CLOSED, reason: \"withdrawn\") { caughtUp } }",
        json!({ "p": closed }),
    )
    .await;

    // The draft: a mandatory beneficial-owner declaration at onboarding, and a one-day
    // documentation clock (thirty today).
    let (template, stages) = rbi(&app, &admin).await;
    let mut proposed = with_item(&stages, "ONBOARDING", "beneficial_owners", None);
    proposed[1]["slaDays"] = json!(1);
    let change = draft(
        &app,
        &author,
        json!({ "templateId": template, "title": "Owners and a faster review", "stages": proposed }),
    )
    .await;
    let as_of = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let report = app
        .ok(
            Some(&manager),
            "query($id: UUID!, $at: DateTime!) { ruleChange(id: $id) { dryRun(asOf: $at) { projectsExamined \
               projects { projectId missingItems { stage key } refusedGates { stage missingItems } \
                          breachedClocks { stage daysUsed daysAllowed daysAllowedThen } } } } }",
            json!({ "id": change, "at": as_of }),
        )
        .await;
    let report = &report["ruleChange"]["dryRun"];
    assert_eq!(report["projectsExamined"], 3);
    let mut listed = report["projects"].as_array().cloned().unwrap_or_default();
    listed.sort_by_key(|p| p["projectId"] != ahead.as_str());
    assert_eq!(
        listed,
        [
            json!({ "projectId": ahead, "missingItems": [],
                    "refusedGates": [{ "stage": "ONBOARDING", "missingItems": ["beneficial_owners"] }],
                    "breachedClocks": [{ "stage": "DOCUMENTATION", "daysUsed": 3, "daysAllowed": 1, "daysAllowedThen": 30 }] }),
            json!({ "projectId": behind, "missingItems": [{ "stage": "ONBOARDING", "key": "beneficial_owners" }],
                    "refusedGates": [], "breachedClocks": [] }),
        ],
        "the closed project would differ in nothing"
    );
}

#[tokio::test]
async fn a_version_brings_its_milestones_and_request_templates_to_projects_started_on_it() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, author) = create_user(&app, &admin, "author@fees.example", "REVIEWER").await;
    let (template, stages) = rbi(&app, &admin).await;
    let publish = |stages: Value, effective: String| {
        let (app, author, admin, template) = (&app, &author, &admin, template.clone());
        async move {
            let change = draft(
                app,
                author,
                json!({ "templateId": template, "title": "Fees and letters", "stages": stages }),
            )
            .await;
            app.ok(Some(author), &step("submit"), json!({ "id": change }))
                .await;
            app.ok(Some(admin), &step("approve"), json!({ "id": change }))
                .await;
            app.ok(
                Some(admin),
                "mutation($id: UUID!, $on: NaiveDate!) { publishRuleChange(id: $id, effectiveOn: $on) { caughtUp } }",
                json!({ "id": change, "on": effective }),
            )
            .await;
            app.settled().await;
        }
    };
    // Version 2, in effect today: an onboarding fee, and a request template on the
    // engagement letter.
    let mut two = stages.clone();
    two[0]["milestones"] = json!([{ "key": "onboarding_fee", "title": "Onboarding fee",
                                    "amountMinor": 2_500_000, "currency": "INR" }]);
    two[0]["items"][0]["requestTemplate"] =
        json!({ "instructions": "Sign and upload the engagement letter", "dueInDays": 10 });
    let today = chrono::Utc::now().date_naive();
    publish(two.clone(), today.to_string()).await;
    let diff = app
        .ok(
            Some(&admin),
            "query($t: UUID!) { templateDiff(templateId: $t, from: 1, to: 2) { kind itemKey milestoneKey fields milestoneAfter { amountMinor } } }",
            json!({ "t": template }),
        )
        .await;
    assert_eq!(
        diff["templateDiff"],
        json!([
            { "kind": "ITEM_CHANGED", "itemKey": "engagement_letter", "milestoneKey": null, "fields": ["request"], "milestoneAfter": null },
            { "kind": "MILESTONE_ADDED", "itemKey": null, "milestoneKey": "onboarding_fee", "fields": [], "milestoneAfter": { "amountMinor": 2_500_000 } },
        ])
    );
    // Version 3, in effect only next year: projects started today stay on version 2.
    let mut three = two.clone();
    three[0]["milestones"][0]["amountMinor"] = json!(3_000_000);
    publish(three, (today + chrono::Duration::days(200)).to_string()).await;

    let lead = capture_lead(&app, &admin, "Fees Finance", "cfo@fees.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@fees.example").await;
    let shown = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { project(id: $id) { templateVersion milestones { title amountMinor currency billable } } }",
            json!({ "id": project }),
        )
        .await;
    assert_eq!(shown["project"]["templateVersion"], 2);
    assert_eq!(
        shown["project"]["milestones"],
        json!([{ "title": "Onboarding fee", "amountMinor": 2_500_000, "currency": "INR", "billable": false }])
    );
    let raised = app
        .ok(
            Some(&admin),
            "mutation($p: UUID!) { raiseDocumentRequest(projectId: $p, input: { stage: ONBOARDING, itemKey: \"engagement_letter\" }) { createdId } }",
            json!({ "p": project }),
        )
        .await;
    let request = raised["raiseDocumentRequest"]["createdId"].clone();
    let shown = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { documentRequest(id: $id) { instructions dueOn } }",
            json!({ "id": request }),
        )
        .await;
    assert_eq!(
        shown["documentRequest"],
        json!({ "instructions": "Sign and upload the engagement letter",
                "dueOn": (today + chrono::Duration::days(10)).to_string() })
    );
    let unsaid = app
        .gql(
            Some(&admin),
            "mutation($p: UUID!) { raiseDocumentRequest(projectId: $p, input: { stage: ONBOARDING, itemKey: \"kyc_directors\" }) { createdId } }",
            json!({ "p": project }),
        )
        .await;
    assert_eq!(
        code(&unsaid),
        "BAD_USER_INPUT",
        "no template, no instructions"
    );
    assert_rebuild_equals_live(&app, "projects").await;
}
