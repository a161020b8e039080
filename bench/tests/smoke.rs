//! The harness cannot rot: a tiny run of every scenario must produce figures. This checks
//! that figures exist and are positive, never how fast anything is.

use std::process::Command;

#[test]
fn a_smoke_run_produces_every_figure() {
    let json =
        std::env::temp_dir().join(format!("zippcrm-bench-smoke-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_zippcrm-bench"))
        .args(["--size", "smoke", "--json"])
        .arg(&json)
        .env_remove("BENCH_DATABASE_URL")
        .output()
        .expect("zippcrm-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "zippcrm-bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for scenario in [
        "write",
        "freshness",
        "memory",
        "read",
        "audit",
        "rebuild",
        "ingest",
        "statement",
        "email drain",
        "webhook fan-out",
    ] {
        assert!(
            stdout.contains(scenario),
            "no {scenario} line in:\n{stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON report written")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    let positive = |path: &[&str]| {
        let value = path.iter().fold(&report, |v, k| &v[*k]);
        assert!(
            value.as_f64().is_some_and(|x| x > 0.0),
            "{path:?} = {value}"
        );
    };
    positive(&["write", "server", "per_second"]);
    positive(&["write", "baseline", "per_second"]);
    positive(&["write", "server", "p99_ms"]);
    positive(&["read", "server", "per_second"]);
    positive(&["read", "baseline", "per_second"]);
    positive(&["read", "graphql_floor", "per_second"]);
    positive(&["audit", "figures", "project_as_of", "p50_ms"]);
    positive(&["audit", "figures", "history", "p50_ms"]);
    positive(&["audit", "figures", "raw_fetch", "p50_ms"]);
    positive(&["rebuild", "events_per_second"]);
    positive(&["rebuild", "baseline_events_per_second"]);
    positive(&["memory", "peak_rss_kib"]);
    positive(&["effort", "logged_per_second"]);
    positive(&["effort", "raw_per_second"]);
    positive(&["email", "drained_per_second"]);
    positive(&["email", "raw_per_second"]);
    positive(&["webhooks", "delivery", "p50_ms"]);
    positive(&["webhooks", "raw", "p50_ms"]);
    assert_eq!(
        report["webhooks"]["distinct"], 300,
        "each of 100 events to 3 endpoints"
    );
    positive(&["effort", "statement_read", "p50_ms"]);
    positive(&["effort", "raw_sum", "p50_ms"]);
    assert_eq!(report["effort"]["repeat_events_added"], 0);
    assert_eq!(report["effort"]["repeat_all_marked"], true);
    assert!(
        report["freshness"]["lag"]["leads"]["events"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "no freshness figures: {}",
        report["freshness"]
    );
    assert_eq!(report["freshness"]["notes_missing"], 0);
}
