//! WhatsApp over HTTP to a BSP the test starts: only the kinds a customer opted into reach
//! it, in the Cloud API's text shape with the server's token; refusals are retried or
//! failed as the BSP's answer says, and an admin sends them again from the Ops Center,
//! whose dashboard counts what waits.

use std::time::Duration;

use serde_json::{json, Value};
use tests::receiver::Receiver;
use tests::*;

const PREFERENCES: &str = "mutation($w: [String!], $n: String) { setNotificationPreferences(whatsapp: $w, whatsappNumber: $n) { emailMuted digest whatsapp whatsappNumber whatsappAvailable } }";

/// A server sending WhatsApp messages to `bsp`, failing them after two attempts.
async fn app_sending_to(bsp: &Receiver) -> TestApp {
    let url = fresh_database().await.expect("database");
    let mut config = config();
    config.whatsapp = Some(reactions::whatsapp::WhatsAppConfig {
        url: bsp.url("/v17.0/messages"),
        token: "bsp-token".into(),
        number: "+914466778899".into(),
        drain: reactions::courier::Drain {
            attempts: 2,
            backoff: Duration::from_millis(20),
            poll: Duration::from_millis(50),
            ..reactions::courier::Drain::DEFAULT
        },
        timeout: Duration::from_secs(5),
    });
    spawn_app_with(&url, config).await.expect("server")
}

async fn outbox(app: &TestApp) -> Vec<(String, String, i32)> {
    sqlx::query_as("SELECT kind, status, attempts FROM whatsapp_outbox ORDER BY created_at, id")
        .fetch_all(&app.pool)
        .await
        .expect("outbox")
}

#[tokio::test]
async fn customers_get_the_kinds_they_opted_into_and_admins_follow_up() {
    let bsp = Receiver::start().await;
    bsp.answer_with(200, r#"{"messages":[{"id":"wamid.HBgM"}]}"#);
    let app = app_sending_to(&bsp).await;
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Wa Finance", "cfo@wa.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@wa.example").await;
    app.settled().await;
    let customer = activate_portal_user(&app, "cfo@wa.example", "a-long-password-1").await;

    // Opting in needs a number, and a number in international form.
    let no_number = app
        .gql(
            Some(&customer),
            PREFERENCES,
            json!({ "w": ["request_raised"] }),
        )
        .await;
    assert_eq!(
        error_code(&no_number),
        Some("BAD_USER_INPUT"),
        "{no_number}"
    );
    let local = app
        .gql(
            Some(&customer),
            PREFERENCES,
            json!({ "w": ["request_raised"], "n": "98200 12345" }),
        )
        .await;
    assert_eq!(error_code(&local), Some("BAD_USER_INPUT"), "{local}");
    let set = app
        .ok(
            Some(&customer),
            PREFERENCES,
            json!({ "w": ["request_raised"], "n": "+91 98200 12345" }),
        )
        .await;
    assert_eq!(
        set["setNotificationPreferences"],
        json!({ "emailMuted": [], "digest": false, "whatsapp": ["request_raised"],
                "whatsappNumber": "+919820012345", "whatsappAvailable": true })
    );

    raise_request(&app, &admin, &project, "ONBOARDING", "engagement_letter").await;
    app.settled().await;
    eventually("the BSP has the message", || async {
        bsp.requests().len() == 1
    })
    .await;
    let request = &bsp.requests()[0];
    assert_eq!(request.path, "/v17.0/messages");
    assert_eq!(request.header("authorization"), Some("Bearer bsp-token"));
    let sent = request.json();
    assert_eq!(sent["messaging_product"], "whatsapp");
    assert_eq!(sent["to"], "+919820012345");
    assert_eq!(sent["from"], "+914466778899");
    assert_eq!(sent["type"], "text");
    assert!(
        sent["text"]["body"]
            .as_str()
            .expect("text")
            .contains("engagement_letter"),
        "{sent}"
    );
    let message_id = request.header("idempotency-key").expect("key").to_owned();
    eventually("it is recorded as sent with the BSP's id", || async {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, provider_message_id FROM whatsapp_outbox WHERE id::text = $1",
        )
        .bind(&message_id)
        .fetch_optional(&app.pool)
        .await
        .expect("row");
        row == Some(("sent".into(), Some("wamid.HBgM".into())))
    })
    .await;

    // A kind not opted into stays in the app (and the email).
    app.ok(
        Some(&customer),
        PREFERENCES,
        json!({ "w": ["upload_reviewed"] }),
    )
    .await;
    raise_request(&app, &admin, &project, "ONBOARDING", "kyc_directors").await;
    app.settled().await;
    assert_eq!(outbox(&app).await.len(), 1);
    let notes = app
        .ok(
            Some(&admin),
            "query($u: UUID) { opsNotifications(userId: $u, kind: \"request_raised\") { userId kind title } }",
            json!({ "u": Value::Null }),
        )
        .await;
    assert_eq!(
        notes["opsNotifications"].as_array().expect("notes").len(),
        2,
        "{notes}"
    );

    // A refusal for good fails at once with the BSP's words; a busy BSP is retried, then
    // failed; an admin sends both again once it is mended.
    app.ok(
        Some(&customer),
        PREFERENCES,
        json!({ "w": ["request_raised"] }),
    )
    .await;
    bsp.answer_with(
        400,
        r#"{"error":{"message":"(#131026) Message undeliverable"}}"#,
    );
    raise_request(&app, &admin, &project, "DOCUMENTATION", "moa_aoa").await;
    app.settled().await;
    eventually("the refused one fails", || async {
        outbox(&app).await.iter().any(|(_, s, _)| s == "failed")
    })
    .await;
    bsp.answer(503);
    raise_request(&app, &admin, &project, "ONBOARDING", "engagement_letter").await;
    app.settled().await;
    eventually("both fail", || async {
        outbox(&app)
            .await
            .iter()
            .filter(|(_, s, _)| s == "failed")
            .count()
            == 2
    })
    .await;
    let failed = app
        .ok(
            Some(&admin),
            "{ whatsappMessages(statuses: [FAILED]) { totalCount nodes { id status attempts lastError toNumber } } opsDashboard { whatsappFailed whatsappQueued emailsFailed uploadsAwaitingReview } }",
            json!({}),
        )
        .await;
    assert_eq!(failed["whatsappMessages"]["totalCount"], 2, "{failed}");
    assert_eq!(failed["opsDashboard"]["whatsappFailed"], 2);
    assert_eq!(failed["opsDashboard"]["whatsappQueued"], 0);
    let nodes = failed["whatsappMessages"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let errors: Vec<&str> = nodes
        .iter()
        .map(|n| n["lastError"].as_str().expect("error"))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("400") && e.contains("undeliverable")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("503")), "{errors:?}");
    let attempts: Vec<i64> = nodes
        .iter()
        .map(|n| n["attempts"].as_i64().expect("n"))
        .collect();
    assert!(
        attempts.contains(&1) && attempts.contains(&2),
        "{attempts:?}"
    );

    bsp.answer(200);
    let retry = "mutation($id: UUID!) { retryWhatsapp(id: $id) { status attempts } }";
    for node in &nodes {
        app.ok(Some(&admin), retry, json!({ "id": node["id"] }))
            .await;
    }
    eventually("both are sent", || async {
        outbox(&app)
            .await
            .iter()
            .filter(|(_, s, _)| s == "sent")
            .count()
            == 3
    })
    .await;
    let again = app
        .gql(Some(&admin), retry, json!({ "id": nodes[0]["id"] }))
        .await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"), "{again}");
    let by_customer = app
        .gql(
            Some(&customer),
            "{ opsDashboard { whatsappFailed } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&by_customer), Some("FORBIDDEN"), "{by_customer}");
}

#[tokio::test]
async fn without_a_bsp_nobody_can_opt_in() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let refused = app
        .gql(
            Some(&admin),
            PREFERENCES,
            json!({ "w": ["request_raised"], "n": "+919820012345" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let shown = app
        .ok(
            Some(&admin),
            "{ notificationPreferences { whatsapp whatsappAvailable } }",
            json!({}),
        )
        .await;
    assert_eq!(
        shown["notificationPreferences"],
        json!({ "whatsapp": [], "whatsappAvailable": false })
    );
}
