//! Subscriptions over graphql-ws (`graphql-transport-ws`): live changes arrive, and a portal
//! user only ever receives their own client's projects.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tests::*;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/graphql/ws`, authenticates with `token` and starts `query` as subscription "1".
/// Returns once the server has registered the subscription on its notice bus, so that no
/// change made afterwards can be missed.
async fn subscribe(app: &TestApp, token: &str, query: &str) -> Socket {
    let before = app.state.notices.receiver_count();
    let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = connect_async(request).await.expect("websocket");
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    // The resolver subscribes to the notice bus when the stream starts; wait for that.
    tokio::time::timeout(Duration::from_secs(10), async {
        while app.state.notices.receiver_count() <= before {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("subscription registered");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("sent");
}

/// The next protocol message (pings answered and skipped).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if value["type"] == "ping" {
                send(socket, json!({ "type": "pong" })).await;
                continue;
            }
            return value;
        }
    }
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
    let mut anonymous = subscribe_refused(&app).await;
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

/// Opens a socket without credentials and asks for lead changes.
async fn subscribe_refused(app: &TestApp) -> Socket {
    let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = connect_async(request).await.expect("websocket");
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { leadChanged { id } }" } }),
    )
    .await;
    socket
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
