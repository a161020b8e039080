//! Long streams are snapshotted, and a snapshot is exactly the fold of the events it covers.

use domain::lead::{Lead, LeadEvent};
use futures::future::join_all;
use serde_json::json;
use tests::*;

#[tokio::test]
async fn a_long_lead_stream_is_snapshotted_and_the_snapshot_equals_the_fold() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Osprey Payments", "hello@osprey.example").await;
    for batch in 0..11 {
        join_all((0..10).map(|i| {
            app.ok(
                Some(&admin),
                "mutation($id: UUID!, $b: String!) { addLeadNote(id: $id, body: $b) { caughtUp } }",
                json!({ "id": lead, "b": format!("call {batch}-{i}") }),
            )
        }))
        .await;
    }
    let (last_sequence, payload): (i64, serde_json::Value) = sqlx::query_as(
        "SELECT last_sequence, payload FROM aggregate_snapshots
         WHERE aggregate_type = 'Lead' AND aggregate_id = $1
         ",
    )
    .bind(&lead)
    .fetch_one(&app.pool)
    .await
    .expect("a snapshot after 111 events");
    assert!(last_sequence >= 100, "snapshot at {last_sequence}");

    let events: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload FROM events
         WHERE aggregate_type = 'Lead' AND aggregate_id = $1 AND sequence <= $2
         ORDER BY sequence",
    )
    .bind(&lead)
    .bind(last_sequence)
    .fetch_all(&app.pool)
    .await
    .expect("events");
    let folded: Lead = domain::replay(
        events
            .into_iter()
            .map(|e| serde_json::from_value::<LeadEvent>(e).expect("lead event")),
    );
    let folded = serde_json::to_value(&folded).expect("json");
    for (key, value) in folded.as_object().expect("object") {
        assert_eq!(
            Some(value),
            payload.get(key),
            "field {key} differs (snapshot at {last_sequence})"
        );
    }
    assert_eq!(folded, payload);

    // Commands keep working on top of the snapshot, and nothing was lost.
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { addLeadNote(id: $id, body: \"after the snapshot\") { caughtUp } }",
        json!({ "id": lead }),
    )
    .await;
    let data = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { lead(id: $id) { notes { body } } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(
        data["lead"]["notes"].as_array().expect("notes").len(),
        111,
        "110 notes and the one after the snapshot"
    );

    // A snapshot that no longer fits the aggregate's shape is ignored, not trusted.
    sqlx::query(
        "UPDATE aggregate_snapshots SET payload = '{\"shape\": \"old\"}' WHERE aggregate_id = $1",
    )
    .bind(&lead)
    .execute(&app.pool)
    .await
    .expect("stale snapshot");
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { markLeadLost(id: $id, reason: \"chose another firm\") { lead { stage } } }",
        json!({ "id": lead }),
    )
    .await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(&lead)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(events, 113);
    app.stop().await;
}
