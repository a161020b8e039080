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

/// Posts `query` with an `Idempotency-Key`; returns (status, replayed, body text).
async fn post_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    variables: Value,
) -> (u16, bool, String) {
    let response = app
        .http
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({ "query": CAPTURE, "variables": variables }))
        .send()
        .await
        .expect("sent");
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
