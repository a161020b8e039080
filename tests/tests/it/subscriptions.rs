//! Subscriptions over graphql-ws (`graphql-transport-ws`): live changes arrive, and a portal
//! user only ever receives their own client's projects.

use serde_json::json;
use tests::ws::{next, send, Socket};
use tests::*;

/// Starts `query` for `token`, which the server must accept.
async fn subscribe(app: &TestApp, token: &str, query: &str) -> Socket {
    tests::ws::subscribe(app, Some(token), query)
        .await
        .expect("the subscription is accepted")
}

#[tokio::test]
async fn lead_changes_are_pushed_to_subscribers() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Kestrel Finance", "ops@kestrel.example").await;
    let mut socket = subscribe(
        &app,
        &admin,
        "subscription($id: UUID) { leadChanged(id: $id) { id stage score } }",
    )
    .await;
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { scoreLead(id: $id, score: 72) { caughtUp } }",
        json!({ "id": lead }),
    )
    .await;
    let message = next(&mut socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["data"]["leadChanged"]["id"], lead);
    assert_eq!(message["payload"]["data"]["leadChanged"]["score"], 72);
    app.stop().await;
}

#[tokio::test]
async fn anonymous_subscribers_are_refused() {
    let app = spawn_app().await.expect("server");
    let mut anonymous = tests::ws::connect(&app, None).await;
    send(
        &mut anonymous,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { leadChanged { id } }" } }),
    )
    .await;
    let refusal = next(&mut anonymous).await;
    // async-graphql answers a refused subscription field with a `next` carrying the error.
    assert_eq!(refusal["type"], "next", "{refusal}");
    assert_eq!(refusal["payload"]["data"], serde_json::Value::Null);
    assert_eq!(
        refusal["payload"]["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_portal_subscriber_receives_only_their_own_clients_projects() {
    let app = spawn_app().await.expect("server");
    let firm = tests::delivery::firm(&app).await;
    let mut socket = subscribe(
        &app,
        &firm.portal_a,
        "subscription { projectChanged { id name progress } }",
    )
    .await;
    // Client B's project changes first, then client A's: the first message the portal user
    // of A receives must be A's project.
    for project in [&firm.project_b, &firm.project_a] {
        app.ok(
            Some(&firm.support.1),
            "mutation($id: UUID!) { renameProject(id: $id, name: \"Renamed\") { caughtUp } }",
            json!({ "id": project }),
        )
        .await;
    }
    let message = next(&mut socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["data"]["projectChanged"]["id"],
        firm.project_a.as_str()
    );
    assert_eq!(
        message["payload"]["data"]["projectChanged"]["name"],
        "Renamed"
    );
    app.stop().await;
}
