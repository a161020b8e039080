//! Webhooks: the delay from an event's commit to its delivery when events fan out to three
//! endpoints, beside the round trip of a signed POST sent straight to the same receiver by
//! a client with as many requests in flight as the deliverers.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::StreamExt;
use serde_json::json;
use sqlx::PgPool;
use tests::receiver::Receiver;
use uuid::Uuid;

use crate::scenarios::Api;
use crate::stats::Figures;

/// What the scenario measured.
#[derive(Debug, serde::Serialize)]
pub(crate) struct FanOutRun {
    pub events: usize,
    pub endpoints: usize,
    /// Commit (the event's `recorded_at`) to arrival at the receiver.
    pub delivery: Figures,
    /// Of that, commit to the delivery's row (the fan-out reactor's share), p50 and p99 in
    /// milliseconds.
    pub queued_p50_ms: f64,
    pub queued_p99_ms: f64,
    /// A signed POST's round trip, sent straight to the receiver.
    pub raw: Figures,
    /// Distinct `webhook-id`s received.
    pub distinct: usize,
    /// Requests received (more than `distinct` if any was delivered twice).
    pub received: usize,
}

const ENDPOINTS: usize = 3;
/// Requests in flight, as one deliverer has.
const IN_FLIGHT: usize = 16;

/// Registers three endpoints, adds `n` tasks through the API (one writer per project), and
/// waits until the receiver has every delivery.
pub(crate) async fn run(admin: &Api, pool: &PgPool, n: usize) -> Result<FanOutRun> {
    let receiver = Receiver::start().await;
    for e in 0..ENDPOINTS {
        admin
            .call(
                "mutation($i: WebhookEndpointInput!) { registerWebhookEndpoint(input: $i) { secret } }",
                json!({ "i": { "url": receiver.url(&format!("/endpoint-{e}")), "role": "ADMIN", "eventTypes": ["TASK_CREATED"] } }),
            )
            .await?;
    }
    let projects: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE aggregate_type = 'Project' AND event_type = 'ProjectCreated' \
          ORDER BY global_position LIMIT $1",
    )
    .bind(i64::try_from(IN_FLIGHT)?)
    .fetch_all(pool)
    .await?;
    if projects.is_empty() {
        bail!("no projects to add tasks to");
    }
    let per_project = n.div_ceil(projects.len());
    let added = futures::stream::iter(projects.iter().enumerate())
        .map(|(p, project)| async move {
            let mut added = 0;
            for t in 0..per_project {
                if p * per_project + t >= n {
                    break;
                }
                admin
                    .call(
                        "mutation($p: UUID!, $t: String!) { addTask(projectId: $p, input: { title: $t }) { createdId } }",
                        json!({ "p": project, "t": format!("Fan-out task {t}") }),
                    )
                    .await?;
                added += 1;
            }
            anyhow::Ok(added)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum::<Result<usize>>()?;
    let expected = added * ENDPOINTS;
    let deadline = Instant::now() + Duration::from_secs(1_800);
    while receiver.requests().len() < expected {
        if Instant::now() > deadline {
            bail!(
                "{} of {expected} deliveries after 30 minutes",
                receiver.requests().len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = receiver.requests();
    let first = requests.iter().map(|r| r.at).min();
    let last = requests.iter().map(|r| r.at).max();
    let delays: Vec<Duration> = requests
        .iter()
        .filter_map(|r| {
            let committed: chrono::DateTime<chrono::Utc> =
                serde_json::from_value(r.json()["timestamp"].clone()).ok()?;
            (r.at - committed).to_std().ok()
        })
        .collect();
    let wall = match (first, last) {
        (Some(first), Some(last)) => (last - first).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let mut ids: Vec<&str> = requests
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let distinct = ids.len();
    let received = requests.len();
    let sample = requests.first().map(|r| r.body.clone()).unwrap_or_default();
    let (queued_p50_ms, queued_p99_ms): (f64, f64) = sqlx::query_as(
        "SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) * 1000)::float8, \
                (percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) * 1000)::float8 \
           FROM (SELECT extract(epoch FROM created_at - committed_at) AS lag FROM webhook_deliveries) d",
    )
    .fetch_one(pool)
    .await?;
    let raw = raw_round_trips(&receiver, &sample, expected).await?;
    Ok(FanOutRun {
        events: added,
        endpoints: ENDPOINTS,
        delivery: Figures::new(delays, wall),
        queued_p50_ms,
        queued_p99_ms,
        raw,
        distinct,
        received,
    })
}

/// `n` signed POSTs of `body`, `IN_FLIGHT` at once, straight to the receiver.
async fn raw_round_trips(receiver: &Receiver, body: &str, n: usize) -> Result<Figures> {
    let client = reqwest::Client::builder().build()?;
    let secret = vec![reactions::webhooks::new_secret()];
    let url = receiver.url("/raw");
    let started = Instant::now();
    let samples = futures::stream::iter(0..n)
        .map(|_| {
            let (client, url, secret) = (&client, &url, &secret);
            async move {
                let id = format!("msg_{}", Uuid::now_v7().simple());
                let timestamp = chrono::Utc::now().timestamp();
                let began = Instant::now();
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header(
                        "webhook-signature",
                        reactions::webhooks::signature(secret, &id, timestamp, body),
                    )
                    .body(body.to_owned())
                    .send()
                    .await?;
                response.bytes().await?;
                anyhow::Ok(began.elapsed())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    Ok(Figures::new(samples, started.elapsed()))
}
