//! A portal user sees only their own client's records, by every query.

use serde_json::json;
use tests::*;

#[tokio::test]
async fn a_portal_user_cannot_read_another_clients_records() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead_a = capture_lead(&app, &admin, "Alpha Capital", "a@alpha.example").await;
    let lead_b = capture_lead(&app, &admin, "Bravo Securities", "b@bravo.example").await;
    win_lead(&app, &admin, &lead_a).await;
    win_lead(&app, &admin, &lead_b).await;
    let (client_a, project_a) =
        convert_with_project(&app, &admin, &lead_a, "a@alpha.example").await;
    let (client_b, project_b) =
        convert_with_project(&app, &admin, &lead_b, "b@bravo.example").await;
    let portal_a = activate_portal_user(&app, "a@alpha.example", "alpha-password-1").await;

    // Own records are visible.
    let own = app
        .ok(
            Some(&portal_a),
            "query($c: UUID!, $p: UUID!) { client(id: $c) { id } project(id: $p) { id } }",
            json!({ "c": client_a, "p": project_a }),
        )
        .await;
    assert_eq!(own["client"]["id"], client_a.as_str());
    assert_eq!(own["project"]["id"], project_a.as_str());

    // Another client's records look like they do not exist.
    let other = app
        .ok(
            Some(&portal_a),
            "query($c: UUID!, $p: UUID!) { client(id: $c) { id } project(id: $p) { id } }",
            json!({ "c": client_b, "p": project_b }),
        )
        .await;
    assert!(
        other["client"].is_null() && other["project"].is_null(),
        "{other}"
    );

    // Lists are confined, whatever the filter says.
    let lists = app
        .ok(
            Some(&portal_a),
            "query($c: UUID!) { clients { totalCount edges { node { id } } } projects(filter: { clientId: $c }) { totalCount edges { node { id clientId } } } }",
            json!({ "c": client_b }),
        )
        .await;
    assert_eq!(lists["clients"]["totalCount"], 1);
    assert_eq!(
        lists["clients"]["edges"][0]["node"]["id"],
        client_a.as_str()
    );
    assert_eq!(lists["projects"]["totalCount"], 1);
    assert_eq!(
        lists["projects"]["edges"][0]["node"]["clientId"],
        client_a.as_str()
    );

    // Leads, history, as-of, templates, users and projection status are not for portal users.
    for query in [
        "{ leads { edges { node { id } } } }".to_owned(),
        format!("{{ lead(id: \"{lead_b}\") {{ id }} }}"),
        format!(
            "{{ history(aggregateType: CLIENT, aggregateId: \"{client_b}\") {{ nodes {{ eventType }} }} }}"
        ),
        format!("{{ projectAsOf(id: \"{project_b}\", at: \"2100-01-01T00:00:00Z\") {{ id }} }}"),
        "{ workflowTemplates { id } }".to_owned(),
        "{ users { id } }".to_owned(),
        "{ projectionStatus { name } }".to_owned(),
    ] {
        let body = app.gql(Some(&portal_a), &query, json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body}");
    }
    app.stop().await;
}
