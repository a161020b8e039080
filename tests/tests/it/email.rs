//! Email delivery over real SMTP to a server the test starts: messages arrive with their
//! headers and links, refusals are retried then failed, a server that was down gets each
//! queued message once, a crash between sending and recording sends nothing twice to a
//! server that deduplicates on Message-ID, and forgotten passwords are reset by a link.

use std::time::Duration;

use serde_json::{json, Value};
use tests::smtp::SmtpServer;
use tests::*;

/// A server on a fresh database sending to `smtp`, retrying transient failures after 20 ms
/// (doubling) up to `attempts` times.
async fn app_sending_to(smtp: &SmtpServer, attempts: u32) -> TestApp {
    let url = fresh_database().await.expect("database");
    let mut config = config();
    config.storage = api::config::StorageConfig::Local(files_dir(&url));
    config.mail = reactions::mail::MailConfig {
        transport: reactions::mail::MailTransport::Smtp {
            host: "127.0.0.1".into(),
            port: smtp.addr.port(),
            credentials: None,
            tls: reactions::mail::TlsMode::None,
        },
        drain: reactions::courier::Drain {
            attempts,
            backoff: Duration::from_millis(20),
            poll: Duration::from_millis(50),
            ..reactions::courier::Drain::DEFAULT
        },
        ..reactions::mail::MailConfig::directory(mail_dir(&url))
    };
    spawn_app_with(&url, config).await.expect("server")
}

async fn statuses(app: &TestApp) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT status, attempts FROM email_outbox ORDER BY created_at, id")
        .fetch_all(&app.pool)
        .await
        .expect("outbox")
}

/// Queues `n` messages as the other writers of the outbox do.
async fn queue(app: &TestApp, n: usize) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO email_outbox (id, kind, to_address, subject, body) \
             VALUES ($1, 'request_reminder', $2, 'Reminder', 'Upload it in the portal.')",
        )
        .bind(id)
        .bind(format!("person{i}@client.example"))
        .execute(&app.pool)
        .await
        .expect("queued");
        ids.push(id);
    }
    ids
}

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_invitation_arrives_over_smtp_with_its_headers_and_its_link() {
    let smtp = SmtpServer::start().await;
    let app = app_sending_to(&smtp, 5).await;
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Mail Finance", "cfo@mail.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "cfo@mail.example").await;
    eventually("the invitation arrives", || async {
        !smtp.messages().is_empty()
    })
    .await;

    let message = &smtp.messages()[0];
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM email_outbox WHERE kind = 'set_password'")
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!(message.to, ["<cfo@mail.example>"]);
    assert_eq!(message.from, "<no-reply@zippcrm.local>");
    assert_eq!(
        message.message_id.as_deref(),
        Some(format!("<{id}@zippcrm.local>").as_str())
    );
    assert_eq!(
        message.header("Subject"),
        Some("Your ZippCRM portal access")
    );
    assert!(message
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("multipart/alternative")));
    let text = message.text();
    assert!(text.contains("Content-Type: text/plain"));
    assert!(text.contains("Content-Type: text/html"));
    assert!(text.contains("http://portal.test.example/set-password?token="));
    assert!(text.contains("<a href=\"http://portal.test.example/set-password?token="));

    eventually("it is recorded as sent", || async {
        statuses(&app).await == [("sent".to_owned(), 1)]
    })
    .await;
    let listed = app
        .ok(
            Some(&admin),
            "{ emailMessages(filter: { statuses: [SENT], recipient: \"CFO@mail\" }) { totalCount nodes { kind to status attempts sentAt lastError } } }",
            json!({}),
        )
        .await;
    let listed = &listed["emailMessages"];
    assert_eq!(listed["totalCount"], 1);
    assert_eq!(listed["nodes"][0]["kind"], "set_password");
    assert_eq!(listed["nodes"][0]["status"], "SENT");
    assert_eq!(listed["nodes"][0]["lastError"], Value::Null);
    assert!(listed["nodes"][0]["sentAt"].is_string());
}

#[tokio::test]
async fn refusals_are_retried_then_failed_and_an_admin_sends_them_again_or_cancels() {
    let smtp = SmtpServer::start().await;
    let app = app_sending_to(&smtp, 3).await;
    let admin = app.admin().await;
    let (_, consultant) = create_user(&app, &admin, "con@mail.example", "CONSULTANT").await;

    // A temporary refusal: three attempts, then failed with the server's answer.
    smtp.refuse(Some("451 4.7.1 try again later"));
    let [later] = queue(&app, 1).await[..] else {
        panic!("one message")
    };
    eventually("the retries run out", || async {
        statuses(&app).await == [("failed".to_owned(), 3)]
    })
    .await;
    // A permanent one fails at once.
    smtp.refuse(Some("550 5.1.1 no such mailbox"));
    let [never] = queue(&app, 1).await[..] else {
        panic!("one message")
    };
    eventually("it fails at once", || async {
        statuses(&app).await.get(1) == Some(&("failed".to_owned(), 1))
    })
    .await;
    let failed = app
        .ok(
            Some(&admin),
            "{ emailMessages(filter: { statuses: [FAILED] }) { nodes { id attempts lastError } } emailCounts { status messages } }",
            json!({}),
        )
        .await;
    let errors: Vec<&str> = failed["emailMessages"]["nodes"]
        .as_array()
        .map(|n| n.iter().filter_map(|m| m["lastError"].as_str()).collect())
        .unwrap_or_default();
    assert!(errors[0].contains("550"), "{errors:?}");
    assert!(errors[1].contains("451"), "{errors:?}");
    assert_eq!(
        failed["emailCounts"],
        json!([{ "status": "FAILED", "messages": 2 }])
    );
    assert!(smtp.messages().is_empty());

    // An admin sends the first again once the server takes it, and cancels the second.
    smtp.refuse(None);
    let retry = "mutation($id: UUID!) { retryEmail(id: $id) { status attempts } }";
    let cancel = "mutation($id: UUID!) { cancelEmail(id: $id) { status decidedBy } }";
    let forbidden = app
        .gql(Some(&consultant), retry, json!({ "id": later }))
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
    let retried = app.ok(Some(&admin), retry, json!({ "id": later })).await;
    assert_eq!(
        retried["retryEmail"],
        json!({ "status": "QUEUED", "attempts": 0 })
    );
    let cancelled = app.ok(Some(&admin), cancel, json!({ "id": never })).await;
    assert_eq!(cancelled["cancelEmail"]["status"], "CANCELLED");
    eventually("the retried message arrives", || async {
        smtp.messages().len() == 1
    })
    .await;
    eventually("it is recorded as sent", || async {
        statuses(&app).await[0] == ("sent".to_owned(), 1)
    })
    .await;
    let again = app.gql(Some(&admin), cancel, json!({ "id": later })).await;
    assert_eq!(
        code(&again),
        "BAD_USER_INPUT",
        "a sent message is not cancelled"
    );
    let unknown = app
        .gql(Some(&admin), retry, json!({ "id": uuid::Uuid::nil() }))
        .await;
    assert_eq!(code(&unknown), "NOT_FOUND");
    assert_eq!(statuses(&app).await[1].0, "cancelled");
    assert_eq!(smtp.deliveries(), 1, "a cancelled message is never sent");
}

#[tokio::test]
async fn a_server_that_was_down_gets_each_queued_message_once_when_it_is_back() {
    let mut smtp = SmtpServer::start().await;
    let app = app_sending_to(&smtp, 1_000).await;
    smtp.stop();
    let ids = queue(&app, 5).await;
    eventually("every message was tried and kept", || async {
        statuses(&app)
            .await
            .iter()
            .all(|(status, attempts)| status == "queued" && *attempts >= 2)
    })
    .await;
    smtp.resume().await;
    eventually("every message is sent", || async {
        statuses(&app)
            .await
            .iter()
            .all(|(status, _)| status == "sent")
    })
    .await;
    assert_eq!(smtp.deliveries(), 5, "each once");
    let mut received: Vec<String> = smtp
        .messages()
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    received.sort();
    let mut expected: Vec<String> = ids
        .iter()
        .map(|id| format!("<{id}@zippcrm.local>"))
        .collect();
    expected.sort();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn a_crash_between_sending_and_recording_sends_nothing_twice_to_a_deduplicating_server() {
    let smtp = SmtpServer::start().await;
    let app = app_sending_to(&smtp, 5).await;
    let ids = queue(&app, 3).await;
    eventually("all three are sent", || async {
        statuses(&app)
            .await
            .iter()
            .all(|(status, _)| status == "sent")
    })
    .await;
    // As a sender that died after the server accepted the first message and before it
    // recorded that: the claim stays, long past its lease.
    sqlx::query(
        "UPDATE email_outbox SET status = 'sending', sent_at = NULL, claimed_at = now() - interval '1 hour' \
          WHERE id = $1",
    )
    .bind(ids[0])
    .execute(&app.pool)
    .await
    .expect("crashed claim");
    eventually("the claim is taken again and settled", || async {
        statuses(&app).await[0] == ("sent".to_owned(), 2)
    })
    .await;
    assert_eq!(smtp.deliveries(), 4, "sent again, with the same Message-ID");
    assert_eq!(
        smtp.messages().len(),
        3,
        "so the server keeps each message once"
    );
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_a_one_time_link_that_ends_other_sessions() {
    let smtp = SmtpServer::start().await;
    let app = app_sending_to(&smtp, 5).await;
    let admin = app.admin().await;
    create_user(&app, &admin, "forgot@mail.example", "CONSULTANT").await;
    let login =
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { refreshToken } }";
    let session = app
        .ok(
            None,
            login,
            json!({ "e": "forgot@mail.example", "p": "a-long-password-1" }),
        )
        .await["login"]["refreshToken"]
        .clone();

    let ask = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    for email in [
        "nobody@mail.example",
        "forgot@mail.example",
        "FORGOT@mail.example",
    ] {
        let answer = app.ok(None, ask, json!({ "e": email })).await;
        assert_eq!(
            answer["requestPasswordReset"], true,
            "the same answer for {email}"
        );
    }
    eventually("the link arrives", || async { !smtp.messages().is_empty() }).await;
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'password_reset'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(
        queued, 1,
        "one link, and none for an address without an account"
    );
    let text = smtp.messages()[0].text();
    let token = text
        .split("set-password?token=")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .expect("a link");
    assert_eq!(token.len(), 64);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM password_tokens WHERE token_hash = $1")
            .bind(&token)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "the token is stored hashed");

    let set = "mutation($t: String!, $p: String!) { setPassword(token: $t, password: $p) }";
    app.ok(
        None,
        set,
        json!({ "t": token, "p": "another-long-password-9" }),
    )
    .await;
    let reused = app
        .gql(
            None,
            set,
            json!({ "t": token, "p": "yet-another-password-7" }),
        )
        .await;
    assert_eq!(code(&reused), "BAD_USER_INPUT", "the link works once");
    let refreshed = app
        .gql(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": session }),
        )
        .await;
    assert_eq!(code(&refreshed), "UNAUTHENTICATED", "other sessions ended");
    app.login("forgot@mail.example", "another-long-password-9")
        .await;
}

#[tokio::test]
async fn a_reset_request_is_answered_before_the_account_is_looked_up_and_throttled_per_address() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    create_user(&app, &admin, "known@mail.example", "CONSULTANT").await;
    let ask = "mutation($e: String!) { requestPasswordReset(email: $e) }";

    // While nothing can be queued, an address with an account is answered as one without:
    // the answer does not wait for the lookup and the queueing it leads to.
    let mut lock = app.pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE email_outbox IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    for email in ["known@mail.example", "unknown@mail.example"] {
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            app.ok(None, ask, json!({ "e": email })),
        )
        .await
        .unwrap_or_else(|_| panic!("{email}: the answer waited for the account's link"));
        assert_eq!(answer["requestPasswordReset"], true, "{email}");
    }
    lock.commit().await.expect("unlock");
    let queued = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT to_address FROM email_outbox WHERE kind = 'password_reset'",
        )
        .fetch_all(&app.pool)
        .await
        .expect("outbox")
    };
    eventually("the known address's link is queued", || async {
        !queued().await.is_empty()
    })
    .await;
    assert_eq!(queued().await, ["known@mail.example"]);

    // Twenty requests from one address in the window, then RATE_LIMITED, known or not.
    for n in 3..=api::auth::throttle::MAX_RESET_REQUESTS {
        let email = format!("someone-{n}@mail.example");
        app.ok(None, ask, json!({ "e": email })).await;
    }
    for email in ["known@mail.example", "another@mail.example"] {
        let limited = app.gql(None, ask, json!({ "e": email })).await;
        assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
    }
}

#[tokio::test]
async fn without_an_smtp_server_development_writes_each_message_to_the_mail_directory() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Dir Finance", "cfo@dir.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "cfo@dir.example").await;
    let dir = mail_dir(&app.database_url);
    let written = || {
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    eventually("the invitation is written", || async {
        !written().is_empty()
    })
    .await;
    let file = tests::smtp::Received {
        from: String::new(),
        to: Vec::new(),
        data: written()[0].clone(),
        message_id: None,
    };
    assert!(file
        .text()
        .contains("http://portal.test.example/set-password?token="));
}

#[tokio::test]
async fn muted_kinds_stay_in_the_app_and_a_digest_replaces_single_emails() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let mut people = Vec::new();
    for name in ["muted", "digest", "plain"] {
        people
            .push(create_user(&app, &admin, &format!("{name}@prefs.example"), "CONSULTANT").await);
    }
    let set = "mutation($m: [String!]!, $d: Boolean!) { setNotificationPreferences(emailMuted: $m, digest: $d) { emailMuted digest } }";
    let unknown = app
        .gql(
            Some(&people[0].1),
            set,
            json!({ "m": ["gossip"], "d": false }),
        )
        .await;
    assert_eq!(code(&unknown), "BAD_USER_INPUT");
    let muted = app
        .ok(
            Some(&people[0].1),
            set,
            json!({ "m": ["task_assigned", "task_assigned"], "d": false }),
        )
        .await;
    assert_eq!(
        muted["setNotificationPreferences"],
        json!({ "emailMuted": ["task_assigned"], "digest": false })
    );
    app.ok(Some(&people[1].1), set, json!({ "m": [], "d": true }))
        .await;
    let shown = app
        .ok(
            Some(&people[1].1),
            "{ notificationPreferences { digest kinds } }",
            json!({}),
        )
        .await;
    assert_eq!(shown["notificationPreferences"]["digest"], true);
    assert!(shown["notificationPreferences"]["kinds"]
        .as_array()
        .is_some_and(|k| k.contains(&json!("task_assigned"))));

    let lead = capture_lead(&app, &admin, "Prefs Finance", "cfo@prefs.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "cfo@prefs.example").await;
    for (id, _) in &people {
        app.ok(
            Some(&admin),
            "mutation($p: UUID!, $a: UUID!) { addTask(projectId: $p, input: { title: \"Board resolution\", assigneeId: $a }) { caughtUp } }",
            json!({ "p": project, "a": id }),
        )
        .await;
    }
    app.settled().await;
    for (_, token) in &people {
        let notes = app
            .ok(Some(token), "{ notifications { kind } }", json!({}))
            .await;
        assert_eq!(
            notes["notifications"],
            json!([{ "kind": "task_assigned" }]),
            "in the app, whatever the preferences"
        );
    }
    let emailed: Vec<String> = sqlx::query_scalar(
        "SELECT to_address FROM email_outbox WHERE kind = 'task_assigned' ORDER BY to_address",
    )
    .fetch_all(&app.pool)
    .await
    .expect("outbox");
    assert_eq!(emailed, ["plain@prefs.example"]);

    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let pass = reactions::scheduler::run_once(&app.state.bus, &app.pool, tomorrow)
        .await
        .expect("pass");
    assert_eq!(pass.digests_queued, 1);
    let again = reactions::scheduler::run_once(&app.state.bus, &app.pool, tomorrow)
        .await
        .expect("pass");
    assert_eq!(again.digests_queued, 0, "one digest a day");
    let (to, body): (String, String) =
        sqlx::query_as("SELECT to_address, body FROM email_outbox WHERE kind = 'digest'")
            .fetch_one(&app.pool)
            .await
            .expect("digest");
    assert_eq!(to, "digest@prefs.example");
    assert!(
        body.contains("You were assigned: Board resolution"),
        "{body}"
    );
    assert_rebuild_equals_live(&app, "notifications").await;
}
