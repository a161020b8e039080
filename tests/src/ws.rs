//! GraphQL subscriptions over graphql-ws (`graphql-transport-ws`), as a browser opens them.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::TestApp;

/// An open graphql-ws connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/graphql/ws`, authenticated with `token` (none: anonymous), and acknowledged.
pub async fn connect(app: &TestApp, token: Option<&str>) -> Socket {
    let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = connect_async(request).await.expect("websocket");
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    socket
}

/// Starts `query` as subscription "1" for `token`: the socket once the server has
/// registered the subscription on its notice bus (so no change made afterwards can be
/// missed), or the message refusing it. Both are waited for as they happen. The server
/// must be past its start (a request answered), when its own workers have subscribed.
pub async fn subscribe(app: &TestApp, token: Option<&str>, query: &str) -> Result<Socket, Value> {
    let before = app.state.notices.receiver_count();
    let mut socket = connect(app, token).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    let registered = async {
        while app.state.notices.receiver_count() <= before {
            tokio::task::yield_now().await;
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            () = registered => None,
            refusal = next(&mut socket) => Some(refusal),
        }
    })
    .await
    .expect("the subscription registered or refused within 10 s");
    match outcome {
        None => Ok(socket),
        Some(refusal) => Err(refusal),
    }
}

/// Sends one protocol message.
pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("sent");
}

/// The next protocol message (pings answered and skipped).
pub async fn next(socket: &mut Socket) -> Value {
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
