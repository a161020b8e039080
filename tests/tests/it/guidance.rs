//! The regulatory library over HTTP: guidance recorded once per regulator and circular,
//! assessed against real templates and their checklist items, the projects it touches, and
//! closing without action.

use serde_json::{json, Value};
use tests::*;

const GUIDANCE: &str = "id regulator circularRef status severity narrative statusReason families \
    impacts { templateId stages items }";

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn guidance_is_recorded_once_assessed_against_templates_and_shows_what_it_touches() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, reviewer) = create_user(&app, &admin, "rev@lib.example", "REVIEWER").await;
    let (_, consultant) = create_user(&app, &admin, "con@lib.example", "CONSULTANT").await;
    let lead = capture_lead(&app, &admin, "Library Finance", "cfo@lib.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@lib.example").await;
    let templates = app
        .ok(
            Some(&admin),
            "{ workflowTemplates { id family version stages { key items { key } } } }",
            json!({}),
        )
        .await;
    let rbi = templates["workflowTemplates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["family"] == "RBI"))
        .cloned()
        .expect("RBI template");
    let filing = rbi["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["key"] == "FILING"))
        .cloned()
        .expect("filing stage");
    let item = filing["items"][0]["key"].clone();

    let record = format!("mutation($i: RecordGuidanceInput!) {{ recordGuidance(input: $i) {{ caughtUp guidance {{ {GUIDANCE} }} }} }}");
    let circular = |reference: &str, effective: &str| {
        json!({ "i": { "regulator": "rbi", "circularRef": reference, "title": "Revised capital norms",
                       "issuedOn": "2026-11-02", "effectiveOn": effective, "summary": "Tier 2 changes.",
                       "families": ["rbi", "RBI"] } })
    };
    let refused = app
        .gql(
            Some(&consultant),
            &record,
            circular("RBI/2026-27/12", "2027-01-01"),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let early = app
        .gql(
            Some(&reviewer),
            &record,
            circular("RBI/2026-27/12", "2026-10-01"),
        )
        .await;
    assert_eq!(code(&early), "BAD_USER_INPUT");
    let recorded = app
        .ok(
            Some(&reviewer),
            &record,
            circular("RBI/2026-27/12", "2027-01-01"),
        )
        .await;
    let guidance = &recorded["recordGuidance"]["guidance"];
    assert_eq!(guidance["regulator"], "RBI");
    assert_eq!(guidance["status"], "NEW");
    assert_eq!(guidance["families"], json!(["RBI"]));
    let id = guidance["id"].clone();
    let again = app
        .gql(
            Some(&reviewer),
            &record,
            circular(" rbi/2026-27/12", "2027-01-01"),
        )
        .await;
    assert_eq!(code(&again), "CONFLICT", "{again}");

    // Assessed against the RBI template: its items must exist in the stages named.
    let assess = format!("mutation($id: UUID!, $i: [TemplateImpactInput!]!) {{ assessGuidance(id: $id, impacts: $i, severity: HIGH, narrative: \"Add a capital plan\") {{ guidance {{ {GUIDANCE} }} }} }}");
    let unknown_item = app
        .gql(Some(&reviewer), &assess, json!({ "id": id, "i": [{ "templateId": rbi["id"], "stages": ["FILING"], "items": ["no_such_item"] }] }))
        .await;
    assert_eq!(code(&unknown_item), "BAD_USER_INPUT", "{unknown_item}");
    let unknown_template = app
        .gql(
            Some(&reviewer),
            &assess,
            json!({ "id": id, "i": [{ "templateId": project, "items": [] }] }),
        )
        .await;
    assert_eq!(code(&unknown_template), "NOT_FOUND");
    let assessed = app
        .ok(Some(&reviewer), &assess, json!({ "id": id, "i": [{ "templateId": rbi["id"], "stages": ["FILING"], "items": [item] }] }))
        .await;
    let guidance = &assessed["assessGuidance"]["guidance"];
    assert_eq!(guidance["status"], "ASSESSED");
    assert_eq!(guidance["severity"], "HIGH");
    assert_eq!(
        guidance["impacts"],
        json!([{ "templateId": rbi["id"], "stages": ["FILING"], "items": [item] }])
    );

    // What it touches: the project on that template, its client, by version.
    let touched = app
        .ok(
            Some(&consultant),
            "query($g: UUID!) { impactedProjects(guidanceId: $g) { projectCount clientCount byVersion { templateVersion projects } projects { projectId clientName templateVersion owners } } }",
            json!({ "g": id }),
        )
        .await;
    let touched = &touched["impactedProjects"];
    assert_eq!(touched["projectCount"], 1);
    assert_eq!(touched["clientCount"], 1);
    assert_eq!(touched["projects"][0]["projectId"], project.as_str());
    assert_eq!(touched["projects"][0]["clientName"], "Library Finance");
    let me = app.ok(Some(&admin), "{ me { id } }", json!({})).await;
    assert_eq!(
        touched["projects"][0]["owners"],
        json!([me["me"]["id"]]),
        "who opened it owns it while it has no open tasks"
    );
    assert_eq!(
        touched["byVersion"],
        json!([{ "templateVersion": rbi["version"], "projects": 1 }])
    );

    // Listed by regulator; the portal sees none of it.
    let listed = app
        .ok(
            Some(&consultant),
            "{ guidance(regulator: \"rbi\") { circularRef } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["guidance"],
        json!([{ "circularRef": "RBI/2026-27/12" }])
    );
    let portal = activate_portal_user(&app, "cfo@lib.example", "a-long-password-4").await;
    let hidden = app
        .gql(Some(&portal), "{ guidance { id } }", json!({}))
        .await;
    assert_eq!(code(&hidden), "FORBIDDEN");

    // Closed without action: final.
    let close = "mutation($id: UUID!, $r: String!) { closeGuidanceWithoutAction(id: $id, reason: $r) { guidance { status statusReason } } }";
    let blank = app
        .gql(Some(&reviewer), close, json!({ "id": id, "r": " " }))
        .await;
    assert_eq!(code(&blank), "BAD_USER_INPUT");
    let closed = app
        .ok(
            Some(&reviewer),
            close,
            json!({ "id": id, "r": "superseded by RBI/2026-27/19" }),
        )
        .await;
    assert_eq!(
        closed["closeGuidanceWithoutAction"]["guidance"]["status"],
        "NO_ACTION"
    );
    let late = app
        .gql(
            Some(&reviewer),
            &assess,
            json!({ "id": id, "i": [{ "templateId": rbi["id"], "items": [] }] }),
        )
        .await;
    assert_eq!(code(&late), "BAD_USER_INPUT");
    assert_rebuild_equals_live(&app, "guidance").await;
}

#[tokio::test]
async fn every_template_version_is_kept_and_two_versions_diff_by_stage() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Version Finance", "cfo@ver.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@ver.example").await;
    let rbi = domain::template::seeded_templates()
        .into_iter()
        .find(|t| t.family == "RBI")
        .expect("RBI seed");
    let versions = "query($t: UUID!) { templateVersions(templateId: $t) { version stages { key slaDays items { key mandatory } } } }";
    let one = app.ok(Some(&admin), versions, json!({ "t": rbi.id })).await;
    assert_eq!(one["templateVersions"].as_array().map(Vec::len), Some(1));

    // Version 2: the first filing item becomes optional, one item is added, the filing
    // clock grows by five days.
    let mut stages = rbi.stages.clone();
    let filing = stages
        .iter_mut()
        .find(|s| s.stage == domain::template::StageKey::Filing)
        .expect("filing");
    filing.items[0].mandatory = false;
    filing.sla_days = Some(filing.sla_days.unwrap_or(0) + 5);
    let mut added = filing.items[0].clone();
    added.key = "capital_plan".into();
    added.title = "Capital plan".into();
    filing.items.push(added);
    let changed_key = filing.items[0].key.clone();
    let ctx = commands::CommandContext::system();
    app.state
        .bus
        .template(
            &ctx,
            rbi.id,
            domain::template::TemplateCommand::PublishVersion {
                template_id: rbi.id,
                family: rbi.family.to_owned(),
                name: rbi.name.to_owned(),
                stages,
                publication: None,
                at: ctx.issued_at,
            },
        )
        .await
        .expect("published");
    app.settled().await;
    let two = app.ok(Some(&admin), versions, json!({ "t": rbi.id })).await;
    assert_eq!(two["templateVersions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        two["templateVersions"][0], one["templateVersions"][0],
        "version 1 is unchanged"
    );

    let diff = "query($t: UUID!, $f: Int!, $to: Int!) { templateDiff(templateId: $t, from: $f, to: $to) { kind stage itemKey fields beforeDays afterDays } }";
    let changes = app
        .ok(Some(&admin), diff, json!({ "t": rbi.id, "f": 1, "to": 2 }))
        .await;
    let kinds: Vec<(String, String)> = changes["templateDiff"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default().to_owned(),
                c["itemKey"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("CLOCK_CHANGED".to_owned(), String::new()),
            ("ITEM_CHANGED".to_owned(), changed_key),
            ("ITEM_ADDED".to_owned(), "capital_plan".to_owned()),
        ]
    );
    assert_eq!(changes["templateDiff"][1]["fields"], json!(["mandatory"]));
    let none = app
        .ok(Some(&admin), diff, json!({ "t": rbi.id, "f": 2, "to": 2 }))
        .await;
    assert_eq!(none["templateDiff"], json!([]));
    let missing = app
        .gql(Some(&admin), diff, json!({ "t": rbi.id, "f": 1, "to": 3 }))
        .await;
    assert_eq!(code(&missing), "NOT_FOUND");

    // The project stays on the version it started with.
    let pinned = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { project(id: $id) { templateVersion } }",
            json!({ "id": project }),
        )
        .await;
    assert_eq!(pinned["project"]["templateVersion"], 1);
    // Which rules governed its gates on a date, in one query: version 1's, as published.
    let governed = app
        .ok(
            Some(&admin),
            "query($id: UUID!, $at: DateTime!) { projectAsOf(id: $id, at: $at) { templateVersion \
               templateDefinition { version stages { key slaDays items { key mandatory } } } } }",
            json!({ "id": project, "at": chrono::Utc::now().to_rfc3339() }),
        )
        .await;
    let definition = &governed["projectAsOf"]["templateDefinition"];
    assert_eq!(governed["projectAsOf"]["templateVersion"], 1);
    assert_eq!(definition["version"], 1);
    assert_eq!(definition["stages"], one["templateVersions"][0]["stages"]);
    let portal = activate_portal_user(&app, "cfo@ver.example", "a-long-password-4").await;
    let hidden = app
        .gql(Some(&portal), versions, json!({ "t": rbi.id }))
        .await;
    assert_eq!(code(&hidden), "FORBIDDEN");
    // The migration's backfill, run on this log, finds exactly what the projection folded.
    let live = dump(&app.pool, "template_versions").await;
    let migration = include_str!("../../../migrations/0021_template_versions.sql");
    let backfill = migration
        .split_once("-- Versions published before")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, sql)| sql)
        .expect("the backfill");
    sqlx::query("DELETE FROM template_versions")
        .execute(&app.pool)
        .await
        .expect("emptied");
    sqlx::raw_sql(backfill)
        .execute(&app.pool)
        .await
        .expect("backfill");
    assert_eq!(dump(&app.pool, "template_versions").await, live);
    assert_rebuild_equals_live(&app, "templates").await;
}

/// Attaches `bytes` as the PDF `name` to a guidance item; returns (HTTP status, JSON body).
async fn attach(
    app: &TestApp,
    token: &str,
    guidance: &Value,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let path = format!("/files/guidance/{}", guidance.as_str().unwrap_or_default());
    post_file(app, token, &path, name, "application/pdf", bytes).await
}

#[tokio::test]
async fn a_circulars_source_documents_are_stored_once_each_with_their_hash() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, reviewer) = create_user(&app, &admin, "rev@docs.example", "REVIEWER").await;
    let (_, consultant) = create_user(&app, &admin, "con@docs.example", "CONSULTANT").await;
    let recorded = app
        .ok(
            Some(&reviewer),
            "mutation { recordGuidance(input: { regulator: \"SEBI\", circularRef: \"SEBI/HO/2026/9\", title: \"RA norms\", \
               issuedOn: \"2026-11-02\", summary: \"s\" }) { guidance { id } } }",
            json!({}),
        )
        .await;
    let guidance = recorded["recordGuidance"]["guidance"]["id"].clone();
    let content = pdf("SEBI/HO/2026/9");

    let (status, refused) = attach(
        &app,
        &consultant,
        &guidance,
        "circular.pdf",
        content.clone(),
    )
    .await;
    assert_eq!((status, code(&refused)), (403, "FORBIDDEN"), "{refused}");
    let (status, missing) = attach(
        &app,
        &reviewer,
        &json!(uuid::Uuid::nil()),
        "c.pdf",
        content.clone(),
    )
    .await;
    assert_eq!((status, code(&missing)), (404, "NOT_FOUND"), "{missing}");
    let (status, disguised) = attach(
        &app,
        &reviewer,
        &guidance,
        "circular.pdf",
        b"MZ not a pdf".to_vec(),
    )
    .await;
    assert_eq!(status, 415, "{disguised}");

    let (status, attached) =
        attach(&app, &reviewer, &guidance, "circular.pdf", content.clone()).await;
    assert_eq!(status, 201, "{attached}");
    let sha256 = attached["sha256"].as_str().unwrap_or_default().to_owned();
    assert_eq!(sha256.len(), 64);
    assert_eq!(attached["caughtUp"], true);
    let stored_dir = files_dir(&app.database_url).join("guidance");
    let stored = || walk(&stored_dir);
    assert_eq!(stored(), 1);
    // The same content again is refused, and leaves nothing stored.
    let (status, again) = attach(&app, &reviewer, &guidance, "copy.pdf", content.clone()).await;
    assert_eq!((status, code(&again)), (409, "CONFLICT"), "{again}");
    assert_eq!(stored(), 1, "a refused document is removed from the store");

    let listed = app
        .ok(
            Some(&consultant),
            "query($g: UUID!) { guidanceItem(id: $g) { documents { id fileName mediaType sha256 sizeBytes downloadPath } } }",
            json!({ "g": guidance }),
        )
        .await;
    let document = &listed["guidanceItem"]["documents"][0];
    assert_eq!(document["sha256"], sha256.as_str());
    assert_eq!(document["fileName"], "circular.pdf");
    assert_eq!(
        listed["guidanceItem"]["documents"].as_array().map(Vec::len),
        Some(1)
    );
    let path = document["downloadPath"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let download = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(&consultant)
        .send()
        .await
        .expect("download");
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(
        download
            .headers()
            .get("x-content-sha256")
            .and_then(|v| v.to_str().ok()),
        Some(sha256.as_str())
    );
    assert_eq!(download.bytes().await.expect("bytes").to_vec(), content);

    let lead = capture_lead(&app, &admin, "Docs Finance", "cfo@docs.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "cfo@docs.example").await;
    let portal = activate_portal_user(&app, "cfo@docs.example", "a-long-password-4").await;
    let hidden = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(&portal)
        .send()
        .await
        .expect("download");
    assert_eq!(hidden.status().as_u16(), 403);
    assert_rebuild_equals_live(&app, "guidance").await;
}

/// Files under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
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
