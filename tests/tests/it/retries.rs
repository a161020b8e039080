//! Safe retries: idempotency keys, a pool that outlives its connections, and a status that
//! names the transaction holding the projections back.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::Connection as _;
use tests::*;

const CAPTURE: &str = "mutation($i: CaptureLeadInputGql!) { captureLead(input: $i) { caughtUp lead { id company } } }";

fn capture_input(company: &str) -> Value {
    json!({ "i": { "company": company, "contactName": "Asha Rao", "email": "asha@acme.example",
                   "source": "WEBSITE", "serviceInterest": "RBI NBFC registration" } })
}

/// Posts the lead capture with an `Idempotency-Key`; returns (status, replayed, body text).
async fn post_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    variables: Value,
) -> (u16, bool, String) {
    send_with_key(app, Some(token), key, CAPTURE, variables).await
}

/// Posts `query` with an `Idempotency-Key`; returns (status, replayed, body text).
async fn send_with_key(
    app: &TestApp,
    token: Option<&str>,
    key: &str,
    query: &str,
    variables: Value,
) -> (u16, bool, String) {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.address))
        .header("idempotency-key", key)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, replayed, response.text().await.expect("body"))
}

async fn captured(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'LeadCaptured'")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_repeat_with_the_same_idempotency_key_answers_the_first_outcome() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let key = uuid::Uuid::new_v4().to_string();
    let (status, replayed, first) = post_with_key(&app, &admin, &key, capture_input("Acme")).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    assert!(first.contains("\"caughtUp\":true"), "{first}");
    let (status, replayed, again) = post_with_key(&app, &admin, &key, capture_input("Acme")).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    assert_eq!(captured(&app).await, 1);

    // Another replica, and so a restarted server, knows the key too.
    let replica = spawn_app_on(&app.database_url).await.expect("replica");
    let (_, replayed, elsewhere) =
        post_with_key(&replica, &admin, &key, capture_input("Acme")).await;
    assert!(replayed);
    assert_eq!(elsewhere, first);
    replica.stop().await;
    assert_eq!(captured(&app).await, 1);

    // The same key for another request is refused; another caller's key space is its own.
    let (status, _, body) = post_with_key(&app, &admin, &key, capture_input("Bravo")).await;
    assert_eq!(status, 422, "{body}");
    let (_, sales) = create_user(&app, &admin, "sam@firm.example", "SALES").await;
    let (status, replayed, _) = post_with_key(&app, &sales, &key, capture_input("Bravo")).await;
    assert_eq!((status, replayed), (200, false));
    assert_eq!(captured(&app).await, 2);

    // A key that is not a key.
    let (status, _, _) = post_with_key(&app, &admin, "with spaces", capture_input("Carol")).await;
    assert_eq!(status, 400);
    // Parallel repeats: one runs, the others answer its outcome or that it is running.
    let key = uuid::Uuid::new_v4().to_string();
    let repeats = (0..8).map(|_| post_with_key(&app, &admin, &key, capture_input("Delta")));
    let answers = futures::future::join_all(repeats).await;
    assert!(answers
        .iter()
        .all(|(status, _, _)| *status == 200 || *status == 409));
    assert_eq!(
        captured(&app).await,
        3,
        "one of eight parallel repeats appended"
    );
    app.stop().await;
}

#[tokio::test]
async fn no_credential_or_secret_rests_with_an_idempotency_key() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;

    // Authentication fields take no key, from anyone: a credential is checked every time.
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }";
    let credentials = json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD });
    for caller in [None, Some(admin.as_str())] {
        let (status, _, body) =
            send_with_key(&app, caller, "login-1", login, credentials.clone()).await;
        assert_eq!(status, 400, "{body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    let reset = "mutation { requestPasswordReset(email: \"x@y.example\") }";
    let (status, _, _) = send_with_key(&app, Some(&admin), "reset-1", reset, json!({})).await;
    assert_eq!(status, 400);

    // Answers that show a secret once are kept without it; a repeat says so.
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let create_key = "mutation($e: DateTime!) { createApiKey(input: { name: \"Platform\", scopes: [TIME_INGEST], expiresAt: $e }) { token apiKey { id } } }";
    let register = "mutation { registerWebhookEndpoint(input: { url: \"http://127.0.0.1:9/x\", role: ADMIN, eventTypes: [] }) { secret endpoint { id } } }";
    let cases = [
        (
            "createApiKey",
            "token",
            "zpk_",
            create_key,
            json!({ "e": expires }),
        ),
        (
            "registerWebhookEndpoint",
            "secret",
            "whsec_",
            register,
            json!({}),
        ),
    ];
    for (field, secret_field, prefix, query, variables) in cases {
        let key = format!("{field}-1");
        let (status, replayed, first) =
            send_with_key(&app, Some(&admin), &key, query, variables.clone()).await;
        assert_eq!((status, replayed), (200, false), "{first}");
        let first: Value = serde_json::from_str(&first).expect("JSON");
        let secret = first["data"][field][secret_field]
            .as_str()
            .expect("the secret, once");
        assert!(secret.starts_with(prefix), "{first}");
        let (status, replayed, again) =
            send_with_key(&app, Some(&admin), &key, query, variables).await;
        assert_eq!((status, replayed), (200, true), "{again}");
        assert!(!again.contains(secret), "{again}");
        let again: Value = serde_json::from_str(&again).expect("JSON");
        assert_eq!(again["data"][field][secret_field], Value::Null, "{again}");
        let record = |answer: &Value| {
            answer["data"][field]
                .as_object()
                .and_then(|o| o.values().find(|v| v.is_object()))
                .cloned()
        };
        assert_eq!(record(&again), record(&first), "the same record, once");
        assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
        assert_eq!(again["errors"][0]["path"], json!([field, secret_field]));
        assert!(again["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("shown once"));
    }
    let endpoint: Value = app
        .ok(Some(&admin), "{ webhookEndpoints { id } }", json!({}))
        .await["webhookEndpoints"]
        .clone();
    assert_eq!(
        endpoint.as_array().map(Vec::len),
        Some(1),
        "registered once"
    );
    let rotate = "mutation($id: UUID!) { rotateWebhookSecret(id: $id) { secret } }";
    let id = json!({ "id": endpoint[0]["id"] });
    let (_, _, first) = send_with_key(&app, Some(&admin), "rotate-1", rotate, id.clone()).await;
    let (_, replayed, again) = send_with_key(&app, Some(&admin), "rotate-1", rotate, id).await;
    assert!(
        first.contains("whsec_") && replayed && !again.contains("whsec_"),
        "{again}"
    );

    // What rests: no token, no secret, no credential of any of those requests.
    let kept: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT answer FROM idempotency_keys")
        .fetch_all(&app.pool)
        .await
        .expect("keys");
    assert_eq!(
        kept.len(),
        3,
        "three keyed mutations ran, no authentication field"
    );
    for answer in kept.into_iter().flatten() {
        let text = String::from_utf8_lossy(&answer);
        for secret in ["zpk_", "whsec_", "accessToken", "refreshToken"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

/// How many leads of `company` the log holds, read past the server's own connections.
async fn leads_of(url: &str, company: &str) -> i64 {
    let direct = sqlx::PgPool::connect(url).await.expect("direct pool");
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'LeadCaptured' AND payload->'LeadCaptured'->>'company' = $1",
    )
    .bind(company)
    .fetch_one(&direct)
    .await
    .expect("count");
    direct.close().await;
    count
}

#[tokio::test]
async fn while_the_database_is_out_of_reach_requests_answer_unavailable_and_store_nothing() {
    let url = fresh_database().await.expect("database");
    let proxy = tests::proxy::DbProxy::start(&url).await;
    let app = spawn_app_on(&proxy.url).await.expect("server");
    let admin = app.admin().await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let key = app
        .ok(
            Some(&admin),
            "mutation($e: DateTime!) { createApiKey(input: { name: \"Platform\", scopes: [TIME_INGEST], expiresAt: $e }) { token caughtUp } }",
            json!({ "e": expires }),
        )
        .await["createApiKey"]
        .clone();
    assert_eq!(key["caughtUp"], true, "{key}");
    let key = key["token"].as_str().expect("token").to_owned();

    proxy.cut();
    let post = |token: &str, body: Value| {
        app.http
            .post(format!("{}/graphql", app.address))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let login = json!({ "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                        "variables": { "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD } });
    let requests = [
        (
            admin.as_str(),
            json!({ "query": CAPTURE, "variables": capture_input("Outage Finance") }),
        ),
        (
            admin.as_str(),
            json!({ "query": "{ leads(first: 5) { edges { node { id } } } }" }),
        ),
        ("", login),
    ];
    for (token, body) in requests {
        let response = post(token, body.clone()).await.expect("answered");
        assert_eq!(response.status().as_u16(), 503, "{body}");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("2")
        );
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(error_code(&answer), Some("UNAVAILABLE"), "{answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("nothing was changed"), "{message}");
    }
    let ingest = app
        .http
        .post(format!("{}/api/v1/time-entries", app.address))
        .bearer_auth(&key)
        .json(&json!({ "entries": [] }))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        ingest.status().as_u16(),
        503,
        "an API key is not refused as unknown"
    );
    assert!(ingest.headers().contains_key("retry-after"));
    let ingest: Value = ingest.json().await.expect("JSON");
    assert_eq!(error_code(&ingest), Some("UNAVAILABLE"), "{ingest}");
    assert_eq!(leads_of(&url, "Outage Finance").await, 0, "nothing stored");

    // Sent again once the database is back, it runs, once. The pool still holds
    // connections the cut killed: each is found dead by the request that takes it, which
    // is answered UNAVAILABLE too, until the pool has live ones.
    proxy.restore();
    let mut again = Value::Null;
    for _ in 0..100 {
        again = app
            .gql(Some(&admin), CAPTURE, capture_input("Outage Finance"))
            .await;
        match error_code(&again) {
            None => break,
            Some(code) => assert_eq!(code, "UNAVAILABLE", "{again}"),
        }
    }
    assert_eq!(
        again["data"]["captureLead"]["lead"]["company"], "Outage Finance",
        "{again}"
    );
    assert_eq!(leads_of(&url, "Outage Finance").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_write_whose_connection_breaks_is_answered_as_stored_once() {
    use tests::proxy::Break;
    let url = fresh_database().await.expect("database");
    let proxy = tests::proxy::DbProxy::start(&url).await;
    let app = spawn_app_on(&proxy.url).await.expect("server");
    let admin = app.admin().await;
    for (company, when) in [
        ("Lost Before Finance", Break::BeforeSent),
        ("Lost After Finance", Break::AfterAnswered),
    ] {
        proxy.break_on(company, when);
        let data = app.ok(Some(&admin), CAPTURE, capture_input(company)).await;
        assert!(proxy.broke(), "{when:?}: the fault happened");
        assert_eq!(data["captureLead"]["lead"]["company"], company, "{when:?}");
        assert_eq!(leads_of(&url, company).await, 1, "{when:?}: stored once");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_mutation_whose_events_are_stored_never_answers_an_error() {
    // A short read-your-writes bound, and a read model that cannot be read: the append
    // succeeds, the wait gives up and the read-back fails.
    let url = fresh_database().await.expect("database");
    let mut config = config();
    config.read_your_writes_timeout = Duration::from_millis(300);
    config.storage = api::config::StorageConfig::Local(files_dir(&url));
    let app = spawn_app_with(&url, config).await.expect("server");
    let admin = app.admin().await;
    sqlx::query("ALTER TABLE lead_view RENAME TO lead_view_hidden")
        .execute(&app.pool)
        .await
        .expect("hide the read model");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, _, first) = post_with_key(&app, &admin, &key, capture_input("Stored")).await;
    let body: Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(status, 200, "{first}");
    assert!(body.get("errors").is_none(), "{first}");
    assert_eq!(body["data"]["captureLead"]["caughtUp"], false, "{first}");
    assert!(body["data"]["captureLead"]["lead"].is_null(), "{first}");
    assert_eq!(captured(&app).await, 1);
    // The client retries with its key: the same answer, nothing appended.
    let (_, replayed, again) = post_with_key(&app, &admin, &key, capture_input("Stored")).await;
    assert!(replayed);
    assert_eq!(again, first);
    assert_eq!(captured(&app).await, 1);
    sqlx::query("ALTER TABLE lead_view_hidden RENAME TO lead_view")
        .execute(&app.pool)
        .await
        .expect("restore the read model");
    app.stop().await;
}

#[tokio::test]
async fn connections_lost_while_idle_fail_no_request() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    // Use many pooled connections, so that many sit idle.
    let warm = (0..12).map(|n| {
        app.gql(
            Some(&admin),
            "{ leads(first: 5) { totalCount } }",
            json!({ "n": n }),
        )
    });
    futures::future::join_all(warm).await;
    // What a PostgreSQL restart does to them: every backend of the database ends.
    let mut killer = sqlx::PgConnection::connect(&app.database_url)
        .await
        .expect("connect");
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
          WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut killer)
    .await
    .expect("terminate");
    assert!(ended >= 4, "ended {ended} backends");
    killer.close().await.expect("close");
    // Not synchronisation: the connections must have been idle for the pool's ping
    // threshold (a real restart keeps them idle longer than that).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    for n in 0..12 {
        let body = app
            .gql(
                Some(&admin),
                CAPTURE,
                capture_input(&format!("After restart {n}")),
            )
            .await;
        assert!(body.get("errors").is_none(), "request {n} failed: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_status_names_the_transaction_that_holds_the_projections() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    // A transaction with an id, held open in another database of the same cluster.
    let other = fresh_database().await.expect("database");
    let mut holder = sqlx::PgConnection::connect(&other).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut holder)
        .await
        .expect("begin");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .expect("pid");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut holder)
        .await
        .expect("xid");
    let capture = {
        let (address, token) = (app.address.clone(), admin.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{address}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": CAPTURE, "variables": capture_input("Held") }))
                .send()
                .await
                .expect("sent")
                .json::<Value>()
                .await
                .expect("JSON")
        })
    };
    const STATUS: &str =
        "{ projectionStatus { name lagEvents waitingOn { database pid ageSeconds } } }";
    let mut named = None;
    for _ in 0..200 {
        let data = app.ok(Some(&admin), STATUS, json!({})).await;
        let leads = data["projectionStatus"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == "leads"))
            .cloned()
            .expect("leads status");
        // Other tests share the PostgreSQL server, so for a moment the oldest open
        // transaction may be one of theirs; ours is soon the oldest, and named.
        if leads["waitingOn"]["pid"] == pid {
            named = Some(leads);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let leads = named.expect("the leads projection names the transaction it waits on");
    let database = other.rsplit('/').next().expect("name");
    assert_eq!(leads["waitingOn"]["database"], database);
    let ready: Value = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("JSON");
    assert!(
        ready["waitingOnTransactions"]
            .as_array()
            .is_some_and(|w| w.iter().any(|t| t["pid"] == pid)),
        "{ready}"
    );
    sqlx::query("COMMIT")
        .execute(&mut holder)
        .await
        .expect("commit");
    let answer = capture.await.expect("capture");
    assert_eq!(answer["data"]["captureLead"]["caughtUp"], true, "{answer}");
    app.stop().await;
}
