//! `zippcrm-bench`: ZippCRM's performance suite. Each scenario runs beside a baseline
//! measured in the same run, and is reported as a ratio; see docs/PERFORMANCE.md.
//!
//! `zippcrm-bench --size quick` (the default) finishes in a few minutes; `--size full` uses
//! the sizes of the targets; `--size smoke` is the test suite's check that the harness works.

mod cpu;
mod effort;
mod mail;
mod scenarios;
mod seed;
mod server;
mod stats;
mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use scenarios::Api;
use stats::ratio;

/// mimalloc returns freed pages to the system; glibc's malloc kept the freed heap of a
/// catch-up fold (ADR 0006).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "zippcrm-bench",
    about = "ZippCRM benchmarks with same-run baselines"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Data sizes.
    #[arg(long, value_enum, default_value_t = Size::Quick)]
    size: Size,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/zippcrm-bench.json")]
    json: PathBuf,
    /// A PostgreSQL server to use (URL of a database the bench may create databases from);
    /// without it the bench starts a private one.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Keep the bench database afterwards (with --database-url), to inspect or profile it.
    #[arg(long, requires = "database_url")]
    keep: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server under test (started by the bench itself).
    #[command(hide = true)]
    Serve,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Size {
    /// Tiny: checks the harness, measures nothing meaningful.
    Smoke,
    /// Minutes.
    Quick,
    /// The sizes of the targets.
    Full,
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Sizes {
    leads: u64,
    owners: usize,
    write_ops: usize,
    write_clients: usize,
    read_ops: usize,
    read_clients: usize,
    audit_events: usize,
    audit_reps: usize,
    rebuild_events: usize,
    effort: effort::EffortSizes,
    emails: usize,
    webhook_events: usize,
}

impl Size {
    fn sizes(self) -> Sizes {
        match self {
            Size::Smoke => Sizes {
                leads: 300,
                owners: 3,
                write_ops: 96,
                write_clients: 32,
                read_ops: 48,
                read_clients: 16,
                audit_events: 300,
                audit_reps: 3,
                rebuild_events: 3_000,
                effort: effort::EffortSizes {
                    entries: 500,
                    consultants: 5,
                    days: 14,
                    statement_reads: 3,
                },
                emails: 100,
                webhook_events: 100,
            },
            Size::Quick => Sizes {
                leads: 20_000,
                owners: 20,
                write_ops: 4_000,
                write_clients: 32,
                read_ops: 2_000,
                read_clients: 16,
                audit_events: 2_000,
                audit_reps: 30,
                rebuild_events: 200_000,
                effort: effort::EffortSizes {
                    entries: 10_000,
                    consultants: 20,
                    days: 70,
                    statement_reads: 20,
                },
                emails: 2_000,
                webhook_events: 2_000,
            },
            Size::Full => Sizes {
                leads: 100_000,
                owners: 50,
                write_ops: 20_000,
                write_clients: 32,
                read_ops: 10_000,
                read_clients: 16,
                audit_events: 2_000,
                audit_reps: 100,
                rebuild_events: 1_000_000,
                effort: effort::EffortSizes {
                    entries: 100_000,
                    consultants: 50,
                    days: 280,
                    statement_reads: 50,
                },
                emails: 10_000,
                webhook_events: 10_000,
            },
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Some(Command::Serve) => runtime.block_on(server::serve()),
        None => runtime.block_on(run(cli)),
    }
}

/// One line of the table.
struct Line {
    scenario: &'static str,
    measured: String,
    baseline: String,
    ratio: Option<f64>,
    target: &'static str,
    met: bool,
}

async fn run(cli: Cli) -> Result<()> {
    let sizes = cli.size.sizes();
    let work = std::env::temp_dir().join(format!("zippcrm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut private = None;
    let admin_url = match &cli.database_url {
        Some(url) => url.clone(),
        None => {
            let pg = devdb::LocalPostgres::start(&work.join("pg"), devdb::Keep::Nothing)?;
            let url = pg.url("postgres");
            private = Some(pg);
            url
        }
    };
    let database = format!("zippcrm_bench_{}", Uuid::new_v4().simple());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&admin)
        .await?;
    let (prefix, _) = admin_url
        .rsplit_once('/')
        .context("database URL without a path")?;
    let url = format!("{prefix}/{database}");

    let result = measure(&url, &work, sizes, cli.size).await;

    if cli.keep {
        eprintln!("kept the bench database: {url}");
    } else {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&admin)
            .await?;
    }
    admin.close().await;
    if let Some(mut pg) = private {
        pg.stop();
    }
    let _ = std::fs::remove_dir_all(&work);
    let (lines, report) = result?;
    print_table(&lines);
    print_cpu(&report);
    if let Some(dir) = cli.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&cli.json, serde_json::to_string_pretty(&report)?)?;
    println!("\nJSON report: {}", cli.json.display());
    Ok(())
}

fn ms(x: f64) -> String {
    format!("{x:.1} ms")
}

fn print_table(lines: &[Line]) {
    println!(
        "\n{:<22} {:<38} {:<30} {:>7}  {:<26} met",
        "scenario", "measured", "baseline (same run)", "ratio", "target"
    );
    for l in lines {
        println!(
            "{:<22} {:<38} {:<30} {:>7}  {:<26} {}",
            l.scenario,
            l.measured,
            l.baseline,
            l.ratio.map_or("-".into(), |r| format!("{r:.2}")),
            l.target,
            if l.met { "yes" } else { "NO" }
        );
    }
}

/// CPU per operation by process, for the scenarios with concurrent clients: where a ratio's
/// two sides spend the machine's two cores.
fn print_cpu(report: &Value) {
    println!(
        "\n{:<22} {:>10} {:>10} {:>10}   (CPU ms per operation)",
        "scenario", "server", "bench", "rest"
    );
    for (name, path) in [
        ("write", "/write/server"),
        ("write baseline", "/write/baseline"),
        ("read", "/read/server"),
        ("read baseline", "/read/baseline"),
        ("read floor", "/read/graphql_floor"),
    ] {
        let Some(cpu) = report.pointer(&format!("{path}/cpu")) else {
            continue;
        };
        let field = |f: &str| cpu[f].as_f64().map_or("-".into(), |v| format!("{v:.3}"));
        println!(
            "{:<22} {:>10} {:>10} {:>10}",
            name,
            field("server_ms"),
            field("bench_ms"),
            field("rest_ms")
        );
    }
}

fn log(message: &str, since: Instant) {
    eprintln!("[{:>6.1}s] {message}", since.elapsed().as_secs_f64());
}

async fn measure(
    url: &str,
    work: &std::path::Path,
    sizes: Sizes,
    size: Size,
) -> Result<(Vec<Line>, Value)> {
    let t0 = Instant::now();
    let smtp = tests::smtp::SmtpServer::start().await;
    let server = server::ServerProcess::start(url, &work.join("files"), smtp.addr.port())?;
    cpu::watch_server(server.pid());
    // The baselines' pool: the server's own settings, through the server's own constructor.
    let pool = api::startup::connect(url, 40).await?;
    let admin = Api::login(&server.address, server::ADMIN_EMAIL, server::ADMIN_PASSWORD).await?;
    let admin_id: Uuid =
        serde_json::from_value(admin.call("{ me { id } }", json!({})).await?["me"]["id"].take())?;
    let catch_up = Duration::from_secs(900);

    // Owners through the real write path.
    let mut owners = Vec::new();
    for n in 0..sizes.owners {
        let data = admin
            .call(
                "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
                json!({ "i": { "email": format!("owner{n}@firm.example"), "displayName": format!("Owner {n}"),
                               "role": "SUPPORT", "password": "a-long-password-1" } }),
            )
            .await?;
        owners.push(serde_json::from_value::<Uuid>(
            data["createUser"]["user"]["id"].clone(),
        )?);
    }
    let seeded = seed::leads(&pool, admin_id, &owners, sizes.leads, 7).await?;
    scenarios::caught_up(&pool, catch_up).await?;
    // A settled database, as it is a minute after any bulk load: autovacuum has gathered
    // statistics on the new rows. Without them the read scenario's plan depends on whether
    // autovacuum happened to get there first (the baseline swung between 172 and 3,258
    // pages/s across runs of the same code).
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    log(
        &format!(
            "seeded {} leads ({} events) and folded them",
            sizes.leads, seeded.events
        ),
        t0,
    );
    let leads = Arc::new(seeded.leads.clone());
    let owners = Arc::new(owners);
    let mut lines = Vec::new();
    let mut report = json!({ "size": size, "sizes": sizes, "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) });

    // Write, with freshness and memory measured during it.
    let base =
        scenarios::write_baseline(&pool, leads.clone(), sizes.write_clients, sizes.write_ops)
            .await?;
    scenarios::caught_up(&pool, catch_up).await?;
    let notes_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'LeadNoteAdded'")
            .fetch_one(&pool)
            .await?;
    server.reset_peak_rss()?;
    let lag_before = scenarios::scrape_lag(&server.address).await?;
    let write =
        scenarios::write_server(&admin, leads.clone(), sizes.write_clients, sizes.write_ops)
            .await?;
    scenarios::caught_up(&pool, catch_up).await?;
    let lag = scenarios::lag_between(&lag_before, &scenarios::scrape_lag(&server.address).await?);
    let peak_kib = server.peak_rss_kib()?;
    log("write scenario done", t0);
    let write_ratio = ratio(write.per_second, base.per_second);
    lines.push(Line {
        scenario: "write (addLeadNote)",
        measured: format!(
            "{:.0}/s p50 {} p99 {}",
            write.per_second,
            ms(write.p50_ms),
            ms(write.p99_ms)
        ),
        baseline: format!("{:.0}/s p99 {}", base.per_second, ms(base.p99_ms)),
        ratio: Some(write_ratio),
        target: "ratio >= 0.5",
        met: write_ratio >= 0.5,
    });
    // No event skipped: every note appended is counted in the read model, and the lead
    // projection saw every lead event appended during the run.
    let (notes_events, notes_folded): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE event_type = 'LeadNoteAdded'), \
                (SELECT COALESCE(sum(note_count), 0)::bigint FROM lead_view)",
    )
    .fetch_one(&pool)
    .await?;
    let leads_lag = lag.get("leads").copied();
    let skipped = notes_events - notes_folded;
    let appended = u64::try_from(notes_events - notes_before).unwrap_or(0);
    let seen = leads_lag.map_or(0, |l| l.events);
    for (name, l) in &lag {
        lines.push(Line {
            scenario: "freshness",
            measured: format!(
                "{name}: p50 <= {} p99 <= {} ({} ev)",
                l.p50_ms, l.p99_ms, l.events
            ),
            baseline: "-".into(),
            ratio: None,
            target: "p99 <= 100 ms",
            met: l.p99_ms <= 100.0,
        });
    }
    lines.push(Line {
        scenario: "freshness: skipped",
        measured: format!("{skipped} notes missing; {seen} of {appended} folded live"),
        baseline: "-".into(),
        ratio: None,
        target: "none skipped",
        met: skipped == 0 && seen >= appended,
    });
    lines.push(Line {
        scenario: "memory (server)",
        measured: format!("peak RSS {:.1} MB during write", peak_kib as f64 / 1024.0),
        baseline: "-".into(),
        ratio: None,
        target: "<= 200 MB",
        met: peak_kib <= 200 * 1024,
    });
    report["write"] = json!({ "server": write, "baseline": base, "ratio": write_ratio });
    report["freshness"] =
        json!({ "lag": lag, "notes_missing": skipped, "appended": appended, "folded_live": seen });
    report["memory"] = json!({ "peak_rss_kib": peak_kib });

    // Read, on a settled database: the write scenario left 20k new events and as many
    // updated lead rows, and autovacuum getting to them in the middle of one side of the
    // ratio and not the other was noise in the comparison.
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    let base =
        scenarios::read_baseline(&pool, owners.clone(), sizes.read_clients, sizes.read_ops).await?;
    let read =
        scenarios::read_server(&admin, owners.clone(), sizes.read_clients, sizes.read_ops).await?;
    // The floor under any GraphQL read: HTTP, the JWT, parsing, validating and answering
    // `{ __typename }`, no database. Not a target; it bounds what the read ratio can reach.
    let floor = scenarios::graphql_floor(&admin, sizes.read_clients, sizes.read_ops).await?;
    log("read scenario done", t0);
    let read_ratio = ratio(read.per_second, base.per_second);
    lines.push(Line {
        scenario: "read (50 leads nested)",
        measured: format!(
            "{:.0}/s p50 {} p99 {}",
            read.per_second,
            ms(read.p50_ms),
            ms(read.p99_ms)
        ),
        baseline: format!("{:.0}/s p99 {}", base.per_second, ms(base.p99_ms)),
        ratio: Some(read_ratio),
        target: "ratio >= 0.5, p99 <= 25 ms",
        met: read_ratio >= 0.5 && read.p99_ms <= 25.0,
    });
    lines.push(Line {
        scenario: "read floor ({ __typename })",
        measured: format!(
            "{:.0}/s p50 {} p99 {}",
            floor.per_second,
            ms(floor.p50_ms),
            ms(floor.p99_ms)
        ),
        baseline: format!("{:.0}/s (read baseline)", base.per_second),
        ratio: Some(ratio(floor.per_second, base.per_second)),
        target: "- (bounds the read ratio)",
        met: true,
    });
    report["read"] =
        json!({ "server": read, "baseline": base, "ratio": read_ratio, "graphql_floor": floor });

    // Audit.
    let mut batch = seed::Batch::new(admin_id, 11);
    let client = seeded
        .clients
        .first()
        .copied()
        .context("no client was seeded")?;
    let project = batch
        .project(client, sizes.audit_events, chrono::Utc::now())
        .await?;
    let project_events = batch.write(&pool, 5_000).await?;
    scenarios::caught_up(&pool, catch_up).await?;
    let audit = scenarios::audit(&admin, &pool, project, sizes.audit_reps).await?;
    log("audit scenario done", t0);
    for (name, baseline) in [("project_as_of", "raw_fetch"), ("history", "raw_page")] {
        let (f, raw) = (audit[name], audit[baseline]);
        lines.push(Line {
            scenario: if name == "history" {
                "audit: history"
            } else {
                "audit: projectAsOf"
            },
            measured: if name == "history" {
                format!("p50 {} p99 {} (pages of 100)", ms(f.p50_ms), ms(f.p99_ms))
            } else {
                format!(
                    "p50 {} p99 {} ({project_events} ev)",
                    ms(f.p50_ms),
                    ms(f.p99_ms)
                )
            },
            baseline: if name == "history" {
                format!("raw page p50 {}", ms(raw.p50_ms))
            } else {
                format!("raw fetch p50 {}", ms(raw.p50_ms))
            },
            ratio: Some(ratio(raw.p50_ms, f.p50_ms)),
            target: "p99 <= 20 ms",
            met: f.p99_ms <= 20.0,
        });
    }
    report["audit"] = json!({ "events": project_events, "figures": audit });

    // Rebuild over a realistic mix, topped up to the size.
    let mut have: usize =
        usize::try_from(projections::rebuild::event_count(&pool).await?).unwrap_or(0);
    let mut batch = seed::Batch::new(admin_id, 13);
    let mut n = sizes.leads;
    let clients = seeded.clients.clone();
    while have < sizes.rebuild_events {
        // Roughly half projects, half leads by event count.
        let before = batch.len();
        batch
            .project(
                clients[usize::try_from(n).unwrap_or(0) % clients.len()],
                150,
                chrono::Utc::now(),
            )
            .await?;
        while batch.len() - before < 300 {
            batch.lead(n, &owners, chrono::Utc::now())?;
            n += 1;
        }
        have += batch.len() - before;
        if batch.len() >= 20_000 {
            batch.write(&pool, 5_000).await?;
        }
    }
    batch.write(&pool, 5_000).await?;
    scenarios::caught_up(&pool, catch_up).await?;
    let mix = seed::mix(&pool).await?;
    log(&format!("log topped up to {have} events: {mix:?}"), t0);
    // Both sides of the rebuild comparison start from a settled database: without this,
    // autovacuum of the freshly written log and read models runs during whichever comes
    // first and the figure measures the two cores' contention.
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    let (streamed, base_time) = scenarios::stream_and_decode(&pool).await?;
    let (rebuild_time, each) = scenarios::rebuild_all(&pool).await?;
    log(
        &format!("rebuild scenario done: seconds per projection {each:?}"),
        t0,
    );
    let rate = streamed as f64 / rebuild_time.as_secs_f64();
    let base_rate = streamed as f64 / base_time.as_secs_f64();
    let rebuild_ratio = ratio(rate, base_rate);
    lines.push(Line {
        scenario: "rebuild --all",
        measured: format!(
            "{rate:.0} ev/s ({streamed} ev, {:.1} s)",
            rebuild_time.as_secs_f64()
        ),
        baseline: format!("{base_rate:.0} ev/s stream+decode"),
        ratio: Some(rebuild_ratio),
        target: ">= 50k ev/s, ratio >= 0.25",
        met: rate >= 50_000.0 && rebuild_ratio >= 0.25,
    });
    report["rebuild"] = json!({ "events": streamed, "seconds_per_projection": each, "mix": mix,
        "seconds": rebuild_time.as_secs_f64(), "events_per_second": rate,
        "baseline_seconds": base_time.as_secs_f64(), "baseline_events_per_second": base_rate, "ratio": rebuild_ratio });

    // Effort: two projects of two clients; the first client's is the statement's.
    let mut batch = seed::Batch::new(admin_id, 17);
    let (statement_client, other_client) = (clients[1 % clients.len()], clients[2 % clients.len()]);
    let projects = [
        batch
            .project(statement_client, 10, chrono::Utc::now())
            .await?,
        batch.project(other_client, 10, chrono::Utc::now()).await?,
    ];
    batch.write(&pool, 5_000).await?;
    scenarios::caught_up(&pool, catch_up).await?;
    let e = effort::run(
        &server.address,
        &admin,
        &pool,
        projects,
        statement_client,
        sizes.effort,
    )
    .await?;
    log("effort scenarios done", t0);
    let ingest_ratio = ratio(e.logged_per_second, e.raw_per_second);
    lines.push(Line {
        scenario: "ingest (batches of 500)",
        measured: format!(
            "{:.0}/s answered, {:.0}/s drafts ({} entries)",
            e.received_per_second, e.logged_per_second, e.entries
        ),
        baseline: format!("{:.0}/s raw insert", e.raw_per_second),
        ratio: Some(ingest_ratio),
        target: "- (reported)",
        met: true,
    });
    lines.push(Line {
        scenario: "ingest: repeat",
        measured: format!(
            "{:.0}/s, {} events added",
            e.entries as f64 / e.repeat.seconds,
            e.repeat_events_added
        ),
        baseline: format!("{:.0}/s raw insert", e.raw_per_second),
        ratio: Some(ratio(e.entries as f64 / e.repeat.seconds, e.raw_per_second)),
        target: "adds nothing",
        met: e.repeat_events_added == 0 && e.repeat_all_marked,
    });
    lines.push(Line {
        scenario: "statement",
        measured: format!(
            "{} entries: issue {}, read p50 {} p99 {}",
            e.statement_entries,
            ms(e.issue_ms),
            ms(e.statement_read.p50_ms),
            ms(e.statement_read.p99_ms)
        ),
        baseline: format!("raw SQL sum p50 {}", ms(e.raw_sum.p50_ms)),
        ratio: Some(ratio(e.raw_sum.p50_ms, e.statement_read.p50_ms)),
        target: "- (reported)",
        met: true,
    });
    report["effort"] = json!(e);

    let m = mail::run(&pool, &smtp, sizes.emails).await?;
    log("email scenario done", t0);
    lines.push(Line {
        scenario: "email drain",
        measured: format!(
            "{:.0} msg/s ({} messages)",
            m.drained_per_second, m.messages
        ),
        baseline: format!("{:.0} msg/s raw SMTP", m.raw_per_second),
        ratio: Some(ratio(m.drained_per_second, m.raw_per_second)),
        target: "- (reported), each once",
        met: m.received == m.messages,
    });
    report["email"] = json!(m);

    // The run outlasts an access token.
    let admin = Api::login(&server.address, server::ADMIN_EMAIL, server::ADMIN_PASSWORD).await?;
    let w = webhooks::run(&admin, &pool, sizes.webhook_events).await?;
    log("webhook scenario done", t0);
    lines.push(Line {
        scenario: "webhook fan-out (3 endpoints)",
        measured: format!(
            "commit to delivery p50 {} p99 {} (queued p50 {}) ({} events)",
            ms(w.delivery.p50_ms),
            ms(w.delivery.p99_ms),
            ms(w.queued_p50_ms),
            w.events
        ),
        baseline: format!(
            "raw signed POST p50 {} p99 {}",
            ms(w.raw.p50_ms),
            ms(w.raw.p99_ms)
        ),
        ratio: Some(ratio(w.raw.p50_ms, w.delivery.p50_ms)),
        target: "- (reported), each once",
        met: w.distinct == w.events * w.endpoints,
    });
    report["webhooks"] = json!(w);

    let lines_json: Vec<Value> = lines
        .iter()
        .map(|l| json!({ "scenario": l.scenario, "measured": l.measured, "baseline": l.baseline, "ratio": l.ratio, "target": l.target, "met": l.met }))
        .collect();
    report["table"] = Value::Array(lines_json);
    pool.close().await;
    server.stop()?;
    Ok((lines, report))
}
