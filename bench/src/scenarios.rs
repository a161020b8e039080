//! The scenarios, each beside its baseline measured in the same run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::stats::Figures;

pub(crate) use crate::client::Api;

/// Runs `ops` operations on `workers` concurrent tasks; returns figures over all of them.
/// `op(worker, n)` runs operation `n` on `worker`.
async fn concurrently<F, Fut>(workers: usize, ops: usize, op: F) -> Result<Figures>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let cpu_before = crate::cpu::Sample::now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let (next, op) = (next.clone(), op.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= ops {
                        break;
                    }
                    let t = Instant::now();
                    op(worker, n).await?;
                    samples.push(t.elapsed());
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(ops);
    for task in tasks {
        samples.extend(task.await??);
    }
    let mut figures = Figures::new(samples, started.elapsed());
    if let (Some(before), Some(after)) = (cpu_before, crate::cpu::Sample::now()) {
        figures.cpu = Some(before.split_to(&after, figures.ops));
    }
    Ok(figures)
}

/// Waits until every projection has passed the newest event, on checkpoint notices.
pub(crate) async fn caught_up(pool: &PgPool, timeout: Duration) -> Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen("zippcrm_checkpoint").await?;
    let deadline = Instant::now() + timeout;
    loop {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM projection_checkpoints c, \
                    (SELECT transaction_id, global_position FROM events ORDER BY global_position DESC LIMIT 1) h \
              WHERE (c.last_tx, c.last_position) < (h.transaction_id, h.global_position)",
        )
        .fetch_one(pool)
        .await?;
        if behind == 0 {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("the projections did not catch up within {timeout:?}");
        }
        // A notice means a checkpoint moved; the bounded wait covers a missed one.
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), listener.recv()).await;
    }
}

/// A random id from `worker`'s share of `ids`: workers never write the same stream at
/// once, so neither path spends its time on optimistic-concurrency conflicts.
fn pick(rng: &mut rand::rngs::StdRng, ids: &[Uuid], worker: usize, workers: usize) -> Uuid {
    let share = (ids.len() / workers).max(1);
    ids[(rng.gen_range(0..share) * workers + worker) % ids.len()]
}

/// Write: `addLeadNote` over HTTP with a JWT.
pub(crate) async fn write_server(
    api: &Api,
    leads: Arc<Vec<Uuid>>,
    workers: usize,
    ops: usize,
) -> Result<Figures> {
    let api = api.clone();
    concurrently(workers, ops, move |worker, n| {
        let (api, leads) = (api.clone(), leads.clone());
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
            let lead = pick(&mut rng, &leads, worker, workers);
            let data = api
                .call(
                    "mutation($id: UUID!, $b: String!) { addLeadNote(id: $id, body: $b) { caughtUp } }",
                    json!({ "id": lead, "b": format!("Follow-up call {n}: documents promised by Friday") }),
                )
                .await?;
            if data["addLeadNote"]["caughtUp"] != json!(true) {
                bail!("a write was answered before its read model caught up");
            }
            Ok(())
        }
    })
    .await
}

/// Write baseline: the same store work by hand: read the stream, insert one event row.
pub(crate) async fn write_baseline(
    pool: &PgPool,
    leads: Arc<Vec<Uuid>>,
    workers: usize,
    ops: usize,
) -> Result<Figures> {
    let pool = pool.clone();
    concurrently(workers, ops, move |worker, n| {
        let (pool, leads) = (pool.clone(), leads.clone());
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1_000_000 + n as u64);
            let lead = pick(&mut rng, &leads, worker, workers).to_string();
            let mut tx = pool.begin().await?;
            let stream: Vec<(i64, Value)> = sqlx::query_as(
                "SELECT sequence, payload FROM events WHERE aggregate_type = 'Lead' AND aggregate_id = $1 ORDER BY sequence",
            )
            .bind(&lead)
            .fetch_all(&mut *tx)
            .await?;
            let next = stream.last().map_or(1, |(s, _)| s + 1);
            let at = chrono::Utc::now();
            let event = domain::lead::LeadEvent::LeadNoteAdded {
                note_id: Uuid::now_v7(),
                body: format!("Follow-up call {n}: documents promised by Friday"),
                at,
            };
            let event_id = Uuid::now_v7().to_string();
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 VALUES ('Lead', $1, $2, 'LeadNoteAdded', '1', $3, $4)",
            )
            .bind(&lead)
            .bind(next)
            .bind(serde_json::to_value(&event)?)
            .bind(json!({ "event_id": event_id, "request_id": event_id, "correlation_id": event_id,
                          "causation_id": event_id, "actor_id": "system", "actor_role": "system",
                          "issued_at": at.to_rfc3339() }))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
    })
    .await
}

const READ_QUERY: &str = "query($owner: UUID!) { leads(first: 50, filter: { ownerId: $owner, stages: [QUALIFIED, PROPOSAL, NEGOTIATION, WON] }, sort: { field: SCORE, direction: DESC }) { edges { node { id company score stage owner { id displayName email } client { id name } } } } }";

/// The read scenario's answer, decoded field by field into typed values as the baseline
/// decodes its rows (`READ_QUERY` asks for exactly these fields).
#[derive(Deserialize)]
struct LeadsData {
    leads: LeadPage,
}

#[derive(Deserialize)]
struct LeadPage {
    edges: Vec<LeadEdge>,
}

#[derive(Deserialize)]
struct LeadEdge {
    node: PageLead,
}

#[derive(Deserialize)]
#[expect(
    dead_code,
    reason = "decoded as a client would, then dropped like the baseline's rows"
)]
struct PageLead {
    id: Uuid,
    company: String,
    score: Option<i32>,
    stage: String,
    owner: Option<PageOwner>,
    client: Option<PageClient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[expect(
    dead_code,
    reason = "decoded as a client would, then dropped like the baseline's rows"
)]
struct PageOwner {
    id: Uuid,
    display_name: String,
    email: Option<String>,
}

#[derive(Deserialize)]
#[expect(
    dead_code,
    reason = "decoded as a client would, then dropped like the baseline's rows"
)]
struct PageClient {
    id: Uuid,
    name: String,
}

/// Read: a page of 50 leads with nested owner and client, filtered and sorted.
pub(crate) async fn read_server(
    api: &Api,
    owners: Arc<Vec<Uuid>>,
    workers: usize,
    ops: usize,
) -> Result<Figures> {
    let api = api.clone();
    concurrently(workers, ops, move |_, n| {
        let (api, owners) = (api.clone(), owners.clone());
        async move {
            let owner = owners[n % owners.len()];
            let data: LeadsData = api.call_as(READ_QUERY, &json!({ "owner": owner })).await?;
            let nodes: Vec<&PageLead> = data.leads.edges.iter().map(|e| &e.node).collect();
            if nodes.is_empty() {
                bail!("the lead page came back empty");
            }
            let outside = |n: &&PageLead| {
                n.owner.as_ref().map(|o| o.id) != Some(owner)
                    || !["QUALIFIED", "PROPOSAL", "NEGOTIATION", "WON"].contains(&n.stage.as_str())
            };
            if nodes.iter().any(outside) {
                bail!("the lead page holds a lead its filter excludes");
            }
            if nodes
                .windows(2)
                .any(|w| w[0].score.unwrap_or(-1) < w[1].score.unwrap_or(-1))
            {
                bail!("the lead page is not sorted by score");
            }
            Ok(())
        }
    })
    .await
}

/// The cheapest GraphQL request there is, `{ __typename }`, with the same clients.
pub(crate) async fn graphql_floor(api: &Api, workers: usize, ops: usize) -> Result<Figures> {
    let api = api.clone();
    concurrently(workers, ops, move |_, _| {
        let api = api.clone();
        async move {
            let data = api.call("{ __typename }", json!({})).await?;
            if data["__typename"] != "Query" {
                bail!("unexpected answer to {{ __typename }}: {data}");
            }
            Ok(())
        }
    })
    .await
}

/// Read baseline: the equivalent hand-written query, joined in SQL.
pub(crate) async fn read_baseline(
    pool: &PgPool,
    owners: Arc<Vec<Uuid>>,
    workers: usize,
    ops: usize,
) -> Result<Figures> {
    let pool = pool.clone();
    concurrently(workers, ops, move |_, n| {
        let (pool, owners) = (pool.clone(), owners.clone());
        async move {
            let owner = owners[n % owners.len()];
            type Page = (Uuid, String, Option<i32>, String, Option<Uuid>, Option<String>, Option<String>, Option<Uuid>, Option<String>);
            let rows: Vec<Page> = sqlx::query_as(
                "SELECT l.id, l.company, l.score, l.stage, u.id, u.display_name, u.email, c.id, c.name \
                   FROM lead_view l LEFT JOIN user_view u ON u.id = l.owner_id LEFT JOIN client_view c ON c.id = l.client_id \
                  WHERE l.owner_id = $1 AND l.stage = ANY($2) \
                  ORDER BY COALESCE(l.score, -1) DESC, l.id DESC LIMIT 51",
            )
            .bind(owner)
            .bind(vec!["qualified", "proposal", "negotiation", "won"])
            .fetch_all(&pool)
            .await?;
            if rows.is_empty() {
                bail!("the baseline page came back empty");
            }
            Ok(())
        }
    })
    .await
}

/// Audit: `projectAsOf` (fold of the whole stream) and `history` (pages of 100 through the
/// whole stream), one request at a time, beside the raw fetches of the same rows.
pub(crate) async fn audit(
    api: &Api,
    pool: &PgPool,
    project: Uuid,
    reps: usize,
) -> Result<BTreeMap<&'static str, Figures>> {
    let at = chrono::Utc::now();
    let mut out = BTreeMap::new();
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..reps {
        let t = Instant::now();
        let data = api
            .call(
                "query($id: UUID!, $at: DateTime!) { projectAsOf(id: $id, at: $at) { id currentStage stages { key items { key status } } } }",
                json!({ "id": project, "at": at }),
            )
            .await?;
        samples.push(t.elapsed());
        if data["projectAsOf"]["id"].is_null() {
            bail!("projectAsOf found nothing");
        }
    }
    out.insert("project_as_of", Figures::new(samples, started.elapsed()));
    // `history` a page at a time through the whole stream, each page a sample.
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..reps {
        let mut after: Option<String> = None;
        loop {
            let t = Instant::now();
            let data = api
                .call(
                    "query($id: UUID!, $after: String) { history(aggregateType: PROJECT, aggregateId: $id, first: 100, after: $after) { nodes { sequence eventType payload actorId } pageInfo { hasNextPage endCursor } } }",
                    json!({ "id": project, "after": after }),
                )
                .await?;
            samples.push(t.elapsed());
            let page = &data["history"];
            if page["nodes"].as_array().map_or(0, Vec::len) == 0 {
                bail!("a history page came back empty");
            }
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
    }
    out.insert("history", Figures::new(samples, started.elapsed()));
    // The whole stream in one statement: what `projectAsOf` reads.
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..reps {
        let t = Instant::now();
        let rows: Vec<(i64, String, Value, Value)> = sqlx::query_as(
            "SELECT sequence, event_type, payload, metadata FROM events \
              WHERE aggregate_type = 'Project' AND aggregate_id = $1 ORDER BY sequence",
        )
        .bind(project.to_string())
        .fetch_all(pool)
        .await?;
        samples.push(t.elapsed());
        if rows.is_empty() {
            bail!("the raw fetch came back empty");
        }
    }
    out.insert("raw_fetch", Figures::new(samples, started.elapsed()));
    // The same pages as `history`, one statement each.
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..reps {
        let mut after = 0_i64;
        loop {
            let t = Instant::now();
            let rows: Vec<(i64, String, Value, Option<String>)> = sqlx::query_as(
                "SELECT sequence, event_type, payload, metadata->>'actor_id' FROM events \
                  WHERE aggregate_type = 'Project' AND aggregate_id = $1 AND sequence > $2 \
                  ORDER BY sequence LIMIT 101",
            )
            .bind(project.to_string())
            .bind(after)
            .fetch_all(pool)
            .await?;
            samples.push(t.elapsed());
            match rows.get(99) {
                Some(last) if rows.len() == 101 => after = last.0,
                _ => break,
            }
        }
    }
    out.insert("raw_page", Figures::new(samples, started.elapsed()));
    Ok(out)
}

/// Rebuild baseline: one streaming read of the whole log, decoding each payload.
pub(crate) async fn stream_and_decode(pool: &PgPool) -> Result<(usize, Duration)> {
    let started = Instant::now();
    let mut rows = sqlx::query_as::<_, (String, Value)>(
        "SELECT aggregate_type, payload FROM events ORDER BY transaction_id, global_position",
    )
    .fetch(pool);
    let mut n = 0;
    while let Some((kind, payload)) = rows.try_next().await? {
        match kind.as_str() {
            "Lead" => drop(serde_json::from_value::<domain::lead::LeadEvent>(payload)?),
            "Project" => drop(serde_json::from_value::<domain::project::ProjectEvent>(
                payload,
            )?),
            "Client" => drop(serde_json::from_value::<domain::client::ClientEvent>(
                payload,
            )?),
            _ => drop(payload),
        }
        n += 1;
    }
    Ok((n, started.elapsed()))
}

/// Rebuild: what `zippcrm-replay rebuild --all` runs, every projection from zero,
/// `rebuild::DEFAULT_JOBS` at a time, largest first. Returns the total time and each
/// projection's seconds.
pub(crate) async fn rebuild_all(pool: &PgPool) -> Result<(Duration, BTreeMap<&'static str, f64>)> {
    // Ordered before the clock starts (the tool does the same for its progress bars).
    let ordered: Vec<_> = projections::rebuild::largest_first(pool, projections::all())
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let started = Instant::now();
    let done = projections::rebuild::rebuild_all(
        pool,
        &ordered,
        projections::rebuild::DEFAULT_JOBS,
        &|_, _| {},
    )
    .await
    .context("rebuilding")?;
    let elapsed = started.elapsed();
    Ok((
        elapsed,
        done.into_iter()
            .map(|(name, _, seconds)| (name, seconds))
            .collect(),
    ))
}

/// Freshness histograms scraped from `/metrics`: per projection, bucket bound → cumulative count.
pub(crate) async fn scrape_lag(address: &str) -> Result<BTreeMap<String, Vec<(f64, u64)>>> {
    let text = reqwest::get(format!("{address}/metrics"))
        .await?
        .text()
        .await?;
    let mut out: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("zippcrm_projection_lag_ms_bucket"))
    {
        let (labels, count) = line.rsplit_once(' ').context("metrics line")?;
        let name = labels
            .split("projection=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .context("projection label")?;
        let le = labels
            .split("le=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .context("le label")?;
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse()?
        };
        out.entry(name.to_owned())
            .or_default()
            .push((bound, count.parse()?));
    }
    Ok(out)
}

/// Freshness of one projection between two scrapes.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Lag {
    /// Events folded live in between.
    pub events: u64,
    /// Median, as the upper bound of its bucket (ms).
    pub p50_ms: f64,
    /// 99th percentile, as the upper bound of its bucket (ms).
    pub p99_ms: f64,
}

/// Per-projection lag between `before` and `after`.
pub(crate) fn lag_between(
    before: &BTreeMap<String, Vec<(f64, u64)>>,
    after: &BTreeMap<String, Vec<(f64, u64)>>,
) -> BTreeMap<String, Lag> {
    let mut out = BTreeMap::new();
    for (name, buckets) in after {
        let earlier = before.get(name);
        let cumulative: Vec<(f64, u64)> = buckets
            .iter()
            .enumerate()
            .map(|(i, (bound, count))| {
                let old = earlier.and_then(|b| b.get(i)).map_or(0, |(_, c)| *c);
                (*bound, count - old.min(*count))
            })
            .collect();
        let total = cumulative.last().map_or(0, |(_, c)| *c);
        if total == 0 {
            continue;
        }
        let quantile = |q: f64| {
            let rank = (q * total as f64).ceil() as u64;
            cumulative
                .iter()
                .find(|(_, c)| *c >= rank.max(1))
                .map_or(f64::INFINITY, |(b, _)| *b)
        };
        out.insert(
            name.clone(),
            Lag {
                events: total,
                p50_ms: quantile(0.5),
                p99_ms: quantile(0.99),
            },
        );
    }
    out
}
