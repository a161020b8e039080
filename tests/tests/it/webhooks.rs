//! Outbound webhooks over HTTP to a receiver the test starts: signed as the Standard
//! Webhooks specification says (checked with its own crate), one `webhook-id` per endpoint
//! and event, payloads as the endpoint's role sees them, retries then failed with every
//! attempt logged, redelivery, automatic disabling with the admins told, the address rules,
//! and a replay that delivers exactly the events asked for.

use std::time::Duration;

use serde_json::{json, Value};
use tests::receiver::{Receiver, Request};
use tests::*;

const REGISTER: &str = "mutation($i: WebhookEndpointInput!) { registerWebhookEndpoint(input: $i) { secret caughtUp endpoint { id url role enabled eventTypes } } }";

/// Registers an endpoint; returns (id, secret).
async fn register(
    app: &TestApp,
    admin: &str,
    url: &str,
    role: &str,
    types: Value,
) -> (String, String) {
    let data = app
        .ok(
            Some(admin),
            REGISTER,
            json!({ "i": { "url": url, "description": "Productivity platform", "role": role, "eventTypes": types } }),
        )
        .await;
    let registered = &data["registerWebhookEndpoint"];
    assert_eq!(registered["caughtUp"], true, "{data}");
    assert_eq!(registered["endpoint"]["enabled"], true);
    (
        registered["endpoint"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        registered["secret"].as_str().expect("secret").to_owned(),
    )
}

fn verify(secret: &str, request: &Request) {
    standardwebhooks::Webhook::new(secret)
        .expect("a Standard Webhooks secret")
        .verify(request.body.as_bytes(), &request.headers)
        .unwrap_or_else(|e| panic!("signature of {} refused: {e:?}", request.body));
}

fn types(requests: &[Request]) -> Vec<String> {
    let mut types: Vec<String> = requests
        .iter()
        .map(|r| r.json()["type"].as_str().expect("type").to_owned())
        .collect();
    types.sort();
    types
}

/// A project with a task assigned and moved on, and a week of time approved; returns
/// (project id, task id, consultant id).
async fn some_work(app: &TestApp, admin: &str, tag: &str) -> (String, String, String) {
    let (manager, manager_token) =
        create_user(app, admin, &format!("mgr-{tag}@zipp.example"), "MANAGER").await;
    let (consultant, consultant_token) =
        create_user(app, admin, &format!("con-{tag}@zipp.example"), "CONSULTANT").await;
    team(
        app,
        admin,
        &format!("Desk {tag}"),
        &[(manager.as_str(), true), (consultant.as_str(), false)],
    )
    .await;
    let lead = capture_lead(
        app,
        admin,
        &format!("Hook {tag}"),
        &format!("cfo@{tag}.example"),
    )
    .await;
    win_lead(app, admin, &lead).await;
    let (_, project) = convert_with_project(app, admin, &lead, &format!("cfo@{tag}.example")).await;
    let added = app
        .ok(
            Some(admin),
            "mutation($p: UUID!) { addTask(projectId: $p, input: { title: \"Board resolution\" }) { createdId } }",
            json!({ "p": project }),
        )
        .await;
    let task = added["addTask"]["createdId"]
        .as_str()
        .expect("task")
        .to_owned();
    app.ok(
        Some(admin),
        "mutation($p: UUID!, $t: UUID!, $a: UUID!) { assignTask(projectId: $p, taskId: $t, assigneeId: $a) { caughtUp } }",
        json!({ "p": project, "t": task, "a": consultant }),
    )
    .await;
    app.ok(
        Some(&consultant_token),
        "mutation($p: UUID!, $t: UUID!) { setTaskStatus(projectId: $p, taskId: $t, status: IN_PROGRESS) { caughtUp } }",
        json!({ "p": project, "t": task }),
    )
    .await;
    app.ok(
        Some(&consultant_token),
        "mutation($i: TimeEntryInput!) { logTime(input: $i) { caughtUp } }",
        json!({ "i": { "date": "2026-11-23", "minutes": 90, "description": "Drafted the resolution", "projectId": project, "taskId": task } }),
    )
    .await;
    app.ok(
        Some(&consultant_token),
        "mutation { submitTimesheet(weekOf: \"2026-11-23\") { caughtUp } }",
        json!({}),
    )
    .await;
    app.ok(
        Some(&manager_token),
        "mutation($u: UUID!) { approveTimesheet(userId: $u, weekOf: \"2026-11-23\") { caughtUp } }",
        json!({ "u": consultant }),
    )
    .await;
    app.settled().await;
    (project, task, consultant)
}

#[tokio::test]
async fn deliveries_are_signed_once_per_endpoint_and_event_as_the_role_sees_them() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let receiver = Receiver::start().await;
    let (consultant_view, consultant_secret) = register(
        &app,
        &admin,
        &receiver.url("/consultant"),
        "CONSULTANT",
        json!([]),
    )
    .await;
    let (manager_view, manager_secret) = register(
        &app,
        &admin,
        &receiver.url("/manager"),
        "MANAGER",
        json!(["TIME_ENTRIES_APPROVED"]),
    )
    .await;
    let (project, task, consultant) = some_work(&app, &admin, "signed").await;

    eventually("every delivery is sent", || async {
        let (all, sent): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE status = 'sent') FROM webhook_deliveries",
        )
        .fetch_one(&app.pool)
        .await
        .expect("counts");
        all > 0 && all == sent
    })
    .await;
    let to_consultant_view = receiver.at("/consultant");
    let to_manager_view = receiver.at("/manager");
    // What the consultant's role reads of the project, nothing of the time approvals.
    assert_eq!(
        types(&to_consultant_view),
        [
            "project.created",
            "task.assigned",
            "task.created",
            "task.status_changed"
        ]
    );
    assert_eq!(types(&to_manager_view), ["time_entries.approved"]);
    for request in &to_consultant_view {
        verify(&consultant_secret, request);
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    verify(&manager_secret, &to_manager_view[0]);
    // The other endpoint's secret does not verify it.
    assert!(standardwebhooks::Webhook::new(&manager_secret)
        .expect("secret")
        .verify(
            to_consultant_view[0].body.as_bytes(),
            &to_consultant_view[0].headers
        )
        .is_err());

    // The documented shapes.
    let created = to_consultant_view
        .iter()
        .map(Request::json)
        .find(|p| p["type"] == "task.created")
        .expect("task.created");
    assert_eq!(created["version"], 1);
    assert_eq!(created["data"]["project_id"], project.as_str());
    assert_eq!(created["data"]["task_id"], task.as_str());
    assert_eq!(created["data"]["title"], "Board resolution");
    let assigned = to_consultant_view
        .iter()
        .map(Request::json)
        .find(|p| p["type"] == "task.assigned")
        .expect("task.assigned");
    assert_eq!(assigned["data"]["assignee_id"], consultant.as_str());
    let moved = to_consultant_view
        .iter()
        .map(Request::json)
        .find(|p| p["type"] == "task.status_changed")
        .expect("task.status_changed");
    assert_eq!(moved["data"]["status"], "in_progress");
    let approved = to_manager_view[0].json();
    assert_eq!(approved["data"]["entries"][0]["minutes"], 90);
    assert_eq!(
        approved["data"]["entries"][0]["user_id"],
        consultant.as_str()
    );
    assert_eq!(approved["data"]["entries"][0]["task_id"], task.as_str());

    // One webhook-id per endpoint and event, as the Ops Center shows it.
    let listed = app
        .ok(
            Some(&admin),
            "query($e: UUID!) { webhookDeliveries(filter: { endpointId: $e }, first: 50) { totalCount nodes { webhookId status attempts eventType attemptLog { statusCode latencyMs responseExcerpt } } } }",
            json!({ "e": consultant_view }),
        )
        .await;
    let nodes = listed["webhookDeliveries"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), to_consultant_view.len(), "{listed}");
    let mut ids: Vec<&str> = to_consultant_view
        .iter()
        .map(|r| r.header("webhook-id").expect("webhook-id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), to_consultant_view.len(), "one id per event");
    for node in &nodes {
        assert_eq!(node["status"], "SENT");
        assert_eq!(node["attempts"], 1);
        assert!(ids.contains(&node["webhookId"].as_str().expect("id")));
        assert_eq!(node["attemptLog"][0]["statusCode"], 200);
        assert_eq!(node["attemptLog"][0]["responseExcerpt"], "thanks");
    }
    let health = app
        .ok(
            Some(&admin),
            "query($e: UUID!) { webhookEndpoint(id: $e) { failingSince lastSuccessAt deliveryCounts { status deliveries } } }",
            json!({ "e": manager_view }),
        )
        .await;
    assert_eq!(health["webhookEndpoint"]["failingSince"], Value::Null);
    assert!(health["webhookEndpoint"]["lastSuccessAt"].is_string());
    assert_eq!(
        health["webhookEndpoint"]["deliveryCounts"],
        json!([{ "status": "SENT", "deliveries": 1 }])
    );
}

#[tokio::test]
async fn endpoints_are_for_admins_and_their_input_is_checked() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, manager) = create_user(&app, &admin, "m@zipp.example", "MANAGER").await;
    let input = |url: &str, role: &str, types: Value| json!({ "i": { "url": url, "role": role, "eventTypes": types } });
    let by_manager = app
        .gql(
            Some(&manager),
            REGISTER,
            input("http://127.0.0.1:9/x", "ADMIN", json!([])),
        )
        .await;
    assert_eq!(error_code(&by_manager), Some("FORBIDDEN"), "{by_manager}");
    for (url, role, types, why) in [
        (
            "http://127.0.0.1:9/x",
            "CONSULTANT",
            json!(["TIME_ENTRIES_APPROVED"]),
            "eventTypes",
        ),
        ("http://127.0.0.1:9/x", "CLIENT", json!([]), "role"),
        ("ftp://127.0.0.1/x", "ADMIN", json!([]), "url"),
        ("http://user:pw@127.0.0.1:9/x", "ADMIN", json!([]), "url"),
        ("http://10.0.0.7/hook", "ADMIN", json!([]), "private"),
        (
            "http://169.254.169.254/latest/meta-data",
            "ADMIN",
            json!([]),
            "link-local",
        ),
        ("http://[::1]:9/hook", "ADMIN", json!([]), "loopback"),
        // IPv6 forms that carry an internal IPv4 address, and the registries' other ranges.
        (
            "http://[::127.0.0.1]/",
            "ADMIN",
            json!([]),
            "IPv4-compatible",
        ),
        (
            "http://[::169.254.169.254]/",
            "ADMIN",
            json!([]),
            "IPv4-compatible",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            "ADMIN",
            json!([]),
            "link-local (NAT64",
        ),
        (
            "http://[2002:a00:7::1]/",
            "ADMIN",
            json!([]),
            "private-use (6to4",
        ),
        ("http://[fec0::1]/", "ADMIN", json!([]), "site-local"),
        ("http://198.18.0.1/", "ADMIN", json!([]), "benchmarking"),
        ("http://240.0.0.1/", "ADMIN", json!([]), "reserved"),
    ] {
        let refused = app
            .gql(Some(&admin), REGISTER, input(url, role, types))
            .await;
        assert_eq!(
            error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{url}: {refused}"
        );
        let message = refused["errors"][0]["message"].as_str().expect("message");
        assert!(message.contains(why), "{url}: {message}");
    }
    // Nothing of the refused ones was kept.
    let none = app
        .ok(Some(&admin), "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(none["webhookEndpoints"], json!([]));
    let secrets: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_secrets")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(secrets, 0);

    // An update is checked as a registration is.
    let (id, _) = register(&app, &admin, "http://127.0.0.1:9/ok", "ADMIN", json!([])).await;
    let moved = app
        .gql(
            Some(&admin),
            "mutation($id: UUID!, $i: WebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $i) { caughtUp } }",
            json!({ "id": id, "i": { "url": "http://[64:ff9b::7f00:2]/", "role": "ADMIN", "eventTypes": [] } }),
        )
        .await;
    assert_eq!(error_code(&moved), Some("BAD_USER_INPUT"), "{moved}");

    // Without the allow-list loopback is refused too, in each form the probe used.
    let url = fresh_database().await.expect("database");
    let mut config = config();
    config.webhooks.addresses.allow.clear();
    let strict = spawn_app_with(&url, config).await.expect("server");
    let admin = strict.admin().await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://[::127.0.0.1]/",
        "http://[::169.254.169.254]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::1]/",
        "http://[fec0::1]/",
        "http://198.18.0.1/",
        "http://240.0.0.1/",
    ] {
        let refused = strict
            .gql(Some(&admin), REGISTER, input(url, "ADMIN", json!([])))
            .await;
        assert_eq!(
            error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{url}: {refused}"
        );
    }
}

/// A server whose deliveries fail for good after `attempts` tries and whose endpoints are
/// disabled after failing for `disable_after`.
async fn app_with(attempts: u32, disable_after: Duration) -> TestApp {
    let url = fresh_database().await.expect("database");
    let mut config = config();
    config.webhooks.drain.attempts = attempts;
    config.webhooks.disable_after = disable_after;
    spawn_app_with(&url, config).await.expect("server")
}

#[tokio::test]
async fn a_refusing_receiver_is_retried_then_failed_and_redelivered_under_the_same_id() {
    let app = app_with(3, Duration::from_secs(3600)).await;
    let admin = app.admin().await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let (endpoint, secret) = register(
        &app,
        &admin,
        &receiver.url("/hook"),
        "ADMIN",
        json!(["PROJECT_CREATED"]),
    )
    .await;
    let lead = capture_lead(&app, &admin, "Refused Ltd", "cfo@refused.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "cfo@refused.example").await;
    let failed = "query($e: UUID!) { webhookDeliveries(filter: { endpointId: $e, statuses: [FAILED] }) { nodes { id webhookId attempts lastError attemptLog { attempt statusCode responseExcerpt error } } } }";
    eventually("the delivery fails after three attempts", || async {
        let data = app.ok(Some(&admin), failed, json!({ "e": endpoint })).await;
        data["webhookDeliveries"]["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 1)
    })
    .await;
    let data = app.ok(Some(&admin), failed, json!({ "e": endpoint })).await;
    let delivery = &data["webhookDeliveries"]["nodes"][0];
    assert_eq!(delivery["attempts"], 3);
    assert!(delivery["lastError"]
        .as_str()
        .expect("error")
        .contains("503"));
    let log = delivery["attemptLog"].as_array().expect("log");
    assert_eq!(log.len(), 3);
    for (n, attempt) in log.iter().enumerate() {
        assert_eq!(attempt["attempt"], n + 1);
        assert_eq!(attempt["statusCode"], 503);
        assert_eq!(
            attempt["responseExcerpt"],
            "receiver is down for maintenance"
        );
    }
    let arrived = receiver.at("/hook");
    assert_eq!(arrived.len(), 3);
    let webhook_id = delivery["webhookId"].as_str().expect("webhook id");
    assert!(arrived
        .iter()
        .all(|r| r.header("webhook-id") == Some(webhook_id)));
    let endpoints = app
        .ok(
            Some(&admin),
            "{ webhookEndpoints { id failingSince enabled } }",
            json!({}),
        )
        .await;
    assert!(endpoints["webhookEndpoints"][0]["failingSince"].is_string());
    assert_eq!(endpoints["webhookEndpoints"][0]["enabled"], true);

    // Mended, redelivered: the same id, signed, once more.
    receiver.answer(200);
    let redeliver =
        "mutation($d: UUID!) { redeliverWebhook(id: $d) { status attempts webhookId } }";
    let again = app
        .ok(Some(&admin), redeliver, json!({ "d": delivery["id"] }))
        .await;
    // Queued again; a deliverer may have taken it already.
    assert_ne!(again["redeliverWebhook"]["status"], "FAILED", "{again}");
    assert_eq!(again["redeliverWebhook"]["webhookId"], webhook_id);
    eventually("the redelivery arrives", || async {
        receiver.at("/hook").len() == 4
    })
    .await;
    let last = receiver.at("/hook").pop().expect("request");
    assert_eq!(last.header("webhook-id"), Some(webhook_id));
    verify(&secret, &last);
    eventually("it is recorded as sent", || async {
        let data = app
            .ok(
                Some(&admin),
                "query($d: UUID!) { webhookDelivery(id: $d) { status } }",
                json!({ "d": delivery["id"] }),
            )
            .await;
        data["webhookDelivery"]["status"] == "SENT"
    })
    .await;
    let healthy = app
        .ok(
            Some(&admin),
            "{ webhookEndpoints { failingSince } webhookCounts { status deliveries } }",
            json!({}),
        )
        .await;
    assert_eq!(healthy["webhookEndpoints"][0]["failingSince"], Value::Null);
    assert_eq!(
        healthy["webhookCounts"],
        json!([{ "status": "SENT", "deliveries": 1 }])
    );

    // Refusals of the action.
    let (_, consultant) = create_user(&app, &admin, "c@zipp.example", "CONSULTANT").await;
    let forbidden = app
        .gql(Some(&consultant), redeliver, json!({ "d": delivery["id"] }))
        .await;
    assert_eq!(error_code(&forbidden), Some("FORBIDDEN"), "{forbidden}");
    let unknown = app
        .gql(
            Some(&admin),
            redeliver,
            json!({ "d": uuid::Uuid::now_v7() }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
}

#[tokio::test]
async fn an_endpoint_failing_too_long_is_disabled_and_the_admins_are_told() {
    let app = app_with(8, Duration::ZERO).await;
    let admin = app.admin().await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let (endpoint, _) = register(&app, &admin, &receiver.url("/down"), "ADMIN", json!([])).await;
    let lead = capture_lead(&app, &admin, "Down Ltd", "cfo@down.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "cfo@down.example").await;
    let read = "query($e: UUID!) { webhookEndpoint(id: $e) { enabled disabledReason } }";
    eventually("the endpoint is disabled", || async {
        let data = app.ok(Some(&admin), read, json!({ "e": endpoint })).await;
        data["webhookEndpoint"]["enabled"] == false
    })
    .await;
    app.settled().await;
    let data = app.ok(Some(&admin), read, json!({ "e": endpoint })).await;
    let reason = data["webhookEndpoint"]["disabledReason"]
        .as_str()
        .expect("reason");
    assert!(reason.contains(&receiver.url("/down")), "{reason}");
    assert!(reason.contains("500"), "{reason}");
    let notes = app
        .ok(Some(&admin), "{ notifications { kind title } }", json!({}))
        .await;
    assert!(
        notes["notifications"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n["kind"] == "webhook_endpoint_disabled"),
        "{notes}"
    );
    let emailed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM email_outbox WHERE kind = 'webhook_endpoint_disabled'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(emailed, 1);
    // Nothing more goes out while disabled; enabling sends what waited.
    let sent_while_disabled = receiver.requests().len();
    receiver.answer(200);
    app.ok(
        Some(&admin),
        "mutation($e: UUID!) { enableWebhookEndpoint(id: $e) { endpoint { enabled disabledReason } } }",
        json!({ "e": endpoint }),
    )
    .await;
    eventually("the waiting delivery goes out", || async {
        receiver.requests().len() > sent_while_disabled
    })
    .await;
    let twice = app
        .gql(
            Some(&admin),
            "mutation($e: UUID!) { enableWebhookEndpoint(id: $e) { caughtUp } }",
            json!({ "e": endpoint }),
        )
        .await;
    assert_eq!(error_code(&twice), Some("BAD_USER_INPUT"), "{twice}");
}

#[tokio::test]
async fn a_replay_delivers_exactly_the_events_asked_for() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let receiver = Receiver::start().await;
    // Work done before the endpoint exists is not delivered to it...
    let (first_project, _, _) = some_work(&app, &admin, "before").await;
    let (endpoint, secret) = register(
        &app,
        &admin,
        &receiver.url("/late"),
        "CONSULTANT",
        json!(["TASK_CREATED", "PROJECT_CREATED"]),
    )
    .await;
    app.settled().await;
    assert!(receiver.requests().is_empty());
    let position_of = |project: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT min(global_position) FROM events WHERE aggregate_id = $1",
            )
            .bind(project)
            .fetch_one(&pool)
            .await
            .expect("position")
        }
    };
    let (second_project, _, _) = some_work(&app, &admin, "after").await;
    eventually("the new project's events arrive", || async {
        receiver.requests().len() == 2
    })
    .await;

    // ... until replayed: from the first project's creation on, every project.created and
    // task.created (the second project's again, under the same ids).
    let replay = "mutation($e: UUID!, $p: Int, $s: DateTime) { replayWebhookEvents(endpointId: $e, sincePosition: $p, since: $s) { events queued nextPosition } }";
    let from = position_of(first_project.clone()).await;
    let replayed = app
        .ok(Some(&admin), replay, json!({ "e": endpoint, "p": from }))
        .await;
    assert_eq!(replayed["replayWebhookEvents"]["queued"], 4, "{replayed}");
    assert_eq!(replayed["replayWebhookEvents"]["nextPosition"], Value::Null);
    eventually("the replayed events arrive", || async {
        receiver.requests().len() == 6
    })
    .await;
    let requests = receiver.requests();
    for request in &requests {
        verify(&secret, request);
    }
    let projects: Vec<String> = requests[2..]
        .iter()
        .map(|r| {
            r.json()["data"]["project_id"]
                .as_str()
                .expect("project")
                .to_owned()
        })
        .collect();
    assert_eq!(projects.iter().filter(|p| **p == first_project).count(), 2);
    assert_eq!(projects.iter().filter(|p| **p == second_project).count(), 2);
    assert_eq!(
        types(&requests[2..]),
        [
            "project.created",
            "project.created",
            "task.created",
            "task.created"
        ]
    );
    let ids = |rs: &[Request]| {
        let mut ids: Vec<String> = rs
            .iter()
            .map(|r| r.header("webhook-id").expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    let replayed_second: Vec<Request> = requests[2..]
        .iter()
        .filter(|r| r.json()["data"]["project_id"] == second_project.as_str())
        .cloned()
        .collect();
    assert_eq!(ids(&requests[..2]), ids(&replayed_second));

    // From the second project's creation on: only its two events.
    let from = position_of(second_project.clone()).await;
    let replayed = app
        .ok(Some(&admin), replay, json!({ "e": endpoint, "p": from }))
        .await;
    assert_eq!(replayed["replayWebhookEvents"]["queued"], 2, "{replayed}");
    eventually("they arrive", || async { receiver.requests().len() == 8 }).await;
    assert!(receiver.requests()[6..]
        .iter()
        .all(|r| r.json()["data"]["project_id"] == second_project.as_str()));

    // A time in the future replays nothing; both or neither bound is refused.
    let future = app
        .ok(
            Some(&admin),
            replay,
            json!({ "e": endpoint, "s": "2099-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(future["replayWebhookEvents"]["queued"], 0);
    let both = app
        .gql(
            Some(&admin),
            replay,
            json!({ "e": endpoint, "p": 0, "s": "2099-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(error_code(&both), Some("BAD_USER_INPUT"), "{both}");
    let neither = app
        .gql(Some(&admin), replay, json!({ "e": endpoint }))
        .await;
    assert_eq!(error_code(&neither), Some("BAD_USER_INPUT"), "{neither}");
    let unknown = app
        .gql(
            Some(&admin),
            replay,
            json!({ "e": uuid::Uuid::now_v7(), "p": 0 }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    assert_rebuild_equals_live(&app, "webhook_endpoints").await;
}
