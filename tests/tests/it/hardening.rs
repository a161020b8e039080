//! Regression tests of the hostile probe's findings (issue 17): each drives the real server
//! over HTTP the way the probe did.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tests::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn nested_list(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

fn nested_object(levels: usize) -> String {
    format!("{}1{}", "{a: ".repeat(levels), "}".repeat(levels))
}

/// The server still answers a plain query.
async fn alive(app: &TestApp) {
    let body = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
}

#[tokio::test]
async fn deeply_nested_values_are_refused_on_every_entry_point() {
    let app = spawn_app().await.expect("server");
    for value in [nested_list(2_000), nested_object(2_000)] {
        // POST, inline.
        let inline = app
            .gql(None, &format!("{{ me(x: {value}) {{ id }} }}"), json!({}))
            .await;
        assert_eq!(error_code(&inline), Some("BAD_USER_INPUT"), "{inline}");
        // A variable's default value.
        let default = format!("query($x: [[Int]] = {value}) {{ __typename }}");
        let body = app.gql(None, &default, json!({})).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        // GET.
        let get: Value = app
            .http
            .get(format!("{}/graphql", app.address))
            .query(&[("query", format!("{{ me(x: {value}) {{ id }} }}"))])
            .send()
            .await
            .expect("GET sent")
            .json()
            .await
            .expect("JSON");
        assert_eq!(error_code(&get), Some("BAD_USER_INPUT"), "{get}");
        alive(&app).await;
    }

    // The websocket: a subscription document reaches the parser only through the schema.
    let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let send = |message: Value| Message::text(message.to_string());
    socket
        .send(send(json!({ "type": "connection_init", "payload": {} })))
        .await
        .expect("sent");
    let query = format!(
        "subscription {{ leadChanged(x: {}) {{ id }} }}",
        nested_list(2_000)
    );
    socket
        .send(send(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
        ))
        .await
        .expect("sent");
    let error = loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
            .expect("socket open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        let message: Value = serde_json::from_str(&text).expect("JSON");
        // async-graphql answers a refused document as a result with errors.
        if message["type"] == "next" || message["type"] == "error" {
            break message;
        }
    };
    let refused = &error["payload"]["errors"][0];
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("nests")),
        "{error}"
    );
    assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    alive(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn the_callers_mistakes_are_bad_user_input_not_internal() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    capture_lead(&app, &admin, "Acme Finance", "asha@acme.example").await;
    let cursor = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}|abc", uuid::Uuid::new_v4()))
    };
    let cases = [
        (
            "a number for an id",
            "{ project(id: -1) { id } }".to_owned(),
            json!({}),
        ),
        (
            "an object for an id",
            "{ project(id: { a: 1 }) { id } }".to_owned(),
            json!({}),
        ),
        (
            "a list for a date",
            "{ leads(filter: { followUpBefore: [1] }) { totalCount } }".to_owned(),
            json!({}),
        ),
        (
            "a string for an input object",
            "{ leads(filter: \"x\") { totalCount } }".to_owned(),
            json!({}),
        ),
        (
            "a variable of the wrong type",
            "query($id: UUID!) { project(id: $id) { id } }".to_owned(),
            json!({ "id": 7 }),
        ),
        (
            "NUL in a login",
            "mutation { login(email: \"a\\u0000@b.co\", password: \"x\") { accessToken } }"
                .to_owned(),
            json!({}),
        ),
        (
            "NUL in a variable",
            "mutation($e: String!) { login(email: $e, password: \"x\") { accessToken } }"
                .to_owned(),
            json!({ "e": "a\u{0}@b.co" }),
        ),
        (
            "NUL in a search",
            "{ leads(filter: { search: \"ac\\u0000me\" }) { totalCount } }".to_owned(),
            json!({}),
        ),
        (
            "a cursor of another sort",
            "query($c: String!) { leads(after: $c, sort: { field: SCORE }) { totalCount } }"
                .to_owned(),
            json!({ "c": cursor }),
        ),
        (
            "a date PostgreSQL cannot store",
            "{ leads(filter: { followUpBefore: \"-262143-01-01\" }) { totalCount } }".to_owned(),
            json!({}),
        ),
        (
            "a time PostgreSQL cannot store",
            format!(
                "{{ leadAsOf(id: \"{}\", at: \"+262142-01-01T00:00:00Z\") {{ stage }} }}",
                uuid::Uuid::new_v4()
            ),
            json!({}),
        ),
    ];
    for (name, query, variables) in cases {
        let body = app.gql(Some(&admin), &query, variables).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{name}: {body}");
        assert!(
            !body.to_string().contains("SELECT") && !body.to_string().contains("invalid byte"),
            "{name} leaked internals: {body}"
        );
    }
    // A date out of range never reaches the log (a fold could not store it).
    let lead = capture_lead(&app, &admin, "Bravo", "b@bravo.example").await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: UUID!) { logLeadActivity(id: $id, input: { kind: \"call\", summary: \"x\", followUpOn: \"-262143-01-01\" }) { caughtUp } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    app.stop().await;
}

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

#[tokio::test]
async fn parallel_wrong_passwords_are_counted_before_any_is_checked() {
    let app = spawn_app().await.expect("server");
    let attempts = (0..40).map(|n| {
        app.gql(
            None,
            LOGIN,
            json!({ "e": ADMIN_EMAIL, "p": format!("wrong-password-{n}") }),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let limited = answers
        .iter()
        .filter(|a| error_code(a) == Some("RATE_LIMITED"))
        .count();
    let evaluated = answers
        .iter()
        .filter(|a| error_code(a) == Some("UNAUTHENTICATED"))
        .count();
    assert_eq!(evaluated, 5, "exactly the allowed attempts were evaluated");
    assert_eq!(limited, 35);
    app.stop().await;
}

#[tokio::test]
async fn many_accounts_from_one_address_are_throttled_too() {
    let app = spawn_app().await.expect("server");
    let mut limited = None;
    for n in 0..60 {
        let body = app
            .gql(
                None,
                LOGIN,
                json!({ "e": format!("user{n}@spray.example"), "p": "Summer2026!" }),
            )
            .await;
        if error_code(&body) == Some("RATE_LIMITED") {
            limited = Some(n);
            break;
        }
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    }
    assert_eq!(
        limited,
        Some(50),
        "the 51st failure from one address is refused"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_authentication_field_per_request() {
    let app = spawn_app().await.expect("server");
    let sprayed: String = (0..3)
        .map(|n| {
            format!(
                "a{n}: login(email: \"{ADMIN_EMAIL}\", password: \"guess-{n}\") {{ accessToken }} "
            )
        })
        .collect();
    let body = app
        .gql(None, &format!("mutation {{ {sprayed} }}"), json!({}))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "nothing ran: {body}");
    let mixed = "mutation { setPassword(token: \"a\", password: \"violet tractor lagoon\") refreshToken(refreshToken: \"b\") { accessToken } }";
    let body = app.gql(None, mixed, json!({})).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // None of the three guesses was counted, so the right password still works.
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn set_password_checks_the_token_before_anything_else() {
    let app = spawn_app().await.expect("server");
    let body = app
        .gql(
            None,
            "mutation { setPassword(token: \"not-a-token\", password: \"aaaaaaaaaa\") }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("token:"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn weak_passwords_are_refused() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    for weak in [
        "aaaaaaaaaa",
        "password12",
        "priya@firm.example",
        "1234567890",
    ] {
        let body = app
            .gql(
                Some(&admin),
                "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
                json!({ "i": { "email": "priya@firm.example", "displayName": "Priya", "role": "SALES", "password": weak } }),
            )
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{weak}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("password:")),
            "{body}"
        );
    }
    app.stop().await;
}

const ME: &str = "{ me { id role } }";

/// Logs in; returns the access and refresh tokens.
async fn login_pair(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let data = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }",
            json!({ "e": email, "p": password }),
        )
        .await;
    (
        data["login"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned(),
        data["login"]["refreshToken"]
            .as_str()
            .expect("token")
            .to_owned(),
    )
}

#[tokio::test]
async fn ended_sessions_end_their_access_tokens_at_once() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (manager_id, manager) = create_user(&app, &admin, "mira@firm.example", "MANAGER").await;
    assert_eq!(
        app.ok(Some(&manager), ME, json!({})).await["me"]["role"],
        "MANAGER"
    );

    // Nobody changes their own role (the last admin cannot lock everyone out).
    let own = app
        .gql(
            Some(&admin),
            "mutation($u: UUID!) { changeUserRole(userId: $u, role: SALES) { caughtUp } }",
            json!({ "u": app_admin_id(&app, &admin).await }),
        )
        .await;
    assert_eq!(error_code(&own), Some("BAD_USER_INPUT"), "{own}");

    // Demoted: the old token (with the old role) stops at once; a refresh gives the new role.
    let (access, refresh) = login_pair(&app, "mira@firm.example", "a-long-password-1").await;
    app.ok(
        Some(&admin),
        "mutation($u: UUID!) { changeUserRole(userId: $u, role: SALES) { caughtUp } }",
        json!({ "u": manager_id }),
    )
    .await;
    assert_eq!(
        error_code(&app.gql(Some(&access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.gql(Some(&manager), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    let refreshed = app
        .ok(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }",
            json!({ "t": refresh }),
        )
        .await;
    let access = refreshed["refreshToken"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let refresh = refreshed["refreshToken"]["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.ok(Some(&access), ME, json!({})).await["me"]["role"],
        "SALES"
    );

    // Logged out: the access token of that login stops too.
    app.ok(
        None,
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({ "t": refresh }),
    )
    .await;
    assert_eq!(
        error_code(&app.gql(Some(&access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );

    // A password change ends the other logins' refresh tokens; this login refreshes.
    let (this_access, this_refresh) =
        login_pair(&app, "mira@firm.example", "a-long-password-1").await;
    let (other_access, other_refresh) =
        login_pair(&app, "mira@firm.example", "a-long-password-1").await;
    app.ok(
        Some(&this_access),
        "mutation { changePassword(currentPassword: \"a-long-password-1\", newPassword: \"violet tractor lagoon\") }",
        json!({}),
    )
    .await;
    const REFRESH: &str =
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }";
    let other = app.gql(None, REFRESH, json!({ "t": other_refresh })).await;
    assert_eq!(error_code(&other), Some("UNAUTHENTICATED"), "{other}");
    assert_eq!(
        error_code(&app.gql(Some(&other_access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    let this = app.ok(None, REFRESH, json!({ "t": this_refresh })).await;
    let this_access = this["refreshToken"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.ok(Some(&this_access), ME, json!({})).await["me"]["role"],
        "SALES"
    );

    // Deactivated: every token stops.
    app.ok(
        Some(&admin),
        "mutation($u: UUID!) { deactivateUser(userId: $u) { caughtUp } }",
        json!({ "u": manager_id }),
    )
    .await;
    assert_eq!(
        error_code(&app.gql(Some(&this_access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );

    // A second replica hears of it through the database (it learnt the versions at start
    // or by notification, never by a query per request).
    let replica = spawn_app_on(&app.database_url).await.expect("replica");
    assert_eq!(
        error_code(&replica.gql(Some(&this_access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    replica.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn rights_are_checked_before_the_assignee() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let nobody = uuid::Uuid::new_v4();
    let project = uuid::Uuid::new_v4();
    let task = uuid::Uuid::new_v4();
    let queries = [
        "mutation($p: UUID!, $a: UUID!) { addTask(projectId: $p, input: { title: \"x\", assigneeId: $a }) { caughtUp } }",
        "mutation($p: UUID!, $t: UUID!, $a: UUID!) { addSubtask(projectId: $p, taskId: $t, input: { title: \"x\", assigneeId: $a }) { caughtUp } }",
        "mutation($p: UUID!, $t: UUID!, $a: UUID!) { assignTask(projectId: $p, taskId: $t, assigneeId: $a) { caughtUp } }",
    ];
    for query in queries {
        for assignee in [nobody.to_string(), app_admin_id(&app, &admin).await] {
            let variables = json!({ "p": project, "t": task, "a": assignee });
            let body = app.gql(None, query, variables).await;
            assert_eq!(
                error_code(&body),
                Some("UNAUTHENTICATED"),
                "{query}: {body}"
            );
        }
    }
    app.stop().await;
}

async fn app_admin_id(app: &TestApp, admin: &str) -> String {
    app.ok(Some(admin), ME, json!({})).await["me"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}
