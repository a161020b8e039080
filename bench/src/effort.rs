//! Effort scenarios: time entries from the productivity platform in batches of 500 (and the
//! repeat of every batch) against a raw insert of the same rows; a client's monthly
//! statement over its approved entries against the raw SQL sum.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{Days, NaiveDate};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::scenarios::{caught_up, Api};
use crate::stats::Figures;

/// Entries per batch: the API's limit.
const BATCH: usize = 500;
/// Clients sending batches at once.
const SENDERS: usize = 4;
/// Minutes of each entry.
const MINUTES: i32 = 30;
/// Every fifth entry is on the statement client's project.
const STATEMENT_SHARE: usize = 5;

/// Sizes of the effort scenarios.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct EffortSizes {
    pub entries: usize,
    pub consultants: usize,
    /// Days the entries are spread over, from a Monday.
    pub days: u64,
    pub statement_reads: usize,
}

/// Figures of the effort scenarios.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EffortFigures {
    pub entries: usize,
    /// Batches answered per second, in entries.
    pub received_per_second: f64,
    /// Entries that are drafts in the read model, per second from the first batch.
    pub logged_per_second: f64,
    pub batch: Figures,
    pub raw_insert: Figures,
    pub raw_per_second: f64,
    /// The repeat of every batch.
    pub repeat: Figures,
    pub repeat_events_added: i64,
    pub repeat_all_marked: bool,
    pub statement_entries: i64,
    pub issue_ms: f64,
    pub statement_read: Figures,
    pub raw_sum: Figures,
}

/// A row of the raw-insert baseline.
struct RawRow {
    entry_id: Uuid,
    user_id: Uuid,
    date: NaiveDate,
    project: Uuid,
    external_id: String,
}

struct Consultant {
    id: Uuid,
    email: String,
    api: Api,
}

async fn user(admin: &Api, address: &str, email: &str, role: &str) -> Result<(Uuid, Api)> {
    let password = "a-long-password-1";
    let data = admin
        .call(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": { "email": email, "displayName": email, "role": role, "password": password } }),
        )
        .await?;
    let id = serde_json::from_value(data["createUser"]["user"]["id"].clone())?;
    Ok((id, Api::login(address, email, password).await?))
}

/// Waits until every projection and reactor has passed the log's head and the effort read
/// model holds `entries` entries from the platform (the reactor's appends come after the
/// batches' own).
async fn logged(pool: &PgPool, entries: i64) -> Result<()> {
    for _ in 0..600 {
        caught_up(pool, Duration::from_secs(900)).await?;
        let have: i64 =
            sqlx::query_scalar("SELECT count(*) FROM time_entries WHERE external_id IS NOT NULL")
                .fetch_one(pool)
                .await?;
        if have >= entries {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the external-time reactor did not log every entry")
}

/// Runs `jobs` on `workers` tasks; the latency of each.
async fn run_all<F, Fut>(workers: usize, jobs: usize, job: F) -> Result<Figures>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (next, job) = (next.clone(), job.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= jobs {
                        break;
                    }
                    let t = Instant::now();
                    job(n).await?;
                    samples.push(t.elapsed());
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await??);
    }
    Ok(Figures::new(samples, started.elapsed()))
}

/// The effort scenarios over `projects` (the statement client's first).
pub(crate) async fn run(
    address: &str,
    admin: &Api,
    pool: &PgPool,
    projects: [Uuid; 2],
    statement_client: Uuid,
    sizes: EffortSizes,
) -> Result<EffortFigures> {
    let start = NaiveDate::from_ymd_opt(2025, 1, 6).context("date")?;
    let mut consultants = Vec::new();
    for n in 0..sizes.consultants {
        let email = format!("consultant{n}@effort.example");
        let (id, api) = user(admin, address, &email, "CONSULTANT").await?;
        consultants.push(Consultant { id, email, api });
    }
    let (_, reviewer) = user(admin, address, "reviewer@effort.example", "REVIEWER").await?;
    let (_, manager) = user(admin, address, "manager@effort.example", "MANAGER").await?;
    admin
        .call(
            "mutation { setRate(input: { scope: { role: CONSULTANT }, hourlyMinor: 150000 }) { caughtUp } }",
            json!({}),
        )
        .await?;
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let key = admin
        .call(
            "mutation($e: DateTime!) { createApiKey(input: { name: \"bench\", scopes: [TIME_INGEST], expiresAt: $e }) { token } }",
            json!({ "e": expires }),
        )
        .await?["createApiKey"]["token"]
        .as_str()
        .context("no token")?
        .to_owned();

    // The rows: entry i is consultant i mod C's, on day (i / C) mod D.
    let day_of = |i: usize| start + Days::new((i / sizes.consultants) as u64 % sizes.days);
    let entries: Vec<Value> = (0..sizes.entries)
        .map(|i| {
            let project = projects[usize::from(i % STATEMENT_SHARE != 0)];
            json!({ "externalId": format!("bench-{i}"), "user": consultants[i % sizes.consultants].email,
                    "matter": project, "date": day_of(i), "minutes": MINUTES, "description": "platform time", "billable": true })
        })
        .collect();
    let batches: Arc<Vec<Value>> = Arc::new(
        entries
            .chunks(BATCH)
            .map(|chunk| json!({ "entries": chunk }))
            .collect(),
    );
    let http = reqwest::Client::new();
    let url = format!("{address}/api/v1/time-entries");
    let send = {
        let (http, url, key, batches) = (http.clone(), url.clone(), key.clone(), batches.clone());
        move |n: usize| {
            let (http, url, key, batches) =
                (http.clone(), url.clone(), key.clone(), batches.clone());
            async move {
                let answer: Value = http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&batches[n])
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let results = answer["results"].as_array().context("no results")?;
                let repeats = results.iter().filter(|r| r["repeat"] == true).count();
                if results.iter().any(|r| r["status"] != "mapped") {
                    bail!("an entry did not map: {answer}");
                }
                anyhow::Ok(repeats)
            }
        }
    };

    // Ingestion: batches answered, then every entry a draft.
    let started = Instant::now();
    let first = {
        let send = send.clone();
        run_all(SENDERS, batches.len(), move |n| {
            let send = send.clone();
            async move { send(n).await.map(|_| ()) }
        })
        .await?
    };
    logged(pool, i64::try_from(sizes.entries)?).await?;
    let logged_secs = started.elapsed().as_secs_f64();

    // The repeat of every batch: answered, and nothing added.
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let all_marked = Arc::new(AtomicUsize::new(0));
    let repeat = {
        let (send, all_marked) = (send.clone(), all_marked.clone());
        run_all(SENDERS, batches.len(), move |n| {
            let (send, all_marked) = (send.clone(), all_marked.clone());
            async move {
                let repeats = send(n).await?;
                all_marked.fetch_add(repeats, Ordering::Relaxed);
                Ok(())
            }
        })
        .await?
    };
    caught_up(pool, Duration::from_secs(900)).await?;
    let events_after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;

    // Baseline: the same rows inserted raw, in the same batches, by as many senders.
    sqlx::query("CREATE TABLE bench_raw_time (LIKE time_entries INCLUDING DEFAULTS)")
        .execute(pool)
        .await?;
    let rows: Arc<Vec<RawRow>> = Arc::new(
        (0..sizes.entries)
            .map(|i| RawRow {
                entry_id: Uuid::new_v4(),
                user_id: consultants[i % sizes.consultants].id,
                date: day_of(i),
                project: projects[usize::from(i % STATEMENT_SHARE != 0)],
                external_id: format!("bench-{i}"),
            })
            .collect(),
    );
    let raw = {
        let (pool, rows) = (pool.clone(), rows.clone());
        run_all(SENDERS, batches.len(), move |n| {
            let (pool, rows) = (pool.clone(), rows.clone());
            async move {
                let chunk = &rows[n * BATCH..((n + 1) * BATCH).min(rows.len())];
                sqlx::query(
                    "INSERT INTO bench_raw_time (entry_id, user_id, week_start, date, minutes, description, billable, \
                            matter_id, project_id, state, external_id, logged_at, updated_at) \
                     SELECT e, u, d - (extract(isodow FROM d)::int - 1), d, $6, 'platform time', true, p, p, 'draft', x, now(), now() \
                       FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::uuid[], $5::text[]) AS r(e, u, d, p, x)",
                )
                .bind(chunk.iter().map(|r| r.entry_id).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.user_id).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.date).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.project).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.external_id.clone()).collect::<Vec<_>>())
                .bind(MINUTES)
                .execute(&pool)
                .await?;
                Ok(())
            }
        })
        .await?
    };
    sqlx::query("DROP TABLE bench_raw_time")
        .execute(pool)
        .await?;
    crate::log("effort: ingestion measured", started);

    // Every week submitted by its consultant and approved by the reviewer.
    let weeks = sizes.days.div_ceil(7);
    let consultants = Arc::new(consultants);
    {
        let (consultants, reviewer) = (consultants.clone(), reviewer.clone());
        run_all(8, consultants.len() * usize::try_from(weeks)?, move |n| {
            let (consultants, reviewer) = (consultants.clone(), reviewer.clone());
            async move {
                let who = &consultants[n % consultants.len()];
                let week = start + Days::new(7 * (n / consultants.len()) as u64);
                who.api
                    .call(
                        "mutation($w: NaiveDate!) { submitTimesheet(weekOf: $w) { caughtUp } }",
                        json!({ "w": week }),
                    )
                    .await?;
                reviewer
                    .call(
                        "mutation($u: UUID!, $w: NaiveDate!) { approveTimesheet(userId: $u, weekOf: $w) { caughtUp } }",
                        json!({ "u": who.id, "w": week }),
                    )
                    .await?;
                Ok(())
            }
        })
        .await?;
    }
    caught_up(pool, Duration::from_secs(900)).await?;
    let last_day = start + Days::new(sizes.days - 1);
    let month = last_day.format("%Y-%m").to_string();
    let until = domain::statement::Month::parse("month", &month)
        .ok()
        .and_then(|m| m.last_day())
        .context("month")?;
    let raw_sum_sql = format!(
        "SELECT count(*), COALESCE(sum(e.minutes), 0)::bigint FROM time_entries e \
           JOIN {} m ON m.id = e.matter_id \
          WHERE m.client_id = $1 AND e.state = 'approved' AND e.date <= $2",
        projections::effort::MATTERS
    );
    let (statement_entries, _): (i64, i64) = sqlx::query_as(&raw_sum_sql)
        .bind(statement_client)
        .bind(until)
        .fetch_one(pool)
        .await?;

    // The statement: issued once (priced and frozen), then read.
    let total = "total { billableMinutes nonBillableMinutes amounts { minor currency } } perConsultant { id billableMinutes }";
    let t = Instant::now();
    let issued = manager
        .call(
            &format!("mutation($c: UUID!, $m: String!) {{ issueStatement(clientId: $c, month: $m) {{ caughtUp statement {{ {total} }} }} }}"),
            json!({ "c": statement_client, "m": month }),
        )
        .await?;
    let issue_ms = t.elapsed().as_secs_f64() * 1000.0;
    let stated = &issued["issueStatement"]["statement"]["total"]["billableMinutes"];
    if stated.as_i64() != Some(statement_entries * i64::from(MINUTES)) {
        bail!("the statement states {stated} minutes of {statement_entries} entries");
    }
    let read = {
        let (manager, month) = (manager.clone(), month.clone());
        run_all(1, sizes.statement_reads, move |_| {
            let (manager, month) = (manager.clone(), month.clone());
            async move {
                manager
                    .call(
                        &format!("query($c: UUID!, $m: String!) {{ statement(clientId: $c, month: $m) {{ {total} }} }}"),
                        json!({ "c": statement_client, "m": month }),
                    )
                    .await?;
                Ok(())
            }
        })
        .await?
    };
    let raw_sum = {
        let pool = pool.clone();
        run_all(1, sizes.statement_reads, move |_| {
            let (pool, sql) = (pool.clone(), raw_sum_sql.clone());
            async move {
                let _: (i64, i64) = sqlx::query_as(&sql)
                    .bind(statement_client)
                    .bind(until)
                    .fetch_one(&pool)
                    .await?;
                Ok(())
            }
        })
        .await?
    };
    crate::log("effort: statement measured", started);

    let entries = sizes.entries;
    Ok(EffortFigures {
        entries,
        received_per_second: entries as f64 / first.seconds,
        logged_per_second: entries as f64 / logged_secs,
        batch: first,
        raw_per_second: entries as f64 / raw.seconds,
        raw_insert: raw,
        repeat,
        repeat_events_added: events_after - events_before,
        repeat_all_marked: all_marked.load(Ordering::Relaxed) == entries,
        statement_entries,
        issue_ms,
        statement_read: read,
        raw_sum,
    })
}
