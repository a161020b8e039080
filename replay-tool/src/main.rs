//! `zippcrm-replay`: rebuild, verify and inspect ZippCRM's read models and history.
//!
//! Works directly on the database (`--database-url` or `DATABASE_URL`); the server may keep
//! running: rebuilds are blue/green and verification holds the live checkpoint only while
//! it compares.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use projections::Projection;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// mimalloc returns freed pages to the system; glibc's malloc kept the freed heap of a
/// catch-up fold (ADR 0006).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "zippcrm-replay",
    version,
    about = "Rebuild, verify and inspect ZippCRM read models and history"
)]
struct Cli {
    /// PostgreSQL URL of the ZippCRM database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Rebuild read models from position zero and switch to them atomically.
    Rebuild {
        /// One projection by name (see `status`).
        #[arg(long, conflicts_with = "all")]
        projection: Option<String>,
        /// Every projection.
        #[arg(long)]
        all: bool,
        /// Projections rebuilt at the same time (each on two connections: one folds and
        /// writes, one reads the log a batch ahead).
        #[arg(long, default_value_t = projections::rebuild::DEFAULT_JOBS as u16, value_parser = clap::value_parser!(u16).range(1..=16))]
        jobs: u16,
    },
    /// Print every projection's and reactor's position and lag.
    Status,
    /// Move a reactor so that it reacts to every event from a global position on (0: the
    /// whole log). A reaction already made is not made again.
    ReactorStart {
        /// The reactor (see `status`).
        #[arg(long)]
        reactor: String,
        /// The first global position to react to.
        #[arg(long)]
        position: i64,
    },
    /// Rebuild into shadow tables and diff against the live ones; exit 1 on any difference.
    Verify {
        /// One projection (default: all).
        #[arg(long)]
        projection: Option<String>,
    },
    /// Print a record's events, or its state as of an instant.
    History {
        /// Aggregate type: Lead, Client, Project, User, WorkflowTemplate, Reactor.
        #[arg(long = "type")]
        aggregate_type: String,
        /// Record id.
        #[arg(long)]
        id: String,
        /// Print the state folded from events recorded up to this instant (RFC 3339).
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    // Each rebuild job holds a pooled connection for its read-ahead for as long as it runs
    // (its writer is detached from the pool), so the pool grows with the jobs.
    let connections = match &cli.command {
        Command::Rebuild { jobs, .. } => 4 + u32::from(*jobs),
        _ => 4,
    };
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&cli.database_url)
        .await
        .context("could not connect to the database (check --database-url / DATABASE_URL)")?;
    projections::MIGRATOR
        .run(&pool)
        .await
        .context("the database schema could not be migrated")?;
    projections::runner::register(&pool, &projections::all()).await?;
    match cli.command {
        Command::Rebuild {
            projection,
            all,
            jobs,
        } => rebuild(&pool, selection(projection, all)?, usize::from(jobs)).await,
        Command::Status => status(&pool).await,
        Command::ReactorStart { reactor, position } => {
            if position < 0 {
                bail!("--position must be 0 or more");
            }
            if !reactions::runner::start_at(&pool, &reactor, position).await? {
                let known: Vec<String> = reactions::runner::status(&pool)
                    .await?
                    .into_iter()
                    .map(|r| r.name)
                    .collect();
                bail!(
                    "unknown reactor '{reactor}'; known reactors: {}",
                    known.join(", ")
                );
            }
            println!("{reactor} reacts to every event from position {position} on");
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { projection } => {
            verify(&pool, selection(projection.clone(), projection.is_none())?).await
        }
        Command::History {
            aggregate_type,
            id,
            as_of,
        } => history(&pool, &aggregate_type, &id, as_of).await,
    }
}

fn selection(name: Option<String>, all: bool) -> Result<Vec<Arc<dyn Projection>>> {
    match (name, all) {
        (Some(name), _) => match projections::by_name(&name) {
            Some(projection) => Ok(vec![projection]),
            None => {
                let known: Vec<_> = projections::all().iter().map(|p| p.name()).collect();
                bail!(
                    "unknown projection '{name}'; known projections: {}",
                    known.join(", ")
                )
            }
        },
        (None, true) => Ok(projections::all()),
        (None, false) => bail!("say which: --projection NAME or --all"),
    }
}

fn bar(total: i64, name: &str) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(total).unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(name.to_owned());
    bar
}

async fn rebuild(
    pool: &PgPool,
    selected: Vec<Arc<dyn Projection>>,
    jobs: usize,
) -> Result<ExitCode> {
    let sized = projections::rebuild::largest_first(pool, selected).await?;
    let bars = MultiProgress::new();
    let by_name: HashMap<&'static str, ProgressBar> = sized
        .iter()
        .map(|(total, p)| (p.name(), bars.add(bar(*total, p.name()))))
        .collect();
    let ordered: Vec<Arc<dyn Projection>> = sized.into_iter().map(|(_, p)| p).collect();
    let started = std::time::Instant::now();
    let done = projections::rebuild::rebuild_all(pool, &ordered, jobs, &|name, n| {
        if let Some(bar) = by_name.get(name) {
            bar.set_position(n);
        }
    })
    .await
    .context("rebuilding")?;
    bars.clear().ok();
    let mut total = 0;
    for (name, folded, seconds) in done {
        total += folded;
        println!(
            "{name:>13}: rebuilt from {folded} events in {seconds:.2}s ({:.0} events/s)",
            folded as f64 / seconds.max(1e-9)
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{:>13}: {total} events in {seconds:.2}s, {jobs} at a time",
        "all"
    );
    Ok(ExitCode::SUCCESS)
}

async fn status(pool: &PgPool) -> Result<ExitCode> {
    println!(
        "{:<12} {:>12} {:>12} {:>10} {:>10}  state",
        "projection", "position", "events seen", "lag", "lag (s)"
    );
    for s in projections::status::all(pool).await? {
        let mut state = match (&s.last_error, s.stalled()) {
            (Some(error), _) => format!("failing: {error}"),
            (None, true) => "stalled".to_owned(),
            (None, false) => "ok".to_owned(),
        };
        if let Some(holder) = &s.waiting_on {
            state.push_str(&format!(
                "; waiting on a transaction open {:.1} s in database {} (pid {})",
                holder.age_seconds,
                holder.database.as_deref().unwrap_or("?"),
                holder.pid
            ));
        }
        println!(
            "{:<12} {:>12} {:>12} {:>10} {:>10.1}  {state}",
            s.name, s.position, s.events_seen, s.lag_events, s.lag_seconds
        );
    }
    let reactors = reactions::runner::status(pool).await?;
    if !reactors.is_empty() {
        println!(
            "\n{:<20} {:>12} {:>12} {:>10} {:>8}  state",
            "reactor", "position", "events seen", "lag", "parked"
        );
    }
    for r in reactors {
        let state = match &r.last_error {
            Some(error) => format!("failing ({} attempts): {error}", r.attempts),
            None => "ok".to_owned(),
        };
        println!(
            "{:<20} {:>12} {:>12} {:>10} {:>8}  {state}",
            r.name, r.position, r.events_seen, r.lag_events, r.parked
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(pool: &PgPool, selected: Vec<Arc<dyn Projection>>) -> Result<ExitCode> {
    let mut clean = true;
    for projection in selected {
        let total = projections::rebuild::events_of(pool, projection.as_ref()).await?;
        let bar = bar(total, projection.name());
        let differences =
            projections::rebuild::verify(pool, projection.as_ref(), &|n| bar.set_position(n))
                .await
                .with_context(|| format!("verifying {}", projection.name()))?;
        bar.finish_and_clear();
        if differences.is_empty() {
            println!(
                "{:>10}: ok, the rebuilt read model equals the live one",
                projection.name()
            );
        }
        for d in differences {
            clean = false;
            println!(
                "{:>10}: {} differs: {} rows only in the live table, {} only in the rebuilt one",
                projection.name(),
                d.table,
                d.only_live,
                d.only_rebuilt
            );
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn history(
    pool: &PgPool,
    aggregate_type: &str,
    id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<ExitCode> {
    let Some(&aggregate_type) = projections::audit::AGGREGATE_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(aggregate_type))
    else {
        bail!(
            "unknown type '{aggregate_type}'; known types: {}",
            projections::audit::AGGREGATE_TYPES.join(", ")
        );
    };
    if let Some(at) = as_of {
        let state = match aggregate_type {
            "Lead" => as_json::<domain::lead::Lead>(pool, id, at).await?,
            "Client" => as_json::<domain::client::Client>(pool, id, at).await?,
            "Project" => as_json::<domain::project::Project>(pool, id, at).await?,
            "User" => as_json::<domain::user::User>(pool, id, at).await?,
            "Reactor" => as_json::<domain::reaction::ParkedReactions>(pool, id, at).await?,
            "Department" => as_json::<domain::team::Department>(pool, id, at).await?,
            "Team" => as_json::<domain::team::Team>(pool, id, at).await?,
            "Timesheet" => as_json::<domain::timesheet::Timesheet>(pool, id, at).await?,
            "RateCard" => as_json::<domain::rate::RateCard>(pool, id, at).await?,
            "Statement" => as_json::<domain::statement::Statement>(pool, id, at).await?,
            "ServiceItem" => as_json::<domain::service::ServiceItem>(pool, id, at).await?,
            "ApiKey" => as_json::<domain::integration::ApiKey>(pool, id, at).await?,
            "ExternalEntry" => as_json::<domain::integration::ExternalEntry>(pool, id, at).await?,
            "ExternalMappings" => as_json::<domain::integration::Mappings>(pool, id, at).await?,
            "Guidance" => as_json::<domain::guidance::Guidance>(pool, id, at).await?,
            "RuleChange" => as_json::<domain::rule_change::RuleChange>(pool, id, at).await?,
            "WebhookEndpoint" => as_json::<domain::webhook::WebhookEndpoint>(pool, id, at).await?,
            _ => as_json::<domain::template::WorkflowTemplate>(pool, id, at).await?,
        };
        match state {
            Some(state) => println!("{}", serde_json::to_string_pretty(&state)?),
            None => bail!("{aggregate_type} {id} had no events at or before {at}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stream = (aggregate_type, id);
    let filter = projections::audit::HistoryFilter::default();
    let mut after = None;
    loop {
        let page =
            projections::audit::history(pool, stream, &filter, after, 1_000, |_| true).await?;
        if after.is_none() && page.rows.is_empty() {
            bail!("{aggregate_type} {id} has no events");
        }
        for e in &page.rows {
            println!(
                "#{:<4} pos {:<8} {}  {:<24} actor {}  {}",
                e.sequence,
                e.global_position,
                e.recorded_at.to_rfc3339(),
                e.event_type,
                e.actor_id.as_deref().unwrap_or("?"),
                e.payload.as_str()
            );
        }
        match page.rows.last() {
            Some(last) if page.has_next => after = Some(last.sequence),
            _ => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn as_json<A: domain::Aggregate>(
    pool: &PgPool,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<serde_json::Value>> {
    let state = projections::audit::state_as_of::<A>(pool, id, at).await?;
    Ok(state.map(|s| serde_json::to_value(s)).transpose()?)
}
