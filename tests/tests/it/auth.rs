//! Login, refresh-token rotation and reuse detection.

use serde_json::json;
use tests::*;

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken expiresIn user { role } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = spawn_app().await.expect("server");
    let login = app
        .ok(
            None,
            LOGIN,
            json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD }),
        )
        .await;
    assert_eq!(login["login"]["expiresIn"], 900);
    assert_eq!(login["login"]["user"]["role"], "ADMIN");
    let first = login["login"]["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();

    let rotated = app.ok(None, REFRESH, json!({ "t": first })).await;
    let second = rotated["refreshToken"]["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(first, second);

    // Replaying the used token revokes the whole family, including its successor.
    let replay = app.gql(None, REFRESH, json!({ "t": first })).await;
    assert_eq!(error_code(&replay), Some("UNAUTHENTICATED"));
    let successor = app.gql(None, REFRESH, json!({ "t": second })).await;
    assert_eq!(
        error_code(&successor),
        Some("UNAUTHENTICATED"),
        "{successor}"
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_passwords_and_bad_tokens_are_unauthenticated() {
    let app = spawn_app().await.expect("server");
    let wrong = app
        .gql(
            None,
            LOGIN,
            json!({ "e": ADMIN_EMAIL, "p": "not-the-password" }),
        )
        .await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    let unknown = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "nobody@example.com", "p": "whatever-password" }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    let anonymous = app
        .gql(None, "{ leads { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    let forged = app
        .gql(
            Some("eyJhbGciOiJIUzI1NiJ9.e30.forged"),
            "{ me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&forged), Some("UNAUTHENTICATED"));
    app.stop().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_rate_limited_per_email() {
    let app = spawn_app().await.expect("server");
    for _ in 0..5 {
        let wrong = app
            .gql(
                None,
                LOGIN,
                json!({ "e": ADMIN_EMAIL, "p": "not-the-password" }),
            )
            .await;
        assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    }
    // The sixth attempt is refused before the password is even checked, right or wrong,
    // and the limit does not care about the email's case.
    let limited = app
        .gql(
            None,
            LOGIN,
            json!({ "e": ADMIN_EMAIL.to_uppercase(), "p": ADMIN_PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");

    // Other emails are not affected, and unknown emails count too (no enumeration).
    for _ in 0..5 {
        let unknown = app
            .gql(
                None,
                LOGIN,
                json!({ "e": "nobody@test.example", "p": "whatever-1234" }),
            )
            .await;
        assert_eq!(error_code(&unknown), Some("UNAUTHENTICATED"));
    }
    let unknown = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "nobody@test.example", "p": "whatever-1234" }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("RATE_LIMITED"));

    // Once the window has passed (aged here in the table), the right password works and
    // clears the count.
    sqlx::query("UPDATE login_attempts SET window_start = window_start - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .expect("age failures");
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM login_attempts WHERE key = $1")
        .bind(format!("email:{ADMIN_EMAIL}"))
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    app.stop().await;
}
