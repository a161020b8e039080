//! The `zippcrm-replay` binary, run as an operator would: against a database a real server
//! has written, with exit codes checked.

use std::process::{Command, Output};

use serde_json::json;
use tests::*;

fn replay(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zippcrm-replay"))
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .output()
        .expect("zippcrm-replay runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

// Multi-threaded: `replay` blocks its thread while the binary runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_verify_rebuild_and_history_work_and_fail_clearly() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Heron Securities", "desk@heron.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "portal@heron.example").await;
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { addLeadNote(id: $id, body: \"kick-off booked\") { caughtUp } }",
        json!({ "id": lead }),
    )
    .await;
    let url = app.database_url.clone();
    app.stop().await;

    let status = replay(&url, &["status"]);
    assert!(status.status.success(), "{}", text(&status));
    for name in [
        "leads",
        "clients",
        "projects",
        "users",
        "templates",
        "portal-access",
    ] {
        assert!(text(&status).contains(name), "{}", text(&status));
    }

    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));

    // A reactor moved back reacts again from there; one that does not exist is named.
    let moved = replay(
        &url,
        &[
            "reactor-start",
            "--reactor",
            "portal-access",
            "--position",
            "0",
        ],
    );
    assert!(moved.status.success(), "{}", text(&moved));
    let position: i64 = sqlx::query_scalar(
        "SELECT last_position FROM projection_checkpoints WHERE name = 'portal-access'",
    )
    .fetch_one(&sqlx::PgPool::connect(&url).await.expect("pool"))
    .await
    .expect("checkpoint");
    assert_eq!(position, 0);
    let unknown = replay(
        &url,
        &["reactor-start", "--reactor", "no-such", "--position", "0"],
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("portal-access"),
        "{}",
        text(&unknown)
    );

    let rebuild = replay(&url, &["rebuild", "--all"]);
    assert!(rebuild.status.success(), "{}", text(&rebuild));
    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "after rebuild: {}", text(&verify));

    let history = replay(&url, &["history", "--type", "Lead", "--id", &lead]);
    assert!(history.status.success(), "{}", text(&history));
    assert!(
        text(&history).contains("LeadCaptured"),
        "{}",
        text(&history)
    );
    assert!(
        text(&history).contains("kick-off booked"),
        "{}",
        text(&history)
    );

    // A tampered read model is a difference: verify exits non-zero and names the table.
    let pool = sqlx::PgPool::connect(&url).await.expect("pool");
    sqlx::query("UPDATE lead_view SET company = 'Tampered' WHERE id = $1::uuid")
        .bind(&lead)
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;
    let verify = replay(&url, &["verify"]);
    assert!(!verify.status.success(), "tampering must be found");
    assert!(text(&verify).contains("lead_view"), "{}", text(&verify));
    // A rebuild repairs it.
    let rebuild = replay(&url, &["rebuild", "--projection", "leads"]);
    assert!(rebuild.status.success(), "{}", text(&rebuild));
    assert!(replay(&url, &["verify"]).status.success());

    // Operator mistakes: clear messages, non-zero exits.
    let unknown = replay(&url, &["rebuild", "--projection", "nope"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("nope"), "{}", text(&unknown));
    let (prefix, _) = url.rsplit_once('/').expect("path");
    let missing = replay(&format!("{prefix}/no_such_database"), &["status"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).to_lowercase().contains("database"),
        "{}",
        text(&missing)
    );
}

// Multi-threaded: `replay` blocks its thread while the binary runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_after_a_delivery_workload_and_rebuild_keeps_it_equal() {
    let app = spawn_app().await.expect("server");
    let firm = tests::delivery::firm(&app).await;
    tests::delivery::workload(&app, &firm).await;
    let url = app.database_url.clone();
    app.stop().await;

    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
    let rebuild = replay(&url, &["rebuild", "--all"]);
    assert!(rebuild.status.success(), "{}", text(&rebuild));
    let verify = replay(&url, &["verify"]);
    assert!(verify.status.success(), "after rebuild: {}", text(&verify));
    let history = replay(
        &url,
        &["history", "--type", "Project", "--id", &firm.project_a],
    );
    assert!(
        text(&history).contains("TaskRolledUp"),
        "{}",
        text(&history)
    );
}
