//! GraphQL over HTTP: media types and status codes in both directions.

use serde_json::{json, Value};
use tests::*;

/// Posts `query` with `accept`; returns (status, content type, body).
async fn post(app: &TestApp, accept: Option<&str>, query: &str) -> (u16, String, Value) {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query }));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.json().await.unwrap_or(Value::Null),
    )
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn answers_follow_the_media_type_the_client_accepts() {
    let app = spawn_app().await.expect("server");
    // The spec's own type, to a client that lists it (GraphiQL lists both).
    let accept = Some("application/graphql-response+json, application/json;q=0.9");
    let (status, content_type, body) = post(&app, accept, "{ __typename }").await;
    assert_eq!((status, content_type.as_str()), (200, GRAPHQL_RESPONSE));
    assert_eq!(body["data"]["__typename"], "Query");
    // A document that does not parse is a request error: 400, and no `data` entry.
    let (status, content_type, body) = post(&app, accept, "{ leads { ").await;
    assert_eq!(
        (status, content_type.as_str()),
        (400, GRAPHQL_RESPONSE),
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    // Validation is a request error too; a field error is not (it has data).
    let (status, _, body) = post(&app, accept, "{ nothing }").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = post(&app, accept, "{ me { id } }").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some(), "{body}");

    // `application/json` to a client that asks only for it, or says nothing: always 200.
    for accept in [Some("application/json"), None, Some("*/*")] {
        let (status, content_type, body) = post(&app, accept, "{ leads { ").await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/json"),
            "{accept:?}"
        );
        assert!(body.get("data").is_none(), "{body}");
    }
    // Neither JSON type acceptable.
    let (status, _, _) = post(&app, Some("text/html"), "{ __typename }").await;
    assert_eq!(status, 406);
    app.stop().await;
}
