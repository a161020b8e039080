//! Reactors: a reaction lands once whatever crashes or runs twice, failures retry and park,
//! admins settle parked events, and rebuilds re-run nothing.

use serde_json::{json, Value};
use sqlx::PgPool;
use tests::{
    capture_lead, convert_with_project, error_code, raise_request, spawn_app, spawn_app_on,
    win_lead, TestApp,
};

/// What a conversion's follow-up leaves behind for `email`: registrations of its user,
/// set-password messages, tokens.
async fn follow_ups(pool: &PgPool, email: &str) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE event_type = 'UserRegistered' AND payload->'UserRegistered'->>'email' = $1), \
                (SELECT count(*) FROM email_outbox WHERE kind = 'set_password' AND to_address = $1), \
                (SELECT count(*) FROM password_tokens t JOIN email_registry r USING (user_id) WHERE r.email = $1)",
    )
    .bind(email)
    .fetch_one(pool)
    .await
    .expect("counts")
}

async fn converted(app: &TestApp, admin: &str, company: &str, email: &str) -> String {
    let lead = capture_lead(app, admin, company, &format!("lead@{company}.example")).await;
    win_lead(app, admin, &lead).await;
    let (client, _) = convert_with_project(app, admin, &lead, email).await;
    client
}

/// Converts without expecting the follow-up to have caught up (it may be failing).
async fn convert_plainly(app: &TestApp, admin: &str, company: &str, email: &str) {
    let lead = capture_lead(app, admin, company, &format!("lead@{company}.example")).await;
    win_lead(app, admin, &lead).await;
    app.ok(
        Some(admin),
        "mutation($i: ConvertLeadInput!) { convertLead(input: $i) { portalUserId } }",
        json!({ "i": { "leadId": lead, "primaryContact": { "email": email } } }),
    )
    .await;
}

/// Moves the portal-access reactor back to the start of the log: what a crash after its
/// follow-ups' appends and before its checkpoint moved leaves behind.
async fn rewind(pool: &PgPool) {
    sqlx::query(
        "UPDATE projection_checkpoints SET last_tx = '0', last_position = 0 \
          WHERE name = 'portal-access' AND kind = 'reactor'",
    )
    .execute(pool)
    .await
    .expect("rewound");
}

#[tokio::test]
async fn a_reaction_repeated_after_a_crash_before_its_checkpoint_lands_once() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let client = converted(&app, &admin, "alpha", "first@alpha.example").await;
    app.settled().await;
    assert_eq!(
        follow_ups(&app.pool, "first@alpha.example").await,
        (1, 1, 1)
    );
    // The follow-up names its cause and carries the conversion's correlation.
    let (cause, correlation, client_correlation): (String, String, String) = sqlx::query_as(
        "SELECT u.metadata->>'causation_id', u.metadata->>'correlation_id', c.metadata->>'correlation_id' \
           FROM events u, events c \
          WHERE u.event_type = 'UserRegistered' AND u.payload->'UserRegistered'->>'email' = 'first@alpha.example' \
            AND c.aggregate_type = 'Client' AND c.aggregate_id = $1 AND c.sequence = 1 \
            AND u.metadata->>'causation_id' = c.event_id::text",
    )
    .bind(&client)
    .fetch_one(&app.pool)
    .await
    .expect("follow-up caused by the client's creation");
    assert!(!cause.is_empty());
    assert_eq!(correlation, client_correlation);

    let url = app.database_url.clone();
    app.stop().await;
    rewind(&app_pool(&url).await).await;
    let app = spawn_app_on(&url).await.expect("restarted");
    app.settled().await;
    assert_eq!(
        follow_ups(&app.pool, "first@alpha.example").await,
        (1, 1, 1)
    );
    nothing_failed(&app.pool).await;
    // And the reactor still reacts to what comes next.
    let admin = app.admin().await;
    converted(&app, &admin, "beta", "second@beta.example").await;
    app.settled().await;
    assert_eq!(
        follow_ups(&app.pool, "second@beta.example").await,
        (1, 1, 1)
    );
    app.stop().await;
}

/// Nothing failed on the way: no reaction parked or retrying.
async fn nothing_failed(pool: &PgPool) {
    let (parked, failing): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM reactor_parked), \
                (SELECT count(*) FROM projection_checkpoints WHERE attempts > 0 OR last_error IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .expect("status");
    assert_eq!(
        (parked, failing),
        (0, 0),
        "a repeated reaction was decided again"
    );
}

async fn app_pool(url: &str) -> PgPool {
    PgPool::connect(url).await.expect("pool")
}

#[tokio::test]
async fn two_servers_make_each_follow_up_once() {
    let first = spawn_app().await.expect("server");
    let second = spawn_app_on(&first.database_url).await.expect("replica");
    let admin = first.admin().await;
    for (i, app) in [&first, &second, &first, &second].into_iter().enumerate() {
        converted(
            app,
            &admin,
            &format!("firm{i}"),
            &format!("portal{i}@firm.example"),
        )
        .await;
    }
    // Both workers go over everything again at once; each holds the lock in turn.
    rewind(&first.pool).await;
    first.settled().await;
    second.settled().await;
    for i in 0..4 {
        assert_eq!(
            follow_ups(&first.pool, &format!("portal{i}@firm.example")).await,
            (1, 1, 1),
            "portal{i}"
        );
    }
    nothing_failed(&first.pool).await;
    second.stop().await;
    first.stop().await;
}

async fn parked(app: &TestApp, admin: &str) -> Vec<Value> {
    let data = app
        .ok(
            Some(admin),
            "{ parkedReactions(reactor: \"portal-access\") { reactor eventId eventType attempts lastError resolution resolvedBy } }",
            json!({}),
        )
        .await;
    data["parkedReactions"].as_array().expect("list").clone()
}

#[tokio::test]
async fn a_failing_reaction_is_retried_parked_and_settled_by_an_admin() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    // The outbox refuses two addresses, so their invitations fail after the registration.
    sqlx::query(
        "ALTER TABLE email_outbox ADD CONSTRAINT refuses_for_the_test \
         CHECK (to_address NOT IN ('blocked@gamma.example', 'blocked@delta.example'))",
    )
    .execute(&app.pool)
    .await
    .expect("constraint");
    convert_plainly(&app, &admin, "gamma", "blocked@gamma.example").await;
    app.settled().await;
    let list = parked(&app, &admin).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["eventType"], "ClientCreated");
    assert_eq!(
        list[0]["attempts"], 3,
        "parked after the configured attempts"
    );
    assert!(list[0]["resolution"].is_null());
    let event_id = list[0]["eventId"].as_str().expect("id").to_owned();
    // The registration landed once; the message is missing.
    assert_eq!(
        follow_ups(&app.pool, "blocked@gamma.example").await,
        (1, 0, 0)
    );
    let status = app
        .ok(
            Some(&admin),
            "{ reactorStatus { name attempts parked } projectionStatus { name } }",
            json!({}),
        )
        .await;
    let portal = status["reactorStatus"]
        .as_array()
        .expect("reactors")
        .iter()
        .find(|r| r["name"] == "portal-access")
        .expect("portal-access listed")
        .clone();
    assert_eq!(portal["parked"], 1);
    assert_eq!(portal["attempts"], 0, "moved on past the parked event");
    assert!(
        !status["projectionStatus"]
            .to_string()
            .contains("portal-access"),
        "reactors are not projections"
    );
    // The reactor moved on: a later conversion is followed up.
    converted(&app, &admin, "epsilon", "fine@epsilon.example").await;
    assert_eq!(
        follow_ups(&app.pool, "fine@epsilon.example").await,
        (1, 1, 1)
    );

    let retry = "mutation($e: UUID!) { retryParkedReaction(reactor: \"portal-access\", eventId: $e) { attempts resolution lastError } }";
    let still = app.ok(Some(&admin), retry, json!({ "e": event_id })).await;
    assert!(still["retryParkedReaction"]["resolution"].is_null());
    assert_eq!(still["retryParkedReaction"]["attempts"], 4);

    sqlx::query("ALTER TABLE email_outbox DROP CONSTRAINT refuses_for_the_test")
        .execute(&app.pool)
        .await
        .expect("dropped");
    let done = app.ok(Some(&admin), retry, json!({ "e": event_id })).await;
    assert_eq!(done["retryParkedReaction"]["resolution"], "RETRIED");
    assert_eq!(
        follow_ups(&app.pool, "blocked@gamma.example").await,
        (1, 1, 1)
    );
    let again = app.gql(Some(&admin), retry, json!({ "e": event_id })).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    let unknown = app
        .gql(Some(&admin), retry, json!({ "e": uuid::Uuid::now_v7() }))
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    let anonymous = app.gql(None, retry, json!({ "e": event_id })).await;
    assert!(error_code(&anonymous).is_some(), "{anonymous}");
    assert_ne!(error_code(&anonymous), Some("INTERNAL"));

    // Skipping: a reason is required, and the decision is recorded.
    sqlx::query(
        "ALTER TABLE email_outbox ADD CONSTRAINT refuses_for_the_test \
         CHECK (to_address <> 'blocked@delta.example')",
    )
    .execute(&app.pool)
    .await
    .expect("constraint");
    convert_plainly(&app, &admin, "delta", "blocked@delta.example").await;
    app.settled().await;
    let list = parked(&app, &admin).await;
    let open = list
        .iter()
        .find(|p| p["resolution"].is_null())
        .expect("a second parked event");
    let second = open["eventId"].as_str().expect("id").to_owned();
    let skip = "mutation($e: UUID!, $r: String!) { skipParkedReaction(reactor: \"portal-access\", eventId: $e, reason: $r) { resolution resolvedBy } }";
    let blank = app
        .gql(Some(&admin), skip, json!({ "e": second, "r": "  " }))
        .await;
    assert_eq!(error_code(&blank), Some("BAD_USER_INPUT"), "{blank}");
    let skipped = app
        .ok(
            Some(&admin),
            skip,
            json!({ "e": second, "r": "the contact asked not to be emailed" }),
        )
        .await;
    assert_eq!(skipped["skipParkedReaction"]["resolution"], "SKIPPED");
    assert!(skipped["skipParkedReaction"]["resolvedBy"].is_string());
    let decisions: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT event_type, metadata->>'actor_id' FROM events WHERE aggregate_type = 'Reactor' ORDER BY global_position",
    )
    .fetch_all(&app.pool)
    .await
    .expect("decisions");
    let types: Vec<&str> = decisions.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "ParkedReactionRetried",
            "ParkedReactionRetried",
            "ParkedReactionSkipped"
        ]
    );
    assert!(decisions
        .iter()
        .all(|(_, actor)| actor.as_deref() != Some("system")));
    app.stop().await;
}

#[tokio::test]
async fn a_rebuild_reruns_no_reaction() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Zeta", "lead@zeta.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "portal@zeta.example").await;
    raise_request(&app, &admin, &project, "ONBOARDING", "engagement_letter").await;
    app.settled().await;
    let outbox = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT count(*), (SELECT count(*) FROM events WHERE aggregate_type = 'User') FROM email_outbox",
        )
        .fetch_one(&app.pool)
        .await
        .expect("count")
    };
    let before = outbox().await;
    assert!(
        before.0 >= 2,
        "the invitation and the request's email: {before:?}"
    );
    for projection in projections::all() {
        projections::rebuild::rebuild(&app.pool, projection.as_ref(), &|_| {})
            .await
            .expect("rebuild");
    }
    app.settled().await;
    assert_eq!(outbox().await, before);
    app.stop().await;
}
