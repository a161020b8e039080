//! `zippcrm-bench`: ZippCRM's performance suite. Each scenario runs beside a baseline
//! measured in the same run, and is reported as a ratio; see docs/PERFORMANCE.md.
//!
//! `zippcrm-bench --size quick` (the default) finishes in a few minutes; `--size full` uses
//! the sizes of the targets; `--size smoke` is the test suite's check that the harness works.

mod client;
mod cpu;
mod effort;
mod mail;
mod measure;
mod scenarios;
mod seed;
mod server;
mod stats;
mod webhooks;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

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

    let result = measure::measure(&url, &work, sizes, cli.size).await;

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
