//! Time from the productivity platform over HTTP: API keys (shown once, hashed, revoked),
//! `POST /api/v1/time-entries` and `ingestTimeEntries`, idempotency also under 32
//! concurrent repeats, the unmapped review queue, saved mappings, and refusals.

use serde_json::{json, Value};
use tests::*;

struct Platform {
    app: TestApp,
    admin: String,
    reviewer: String,
    consultant: String,
    consultant_id: String,
    project: String,
    token: String,
    key_id: String,
}

async fn platform() -> Platform {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (_, reviewer) = create_user(&app, &admin, "rev@ing.example", "REVIEWER").await;
    let (consultant_id, consultant) =
        create_user(&app, &admin, "con@ing.example", "CONSULTANT").await;
    let lead = capture_lead(&app, &admin, "Ingest Holdings", "cfo@ing.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_client, project) = convert_with_project(&app, &admin, &lead, "cfo@ing.example").await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let created = app
        .ok(
            Some(&admin),
            "mutation($e: DateTime!) { createApiKey(input: { name: \"Platform\", scopes: [TIME_INGEST], expiresAt: $e }) { token apiKey { id name scopes active } } }",
            json!({ "e": expires }),
        )
        .await;
    let token = created["createApiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(token.starts_with("zpk_"));
    assert_eq!(
        created["createApiKey"]["apiKey"]["scopes"],
        json!(["TIME_INGEST"])
    );
    let key_id = created["createApiKey"]["apiKey"]["id"]
        .as_str()
        .expect("key id")
        .to_owned();
    Platform {
        app,
        admin,
        reviewer,
        consultant,
        consultant_id,
        project,
        token,
        key_id,
    }
}

impl Platform {
    async fn post(&self, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self
            .app
            .http
            .post(format!("{}/api/v1/time-entries", self.app.address))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, entries: Value) -> Vec<Value> {
        let (status, body) = self
            .post(Some(&self.token), json!({ "entries": entries }))
            .await;
        assert_eq!(status, 200, "{body}");
        body["results"].as_array().cloned().expect("results")
    }

    fn entry(&self, external_id: &str, user: &str, matter: &str, minutes: i64) -> Value {
        json!({ "externalId": external_id, "user": user, "matter": matter, "date": "2026-11-23",
                "minutes": minutes, "description": "review call", "billable": true })
    }
}

fn statuses(results: &[Value]) -> Vec<(String, bool)> {
    results
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["repeat"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn entries_map_on_arrival_once_each_and_unmapped_ones_wait_for_review() {
    let p = platform().await;
    let app = &p.app;
    // A matter's id in any form it may be written in.
    let simple_id = p.project.replace('-', "").to_uppercase();
    let batch = json!([
        p.entry("tt-1", "CON@ing.example", &p.project, 60),
        { "externalId": "tt-2", "user": "con@ing.example", "matter": simple_id,
          "start": "2026-11-24T09:30:00+05:30", "end": "2026-11-24T11:00:00+05:30", "description": "drafting" },
        p.entry("tt-3", "u-77", "CLICKUP-9", 30),
        p.entry("tt-4", "con@ing.example", &p.project, 0),
    ]);
    let first = p.send(batch.clone()).await;
    assert_eq!(
        statuses(&first),
        [
            ("mapped".into(), false),
            ("mapped".into(), false),
            ("unmapped".into(), false),
            ("invalid".into(), false)
        ]
    );
    assert!(first[2]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("u-77"));
    assert!(first[3]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("minutes"));

    // The same batch again: the original outcomes, and nothing new.
    let again = p.send(batch).await;
    assert_eq!(
        statuses(&again),
        [
            ("mapped".into(), true),
            ("mapped".into(), true),
            ("unmapped".into(), true),
            ("invalid".into(), false)
        ]
    );
    assert_eq!(again[0]["entryId"], first[0]["entryId"]);

    // The mapped ones are the consultant's drafts, source external.
    app.settled().await;
    let sheet = app
        .ok(
            Some(&p.consultant),
            "{ timesheet(weekOf: \"2026-11-23\") { totalMinutes entries { id externalId state minutes date } } }",
            json!({}),
        )
        .await;
    assert_eq!(sheet["timesheet"]["totalMinutes"], 150, "{sheet}");
    let entries = sheet["timesheet"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["externalId"], "tt-1");
    assert_eq!(entries[0]["id"], first[0]["entryId"]);
    assert_eq!(entries[1]["date"], "2026-11-24");
    assert_eq!(entries[1]["minutes"], 90);
    assert_eq!(entries[1]["state"], "DRAFT");

    // The review queue holds the unmapped one; the reviewer maps it and saves the mapping.
    let queue = "{ externalTimeEntries { id externalId status reason userRef matterRef } }";
    let waiting = app.ok(Some(&p.reviewer), queue, json!({})).await;
    let waiting = waiting["externalTimeEntries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["externalId"], "tt-3");
    let consultant_cannot = app.gql(Some(&p.consultant), queue, json!({})).await;
    assert_eq!(
        consultant_cannot["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    let map = "mutation($id: UUID!, $i: MapExternalTimeEntryInput!) { mapExternalTimeEntry(id: $id, input: $i) { entry { status userId projectId entryId } } }";
    let unknown_user = app
        .gql(
            Some(&p.reviewer),
            map,
            json!({ "id": waiting[0]["id"], "i": { "userId": p.key_id, "projectId": p.project } }),
        )
        .await;
    assert_eq!(
        unknown_user["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let mapped = app
        .ok(
            Some(&p.reviewer),
            map,
            json!({ "id": waiting[0]["id"], "i": { "userId": p.consultant_id, "projectId": p.project, "saveMapping": true } }),
        )
        .await;
    assert_eq!(mapped["mapExternalTimeEntry"]["entry"]["status"], "mapped");
    let twice = app
        .gql(
            Some(&p.reviewer),
            map,
            json!({ "id": waiting[0]["id"], "i": { "userId": p.consultant_id, "projectId": p.project } }),
        )
        .await;
    assert_eq!(twice["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let saved = app
        .ok(
            Some(&p.reviewer),
            "{ externalMappings { kind external userId projectId } }",
            json!({}),
        )
        .await;
    assert_eq!(saved["externalMappings"].as_array().map(Vec::len), Some(2));

    // Later entries with those references map on arrival.
    let later = p
        .send(json!([p.entry("tt-5", "U-77", "clickup-9", 15)]))
        .await;
    assert_eq!(statuses(&later), [("mapped".into(), false)]);

    // Discarding needs a reason; a discarded entry leaves the queue.
    let odd = p
        .send(json!([p.entry("tt-6", "nobody", "CLICKUP-9", 15)]))
        .await;
    let odd_id = odd[0]["externalEntryId"].clone();
    let discard = "mutation($id: UUID!, $r: String!) { discardExternalTimeEntry(id: $id, reason: $r) { entry { status reason } } }";
    let blank = app
        .gql(
            Some(&p.reviewer),
            discard,
            json!({ "id": odd_id, "r": " " }),
        )
        .await;
    assert_eq!(blank["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let gone = app
        .ok(
            Some(&p.reviewer),
            discard,
            json!({ "id": odd_id, "r": "not our client" }),
        )
        .await;
    assert_eq!(
        gone["discardExternalTimeEntry"]["entry"]["status"],
        "discarded"
    );
    let repeat = p
        .send(json!([p.entry("tt-6", "nobody", "CLICKUP-9", 15)]))
        .await;
    assert_eq!(statuses(&repeat), [("discarded".into(), true)]);

    // A mapped entry the timesheet refuses (over 24 hours that day) goes to review.
    let over = p
        .send(json!([p.entry(
            "tt-7",
            "con@ing.example",
            &p.project,
            1440
        )]))
        .await;
    assert_eq!(statuses(&over), [("mapped".into(), false)]);
    app.settled().await;
    let refused = app.ok(Some(&p.reviewer), queue, json!({})).await;
    let refused = refused["externalTimeEntries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["status"], "refused");
    assert!(refused[0]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("24 hours"));

    let sheet = app
        .ok(
            Some(&p.consultant),
            "{ timesheet(weekOf: \"2026-11-23\") { totalMinutes } }",
            json!({}),
        )
        .await;
    assert_eq!(sheet["timesheet"]["totalMinutes"], 195);
    assert_rebuild_equals_live(app, "integrations").await;
    assert_rebuild_equals_live(app, "effort").await;
}

#[tokio::test]
async fn thirty_two_clients_sending_the_same_batch_make_each_entry_once() {
    let p = platform().await;
    let app = &p.app;
    let batch: Vec<Value> = (0..20)
        .map(|i| p.entry(&format!("burst-{i}"), "con@ing.example", &p.project, 10))
        .collect();
    let batch = Value::Array(batch);
    let sends = (0..32).map(|_| p.send(batch.clone()));
    let answers = futures::future::join_all(sends).await;
    for answer in &answers {
        assert!(answer.iter().all(|r| r["status"] == "mapped"), "{answer:?}");
        let ids: Vec<&Value> = answer.iter().map(|r| &r["entryId"]).collect();
        let first: Vec<&Value> = answers[0].iter().map(|r| &r["entryId"]).collect();
        assert_eq!(ids, first);
    }
    let fresh: usize = answers
        .iter()
        .flat_map(|a| a.iter())
        .filter(|r| r["repeat"] == false)
        .count();
    assert_eq!(
        fresh, 20,
        "each entry is received by exactly one of the sends"
    );
    app.settled().await;
    let received: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'ExternalEntry'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(received, 20);
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM time_entries WHERE external_id LIKE 'burst-%'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(logged, 20);
}

#[tokio::test]
async fn keys_are_checked_shown_once_and_revoked_at_once() {
    let p = platform().await;
    let app = &p.app;
    let one = json!({ "entries": [p.entry("k-1", "con@ing.example", &p.project, 5)] });

    // No key, a user's session, a made-up key: refused.
    assert_eq!(p.post(None, one.clone()).await.0, 401);
    assert_eq!(p.post(Some(&p.admin), one.clone()).await.0, 403);
    let forged = format!("zpk_{}_{}", p.key_id.replace('-', ""), "00".repeat(32));
    assert_eq!(p.post(Some(&forged), one.clone()).await.0, 401);

    // Malformed and oversized batches are refused whole.
    let (status, body) = p.post(Some(&p.token), json!({ "entries": "x" })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let too_many: Vec<Value> = (0..501)
        .map(|i| p.entry(&format!("big-{i}"), "con@ing.example", &p.project, 1))
        .collect();
    assert_eq!(
        p.post(Some(&p.token), json!({ "entries": too_many }))
            .await
            .0,
        400
    );
    assert_eq!(
        p.post(Some(&p.token), json!({ "entries": [] })).await.0,
        400
    );

    // The key may only ingest: GraphQL ingestion works with it, other fields do not.
    let ingest = "mutation($e: [ExternalTimeEntryInput!]!) { ingestTimeEntries(entries: $e) { caughtUp results { externalId status } } }";
    let via_graphql = app
        .ok(
            Some(&p.token),
            ingest,
            json!({ "e": [p.entry("k-2", "con@ing.example", &p.project, 5)] }),
        )
        .await;
    assert_eq!(
        via_graphql["ingestTimeEntries"]["results"][0]["status"],
        "mapped"
    );
    let other = app
        .gql(Some(&p.token), "{ apiKeys { id } }", json!({}))
        .await;
    assert_eq!(other["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let as_admin = app.gql(Some(&p.admin), ingest, json!({ "e": [] })).await;
    assert_eq!(as_admin["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // The list never shows a token; bad expiry is refused; only admins manage keys.
    let keys = app
        .ok(
            Some(&p.admin),
            "{ apiKeys { id name active revokedAt } }",
            json!({}),
        )
        .await;
    assert!(!keys.to_string().contains(&p.token));
    let far = (chrono::Utc::now() + chrono::Duration::days(800)).to_rfc3339();
    let create = "mutation($e: DateTime!) { createApiKey(input: { name: \"x\", scopes: [TIME_INGEST], expiresAt: $e }) { token } }";
    let refused = app.gql(Some(&p.admin), create, json!({ "e": far })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let not_admin = app
        .gql(
            Some(&p.reviewer),
            create,
            json!({ "e": chrono::Utc::now().to_rfc3339() }),
        )
        .await;
    assert_eq!(not_admin["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_key_secrets WHERE secret_hash = $1 OR secret_hash = $2",
    )
    .bind(&p.token)
    .bind(p.token.rsplit('_').next().unwrap_or_default())
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(stored, 0, "the secret is stored hashed");

    // Revoked: refused at once.
    let revoked = app
        .ok(
            Some(&p.admin),
            "mutation($id: UUID!) { revokeApiKey(id: $id) { apiKey { active revokedAt } } }",
            json!({ "id": p.key_id }),
        )
        .await;
    assert_eq!(revoked["revokeApiKey"]["apiKey"]["active"], false);
    assert_eq!(p.post(Some(&p.token), one).await.0, 401);
    assert_rebuild_equals_live(app, "integrations").await;
}

#[tokio::test]
async fn one_persons_failing_entry_holds_back_nobody_else_and_lands_once_retried() {
    use chrono::Datelike as _;
    let p = platform().await;
    let app = &p.app;
    let admin = &p.admin;
    let (_, other) = create_user(app, admin, "other@ing.example", "CONSULTANT").await;
    // The consultant's timesheet of that week cannot be written: their entry's reaction
    // fails, is retried and parked, while the other person's entries are logged.
    let blocked = domain::timesheet::stream_id(
        uuid::Uuid::parse_str(&p.consultant_id).expect("id"),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .expect("date")
            .iso_week(),
    );
    sqlx::query(&format!(
        "ALTER TABLE events ADD CONSTRAINT refuses_for_the_test \
         CHECK (NOT (aggregate_type = 'Timesheet' AND aggregate_id = '{blocked}'))"
    ))
    .execute(&app.pool)
    .await
    .expect("constraint");
    let mut batch = vec![p.entry("p-0", "con@ing.example", &p.project, 30)];
    batch.extend((1..=6).map(|i| p.entry(&format!("p-{i}"), "other@ing.example", &p.project, 30)));
    let results = p.send(Value::Array(batch)).await;
    assert!(results.iter().all(|r| r["status"] == "mapped"));
    app.settled().await;
    let parked = app
        .ok(
            Some(admin),
            "{ parkedReactions(reactor: \"external-time\") { eventId attempts } }",
            json!({}),
        )
        .await;
    let parked = parked["parkedReactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(parked.len(), 1, "{parked:?}");
    let sheet = "{ timesheet(weekOf: \"2026-11-23\") { totalMinutes entries { externalId } } }";
    let others = app.ok(Some(&other), sheet, json!({})).await;
    assert_eq!(
        others["timesheet"]["totalMinutes"], 180,
        "each of the six once: {others}"
    );

    sqlx::query("ALTER TABLE events DROP CONSTRAINT refuses_for_the_test")
        .execute(&app.pool)
        .await
        .expect("dropped");
    let retried = app
        .ok(
            Some(admin),
            "mutation($e: UUID!) { retryParkedReaction(reactor: \"external-time\", eventId: $e) { resolution } }",
            json!({ "e": parked[0]["eventId"] }),
        )
        .await;
    assert_eq!(retried["retryParkedReaction"]["resolution"], "RETRIED");
    app.settled().await;
    let mine = app.ok(Some(&p.consultant), sheet, json!({})).await;
    assert_eq!(mine["timesheet"]["totalMinutes"], 30);
    let others = app.ok(Some(&other), sheet, json!({})).await;
    assert_eq!(others["timesheet"]["totalMinutes"], 180);
}

/// Creates a key (for `integration`, or a new integration); returns (token, key id, its
/// integration id).
async fn another_key(p: &Platform, integration: Option<&str>) -> (String, String, String) {
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let created = p
        .app
        .ok(
            Some(&p.admin),
            "mutation($e: DateTime!, $i: UUID) { createApiKey(input: { name: \"Other\", scopes: [TIME_INGEST], expiresAt: $e, integrationId: $i }) { token apiKey { id integrationId } } }",
            json!({ "e": expires, "i": integration }),
        )
        .await;
    let text = |v: &Value| v.as_str().expect("text").to_owned();
    (
        text(&created["createApiKey"]["token"]),
        text(&created["createApiKey"]["apiKey"]["id"]),
        text(&created["createApiKey"]["apiKey"]["integrationId"]),
    )
}

#[tokio::test]
async fn an_external_id_belongs_to_its_integration_and_a_new_key_of_it_keeps_it() {
    let p = platform().await;
    let first = p
        .send(json!([p.entry("shared-1", "u-first", "FIRST-REF", 30)]))
        .await;
    assert_eq!(statuses(&first), [("unmapped".into(), false)]);

    // Another integration's same external id is its own entry, answered with its own data.
    let (other, other_key, other_integration) = another_key(&p, None).await;
    assert_eq!(
        other_integration, other_key,
        "a new integration, named by its key"
    );
    let (status, body) = p
        .post(
            Some(&other),
            json!({ "entries": [p.entry("shared-1", "con@ing.example", &p.project, 45)] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().cloned().expect("results");
    assert_eq!(statuses(&results), [("mapped".into(), false)], "{body}");
    assert_ne!(results[0]["externalEntryId"], first[0]["externalEntryId"]);
    assert!(!body.to_string().contains("u-first") && !body.to_string().contains("FIRST-REF"));

    // A key that replaces the first key stands for the same integration: a repeat.
    let keys = p
        .app
        .ok(
            Some(&p.admin),
            "{ apiKeys { id integrationId } }",
            json!({}),
        )
        .await;
    let first_integration = keys["apiKeys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["id"] == p.key_id.as_str()))
        .expect("the first key")["integrationId"]
        .as_str()
        .expect("integration")
        .to_owned();
    let (replacing, _, integration) = another_key(&p, Some(&first_integration)).await;
    assert_eq!(integration, first_integration);
    let (_, body) = p
        .post(
            Some(&replacing),
            json!({ "entries": [p.entry("shared-1", "u-first", "FIRST-REF", 30)] }),
        )
        .await;
    let results = body["results"].as_array().cloned().expect("results");
    assert_eq!(statuses(&results), [("unmapped".into(), true)], "{body}");
    assert_eq!(results[0]["externalEntryId"], first[0]["externalEntryId"]);

    // An integration no key stands for is refused, and creates no key.
    let unknown = p
        .app
        .gql(
            Some(&p.admin),
            "mutation($e: DateTime!, $i: UUID) { createApiKey(input: { name: \"Stray\", scopes: [TIME_INGEST], expiresAt: $e, integrationId: $i }) { token } }",
            json!({ "e": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339(), "i": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("BAD_USER_INPUT"), "{unknown}");
    let count = p
        .app
        .ok(Some(&p.admin), "{ apiKeys { id } }", json!({}))
        .await;
    assert_eq!(count["apiKeys"].as_array().map(Vec::len), Some(3));
}
