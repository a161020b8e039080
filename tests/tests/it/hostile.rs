//! Malformed or hostile input gets BAD_USER_INPUT or a limit error, never INTERNAL.

use serde_json::json;
use tests::*;

#[tokio::test]
async fn malformed_and_hostile_requests_are_refused_cleanly() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let huge = "x".repeat(100_000);
    let deep = format!("{{ leads {{ edges {{ node {{ client {{ projects {{ client {{ projects {{ client {{ projects {{ client {{ projects {{ client {{ projects {{ id {} }} }} }} }} }} }} }} }} }} }} }} }} }}", "");
    let cases = [
        ("wrong type", "mutation { scoreLead(id: \"not-a-uuid\", score: \"high\") { caughtUp } }".to_owned(), json!({})),
        ("unknown field", "{ leads { edges { node { password } } } }".to_owned(), json!({})),
        ("syntax", "{ leads { ".to_owned(), json!({})),
        ("huge string", "mutation($c: String!) { captureLead(input: { company: $c, contactName: \"A\", email: \"a@b.co\", source: OTHER, serviceInterest: \"GST\" }) { caughtUp } }".to_owned(), json!({ "c": huge })),
        ("too deep", deep, json!({})),
        ("page too large", "{ leads(first: 100000) { edges { node { id } } } }".to_owned(), json!({})),
        ("bad cursor", "{ leads(after: \"garbage\") { edges { node { id } } } }".to_owned(), json!({})),
        ("bad enum", "{ leads(filter: { stages: [SOLD] }) { edges { node { id } } } }".to_owned(), json!({})),
    ];
    for (name, query, variables) in cases {
        let body = app.gql(Some(&admin), &query, variables).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{name}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains("SELECT") && !text.contains("sqlx"),
            "{name} leaked internals: {text}"
        );
    }

    // Nothing half written: the refused capture left no event behind.
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'Lead'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(events, 0);

    // Mutations over GET are refused (GraphQL over HTTP).
    let get = app
        .http
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "mutation { logout(refreshToken: \"x\") }")])
        .send()
        .await
        .expect("GET sent");
    assert_eq!(get.status().as_u16(), 405);
    let query = app
        .http
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .expect("GET sent");
    assert_eq!(query.status().as_u16(), 200);

    // An oversized body is refused before it is parsed.
    let big = app
        .http
        .post(format!("{}/graphql", app.address))
        .body("x".repeat(2 * 1024 * 1024))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("sent");
    assert!(big.status().is_client_error(), "{}", big.status());

    // The log is append-only, enforced by the database.
    let update = sqlx::query("UPDATE events SET payload = '{}'")
        .execute(&app.pool)
        .await;
    assert!(update.is_err());
    let truncate = sqlx::query("TRUNCATE events").execute(&app.pool).await;
    assert!(truncate.is_err());
    app.stop().await;
}
