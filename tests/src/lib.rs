//! Test harness: a private PostgreSQL per test process, a fresh database per test, and the
//! real server on port 0 (`spawn_app`), driven over HTTP.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::net::TcpListener;

pub mod delivery;
pub mod introspection;
pub mod proxy;
pub mod receiver;
pub mod smtp;
pub mod ws;

/// Admin credentials every test server is started with.
pub const ADMIN_EMAIL: &str = "admin@test.example";
/// Admin password.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// JWT secret shared by the servers of one test.
pub const JWT_SECRET: &str = "k3J9x!q2Lm8#Vb7&Pz4@Wd6^Rt1*Yh5%-test";

static SERVER: OnceLock<Result<(Option<devdb::LocalPostgres>, String), String>> = OnceLock::new();

/// URL of the `postgres` database of the test server (`TEST_DATABASE_URL` or a private one).
pub fn server_url() -> Result<String> {
    let entry = SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            return Ok((None, url));
        }
        let dir = std::env::temp_dir().join(format!("zippcrm-test-pg-{}", std::process::id()));
        devdb::LocalPostgres::start(&dir, devdb::Keep::Nothing)
            .map(|pg| {
                let url = pg.url("postgres");
                (Some(pg), url)
            })
            .map_err(|e| format!("{e:#}"))
    });
    match entry {
        Ok((_, url)) => Ok(url.clone()),
        Err(error) => anyhow::bail!("could not start the test PostgreSQL: {error}"),
    }
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> Result<String> {
    let base = server_url()?;
    let name = format!("zippcrm_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPool::connect(&base)
        .await
        .context("connecting to the test server")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let (prefix, _) = base
        .rsplit_once('/')
        .context("database URL without a path")?;
    Ok(format!("{prefix}/{name}"))
}

/// A running server.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Pool on the same database.
    pub pool: PgPool,
    pub database_url: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The server's shared state (its command bus, for the scheduler tests).
    pub state: api::state::AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Largest upload the test servers accept.
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024;

/// The evidence directory of the servers on `database_url` (replicas share it).
pub fn files_dir(database_url: &str) -> std::path::PathBuf {
    let name = database_url.rsplit('/').next().unwrap_or("default");
    std::env::temp_dir().join("zippcrm-test-files").join(name)
}

/// The directory the servers on `database_url` write emails to when no SMTP server is set.
pub fn mail_dir(database_url: &str) -> std::path::PathBuf {
    let name = database_url.rsplit('/').next().unwrap_or("default");
    std::env::temp_dir().join("zippcrm-test-mail").join(name)
}

/// Server configuration for tests.
pub fn config() -> api::Config {
    api::Config {
        database_url: None,
        bind_addr: "127.0.0.1:0".parse().expect("address"),
        portal_url: "http://portal.test.example".into(),
        production: false,
        jwt_secret: JWT_SECRET.into(),
        admin: Some((ADMIN_EMAIL.into(), ADMIN_PASSWORD.into())),
        data_dir: String::new(),
        read_your_writes_timeout: Duration::from_secs(10),
        pool_size: 20,
        json_logs: false,
        storage: api::config::StorageConfig::Local(std::env::temp_dir().join("zippcrm-test-files")),
        max_upload_bytes: MAX_UPLOAD_BYTES,
        scheduler_enabled: false,
        scheduler_interval: Duration::from_secs(3600),
        client_ip_header: None,
        // Failing reactions retry fast and park after three attempts.
        reactors: reactions::runner::ReactorConfig {
            attempts: 3,
            backoff: Duration::from_millis(20),
            ..Default::default()
        },
        mail: reactions::mail::MailConfig::directory(
            std::env::temp_dir().join("zippcrm-test-mail"),
        ),
        // Receivers in the tests listen on loopback; failing deliveries retry fast.
        webhooks: reactions::webhooks::WebhookConfig {
            addresses: reactions::webhooks::AddressPolicy {
                allow: reactions::webhooks::parse_allow("127.0.0.1").expect("loopback"),
            },
            drain: reactions::courier::Drain {
                backoff: Duration::from_millis(20),
                poll: Duration::from_millis(50),
                ..reactions::webhooks::WebhookConfig::default().drain
            },
            ..Default::default()
        },
        whatsapp: None,
    }
}

/// Starts a server on a fresh database.
pub async fn spawn_app() -> Result<TestApp> {
    let url = fresh_database().await?;
    spawn_app_on(&url).await
}

/// Starts a server on an existing database (a second replica, for example).
pub async fn spawn_app_on(url: &str) -> Result<TestApp> {
    let mut config = config();
    config.storage = api::config::StorageConfig::Local(files_dir(url));
    config.mail = reactions::mail::MailConfig::directory(mail_dir(url));
    spawn_app_with(url, config).await
}

/// Starts a server on an existing database with `config`.
pub async fn spawn_app_with(url: &str, config: api::Config) -> Result<TestApp> {
    let server = api::Server::build(&config, url).await?;
    let pool = server.state().pool.clone();
    let state = server.state().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = server
            .serve(listener, async move {
                let _ = signal.await;
            })
            .await;
    });
    Ok(TestApp {
        address,
        pool,
        database_url: url.to_owned(),
        http: reqwest::Client::new(),
        state,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

impl TestApp {
    /// Posts a GraphQL request and returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        response.json().await.expect("JSON response")
    }

    /// Posts a request that must succeed and returns its `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let data = self
            .ok(None, "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", json!({ "e": email, "p": password }))
            .await;
        data["login"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// The admin's access token.
    pub async fn admin(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Waits until every projection and reactor has passed the end of the log, including the
    /// events the reactors appended on the way: everything the actions so far cause is done.
    pub async fn settled(&self) {
        let notices = &self.state.notices;
        for _ in 0..20 {
            let Some(head) = projections::wait::log_head(&self.pool)
                .await
                .expect("log head")
            else {
                return;
            };
            let names: Vec<String> = sqlx::query_scalar("SELECT name FROM projection_checkpoints")
                .fetch_all(&self.pool)
                .await
                .expect("checkpoints");
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let passed = projections::wait::wait_for(
                &self.pool,
                notices,
                &names,
                head,
                Duration::from_secs(20),
            )
            .await
            .expect("wait");
            assert!(passed, "projections and reactors did not pass {head:?}");
            let now = projections::wait::log_head(&self.pool)
                .await
                .expect("log head");
            if now == Some(head) {
                return;
            }
        }
        panic!("the log kept growing while settling");
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The fields of the GraphQL object type `type_name` that take no arguments, each as a
/// selection: a scalar or enum by its name, an object (or a list of them) as `name { id }`.
/// For tests that select fields one at a time, so a field added later is covered too.
pub async fn field_selections(app: &TestApp, token: &str, type_name: &str) -> Vec<String> {
    let data = app
        .ok(
            Some(token),
            "query($t: String!) { __type(name: $t) { fields { name args { name } type { kind ofType { kind ofType { kind ofType { kind } } } } } } }",
            json!({ "t": type_name }),
        )
        .await;
    let fields = data["__type"]["fields"]
        .as_array()
        .expect("the type's fields");
    fields
        .iter()
        .filter(|f| f["args"].as_array().is_none_or(Vec::is_empty))
        .map(|f| {
            let name = f["name"].as_str().expect("field name");
            let mut kind = &f["type"];
            while matches!(kind["kind"].as_str(), Some("NON_NULL" | "LIST")) {
                kind = &kind["ofType"];
            }
            match kind["kind"].as_str() {
                Some("OBJECT") => format!("{name} {{ id }}"),
                _ => name.to_owned(),
            }
        })
        .collect()
}

/// The first error's `extensions.code`.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Captures a lead and returns its id.
pub async fn capture_lead(app: &TestApp, token: &str, company: &str, email: &str) -> String {
    let data = app
        .ok(
            Some(token),
            "mutation($i: CaptureLeadInputGql!) { captureLead(input: $i) { caughtUp lead { id stage } } }",
            json!({ "i": { "company": company, "contactName": "Asha Rao", "email": email, "phone": "+91 98200 12345",
                           "source": "WEBSITE", "serviceInterest": "RBI NBFC registration" } }),
        )
        .await;
    assert_eq!(data["captureLead"]["caughtUp"], true);
    data["captureLead"]["lead"]["id"]
        .as_str()
        .expect("lead id")
        .to_owned()
}

/// Moves a lead to Won.
pub async fn win_lead(app: &TestApp, token: &str, id: &str) {
    app.ok(
        Some(token),
        "mutation($id: UUID!) { moveLeadStage(id: $id, stage: PROPOSAL) { caughtUp } }",
        json!({ "id": id }),
    )
    .await;
    app.ok(
        Some(token),
        "mutation($id: UUID!) { markLeadWon(id: $id) { caughtUp } }",
        json!({ "id": id }),
    )
    .await;
}

/// Converts a won lead with an RBI project; returns (client id, project id).
pub async fn convert_with_project(
    app: &TestApp,
    token: &str,
    lead_id: &str,
    email: &str,
) -> (String, String) {
    let templates = app
        .ok(
            Some(token),
            "{ workflowTemplates { id family } }",
            json!({}),
        )
        .await;
    let rbi = templates["workflowTemplates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["family"] == "RBI"))
        .expect("RBI template seeded")["id"]
        .clone();
    let data = app
        .ok(
            Some(token),
            "mutation($i: ConvertLeadInput!) { convertLead(input: $i) { caughtUp client { id } project { id currentStage } } }",
            json!({ "i": { "leadId": lead_id, "primaryContact": { "email": email }, "project": { "templateId": rbi, "name": "NBFC registration" } } }),
        )
        .await;
    assert_eq!(data["convertLead"]["caughtUp"], true, "{data}");
    (
        data["convertLead"]["client"]["id"]
            .as_str()
            .expect("client")
            .to_owned(),
        data["convertLead"]["project"]["id"]
            .as_str()
            .expect("project")
            .to_owned(),
    )
}

/// Reads the set-password token queued for `email` and sets `password`; returns a login token.
pub async fn activate_portal_user(app: &TestApp, email: &str, password: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM email_outbox WHERE to_address = $1 AND kind = 'set_password'",
    )
    .bind(email)
    .fetch_one(&app.pool)
    .await
    .expect("invitation queued");
    let token = body
        .split("token=")
        .nth(1)
        .expect("token in link")
        .split_whitespace()
        .next()
        .expect("token")
        .to_owned();
    app.ok(
        None,
        "mutation($t: String!, $p: String!) { setPassword(token: $t, password: $p) }",
        json!({ "t": token, "p": password }),
    )
    .await;
    app.login(email, password).await
}

/// Creates an internal user with `role` (e.g. "MANAGER") and returns (user id, access token).
pub async fn create_user(app: &TestApp, admin: &str, email: &str, role: &str) -> (String, String) {
    let data = app
        .ok(
            Some(admin),
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": { "email": email, "displayName": email, "role": role, "password": "a-long-password-1" } }),
        )
        .await;
    let id = data["createUser"]["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    (id, app.login(email, "a-long-password-1").await)
}

/// Uploads `bytes` as `name` (`media_type`) for a document request; returns (HTTP status,
/// JSON body).
pub async fn upload(
    app: &TestApp,
    token: &str,
    request_id: &str,
    name: &str,
    media_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let path = format!("/files/requests/{request_id}");
    post_file(app, token, &path, name, media_type, bytes).await
}

/// Posts `bytes` as the `file` part `name` (`media_type`) to `path`; returns (HTTP status,
/// JSON body).
pub async fn post_file(
    app: &TestApp,
    token: &str,
    path: &str,
    name: &str,
    media_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(media_type)
        .expect("media type");
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = app
        .http
        .post(format!("{}{path}", app.address))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A small valid PDF body.
pub fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% {text}\n%%EOF\n").into_bytes()
}

/// Raises a document request on `item_key` of `stage` (e.g. "ONBOARDING"); returns its id.
pub async fn raise_request(
    app: &TestApp,
    token: &str,
    project_id: &str,
    stage: &str,
    item_key: &str,
) -> String {
    let data = app
        .ok(
            Some(token),
            "mutation($p: UUID!, $i: RaiseDocumentRequestInput!) { raiseDocumentRequest(projectId: $p, input: $i) { createdId caughtUp } }",
            json!({ "p": project_id, "i": { "stage": stage, "itemKey": item_key, "instructions": format!("Please upload: {item_key}") } }),
        )
        .await;
    data["raiseDocumentRequest"]["createdId"]
        .as_str()
        .expect("request id")
        .to_owned()
}

/// Every row of `table` as JSON text, in one order: for comparing a read model before and
/// after a rebuild.
pub async fn dump(pool: &sqlx::PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT row_to_json(t)::text FROM {table} t ORDER BY 1"
    ))
    .fetch_all(pool)
    .await
    .expect("dump")
}

/// Rebuilds projection `name` and asserts that every one of its tables holds the same rows
/// as the live read model did.
pub async fn assert_rebuild_equals_live(app: &TestApp, name: &str) {
    let projection = projections::by_name(name).expect("a projection of that name");
    let mut before = Vec::new();
    for table in projection.tables() {
        before.push(dump(&app.pool, table).await);
    }
    projections::rebuild::rebuild(&app.pool, projection.as_ref(), &|_| {})
        .await
        .expect("rebuild");
    for (table, before) in projection.tables().iter().zip(before) {
        assert_eq!(
            dump(&app.pool, table).await,
            before,
            "{table} changed in the rebuild"
        );
    }
}

/// A team of the first department named `name`, with `members` (user id, whether they
/// manage it); returns its id.
pub async fn team(app: &TestApp, admin: &str, name: &str, members: &[(&str, bool)]) -> Value {
    let departments = app
        .ok(Some(admin), "{ departments { id } }", json!({}))
        .await;
    let team = app
        .ok(
            Some(admin),
            "mutation($n: String!, $d: UUID!) { createTeam(input: { name: $n, departmentId: $d }) { team { id } } }",
            json!({ "n": name, "d": departments["departments"][0]["id"] }),
        )
        .await["createTeam"]["team"]["id"]
        .clone();
    for (user, manager) in members {
        app.ok(
            Some(admin),
            "mutation($t: UUID!, $u: UUID!, $m: Boolean) { addTeamMember(teamId: $t, userId: $u, manager: $m) { caughtUp } }",
            json!({ "t": team, "u": user, "m": manager }),
        )
        .await;
    }
    team
}

/// Waits (bounded) until `check` holds, reading its state anew each time: for effects
/// outside the log (a message on a socket, a row a courier writes) that no checkpoint
/// announces.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
