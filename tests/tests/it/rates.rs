//! Hourly rates over HTTP: admins set them, the most specific one applies.

use serde_json::json;
use tests::*;

#[tokio::test]
async fn the_most_specific_rate_prices_an_hour_and_only_admins_set_rates() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (consultant, _) = create_user(&app, &admin, "con@zipp.example", "CONSULTANT").await;
    let (_, manager_token) = create_user(&app, &admin, "mgr@zipp.example", "MANAGER").await;
    let lead = capture_lead(&app, &admin, "Rate Finance", "cfo@rate.example").await;
    win_lead(&app, &admin, &lead).await;
    let (client, _) = convert_with_project(&app, &admin, &lead, "cfo@rate.example").await;

    let set = "mutation($i: SetRateInput!) { setRate(input: $i) { caughtUp rates { role userId clientId hourly { minor currency } } } }";
    let effective = "query($u: UUID!, $c: UUID!) { effectiveRate(userId: $u, clientId: $c) { minor currency } }";
    let ask = json!({ "u": consultant, "c": client });
    let none = app.ok(Some(&manager_token), effective, ask.clone()).await;
    assert!(none["effectiveRate"].is_null());

    let by_manager = app
        .gql(
            Some(&manager_token),
            set,
            json!({ "i": { "scope": { "role": "CONSULTANT" }, "hourlyMinor": 200000 } }),
        )
        .await;
    assert_eq!(error_code(&by_manager), Some("FORBIDDEN"), "{by_manager}");

    let role = app
        .ok(
            Some(&admin),
            set,
            json!({ "i": { "scope": { "role": "CONSULTANT" }, "hourlyMinor": 200000 } }),
        )
        .await;
    assert_eq!(role["setRate"]["rates"][0]["hourly"]["currency"], "INR");
    let rate = app.ok(Some(&manager_token), effective, ask.clone()).await;
    assert_eq!(rate["effectiveRate"]["minor"], 200000);

    app.ok(
        Some(&admin),
        set,
        json!({ "i": { "scope": { "userId": consultant, "clientId": client }, "hourlyMinor": 350000, "currency": "inr" } }),
    )
    .await;
    let rate = app.ok(Some(&manager_token), effective, ask.clone()).await;
    assert_eq!(
        rate["effectiveRate"],
        json!({ "minor": 350000, "currency": "INR" })
    );

    // Refusals: both or neither of role and user, a portal role, no amount, an unknown client.
    for (input, code) in [
        (
            json!({ "scope": { "role": "MANAGER", "userId": consultant }, "hourlyMinor": 1 }),
            "BAD_USER_INPUT",
        ),
        (json!({ "scope": {}, "hourlyMinor": 1 }), "BAD_USER_INPUT"),
        (
            json!({ "scope": { "role": "CLIENT" }, "hourlyMinor": 1 }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "scope": { "role": "MANAGER" }, "hourlyMinor": 0 }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "scope": { "role": "MANAGER" }, "hourlyMinor": 1, "currency": "rupees" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "scope": { "role": "MANAGER", "clientId": "00000000-0000-0000-0000-000000000001" }, "hourlyMinor": 1 }),
            "NOT_FOUND",
        ),
    ] {
        let body = app.gql(Some(&admin), set, json!({ "i": input })).await;
        assert_eq!(error_code(&body), Some(code), "{input}: {body}");
    }

    // Cleared, the next less specific rate applies again.
    app.ok(
        Some(&admin),
        "mutation($s: RateScopeInput!) { clearRate(scope: $s) { caughtUp } }",
        json!({ "s": { "userId": consultant, "clientId": client } }),
    )
    .await;
    let rate = app.ok(Some(&manager_token), effective, ask).await;
    assert_eq!(rate["effectiveRate"]["minor"], 200000);
    assert_rebuild_equals_live(&app, "rates").await;
    app.stop().await;
}
