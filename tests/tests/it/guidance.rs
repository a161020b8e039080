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
            "query($g: UUID!) { impactedProjects(guidanceId: $g) { projectCount clientCount byVersion { templateVersion projects } projects { projectId clientName templateVersion } } }",
            json!({ "g": id }),
        )
        .await;
    let touched = &touched["impactedProjects"];
    assert_eq!(touched["projectCount"], 1);
    assert_eq!(touched["clientCount"], 1);
    assert_eq!(touched["projects"][0]["projectId"], project.as_str());
    assert_eq!(touched["projects"][0]["clientName"], "Library Finance");
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
