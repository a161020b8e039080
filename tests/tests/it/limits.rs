//! Introspection for tools within limits, and uploads checked by name and content and
//! never rendered by a browser.

use serde_json::json;
use tests::*;

/// graphql-js `getIntrospectionQuery()` (v16 with every option on), as GraphiQL, code
/// generators, Postman and Apollo send it; `TypeRef` nests `ofType` nine deep as v17 does.
fn standard_introspection_query() -> String {
    let type_ref = format!(
        "kind name {}",
        (0..9).fold(String::new(), |inner, _| format!(
            "ofType {{ kind name {inner} }}"
        ))
    );
    format!(
        r#"query IntrospectionQuery {{
  __schema {{
    description
    queryType {{ name kind }}
    mutationType {{ name kind }}
    subscriptionType {{ name kind }}
    types {{ ...FullType }}
    directives {{ name description isRepeatable locations args(includeDeprecated: true) {{ ...InputValue }} }}
  }}
}}
fragment FullType on __Type {{
  kind name description specifiedByURL isOneOf
  fields(includeDeprecated: true) {{
    name description
    args(includeDeprecated: true) {{ ...InputValue }}
    type {{ ...TypeRef }}
    isDeprecated deprecationReason
  }}
  inputFields(includeDeprecated: true) {{ ...InputValue }}
  interfaces {{ ...TypeRef }}
  enumValues(includeDeprecated: true) {{ name description isDeprecated deprecationReason }}
  possibleTypes {{ ...TypeRef }}
}}
fragment InputValue on __InputValue {{
  name description type {{ ...TypeRef }} defaultValue isDeprecated deprecationReason
}}
fragment TypeRef on __Type {{ {type_ref} }}"#
    )
}

#[tokio::test]
async fn tools_can_introspect_while_the_limits_hold() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let data = app
        .ok(Some(&admin), &standard_introspection_query(), json!({}))
        .await;
    let types = data["__schema"]["types"].as_array().expect("types");
    assert!(
        types.iter().any(|t| t["name"] == "Lead"),
        "the schema's types"
    );

    // Introspection may not multiply itself (a type's fields' types' fields' ...).
    let amplified = "{ __type(name: \"Query\") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }";
    let body = app.gql(Some(&admin), amplified, json!({})).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // Data queries keep their depth limit.
    let deep = "{ leads { edges { node { client { projects { client { projects { client { projects { client { projects { client { id } } } } } } } } } } } } }";
    let body = app.gql(Some(&admin), deep, json!({})).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // Outside production, anybody may introspect (GraphiQL before logging in).
    let anonymous = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        anonymous["data"]["__schema"]["queryType"]["name"], "Query",
        "{anonymous}"
    );
    app.stop().await;
}

#[tokio::test]
async fn in_production_only_internal_users_introspect() {
    let url = fresh_database().await.expect("database");
    let mut config = config();
    config.production = true;
    config.storage = api::config::StorageConfig::Local(files_dir(&url));
    let app = spawn_app_with(&url, config).await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Acme Finance", "asha@acme.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "asha@acme.example").await;
    let portal = activate_portal_user(&app, "asha@acme.example", "violet tractor lagoon").await;
    const SCHEMA: &str = "{ __schema { queryType { name } } }";
    for token in [None, Some(portal.as_str())] {
        let body = app.gql(token, SCHEMA, json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        // __typename is not introspection of the schema.
        let body = app.gql(token, "{ __typename }", json!({})).await;
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
    }
    let body = app.ok(Some(&admin), SCHEMA, json!({})).await;
    assert_eq!(body["__schema"]["queryType"]["name"], "Query");
    app.stop().await;
}

/// A project with an open document request on ONBOARDING's engagement letter, and a portal
/// user's token; returns (admin, portal, request id).
async fn request_for_upload(app: &TestApp) -> (String, String, String) {
    let admin = app.admin().await;
    let lead = capture_lead(app, &admin, "Acme Finance", "asha@acme.example").await;
    win_lead(app, &admin, &lead).await;
    let (_, project) = convert_with_project(app, &admin, &lead, "asha@acme.example").await;
    let portal = activate_portal_user(app, "asha@acme.example", "violet tractor lagoon").await;
    let request = raise_request(app, &admin, &project, "ONBOARDING", "engagement_letter").await;
    (admin, portal, request)
}

#[tokio::test]
async fn uploads_are_checked_by_name_and_content_and_never_rendered() {
    let app = spawn_app().await.expect("server");
    let (admin, portal, request) = request_for_upload(&app).await;

    // The declared type does not win over the name.
    let (status, body) = upload(
        &app,
        &portal,
        &request,
        "invoice.pdf.exe",
        "application/pdf",
        pdf("x"),
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    // Names that read backwards.
    let (status, body) = upload(
        &app,
        &portal,
        &request,
        "invoice\u{202E}fdp.exe",
        "application/pdf",
        pdf("x"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // A CSV holding markup is refused, wherever in the file the markup is.
    let mut html = b"name,amount\n".repeat(20_000);
    html.extend_from_slice(b"Asha,<script>alert(1)</script>\n");
    let (status, body) = upload(&app, &portal, &request, "data.csv", "text/csv", html).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("markup"), "{message}");
    // Text with angle brackets that open no tag is CSV: stored, and served only as an
    // attachment.
    let csv = b"name,note\nAsha,<10 days\nRavi,\"Ravi <ravi@acme.example>\"\n".to_vec();
    let (status, body) = upload(&app, &portal, &request, "data.csv", "text/csv", csv.clone()).await;
    assert_eq!(status, 201, "{body}");
    let upload_id = body["uploadId"].as_str().expect("upload id");
    let download = app
        .http
        .get(format!("{}/files/uploads/{upload_id}", app.address))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("download");
    let header = |name: &str| {
        download
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/csv");
    assert!(header("content-disposition").starts_with("attachment;"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").contains("sandbox"));
    assert_eq!(download.bytes().await.expect("bytes").to_vec(), csv);

    // Only the accepted upload was stored: one upload event.
    let uploads: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type LIKE '%EvidenceUploaded'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(uploads, 1);
    app.stop().await;
}
