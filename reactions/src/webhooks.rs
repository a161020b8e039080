//! Outbound webhooks (ADR 0013): the fan-out that queues deliveries (`fan_out`), and the
//! deliverers that drain `webhook_deliveries` on the courier
//! machinery, signing each request as the Standard Webhooks specification says
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `id.timestamp.body`). Every attempt is logged with its status, latency and the start of
//! the answer; an endpoint that has failed without a success for longer than
//! `ZIPPCRM_WEBHOOK_DISABLE_AFTER_SECS` is disabled and the admins are told.
//!
//! No request leaves for a special-purpose address (`addresses`: loopback, private,
//! link-local, the rest of the IANA registries, in whatever IPv6 form carries them) unless
//! `ZIPPCRM_WEBHOOK_ALLOW` names it: the check runs on the addresses the name resolves to
//! when the connection is made (so a name that changes its answer after registration gains
//! nothing), redirects are not followed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use commands::{CommandBus, CommandContext};
use domain::webhook::WebhookCommand;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::courier::{self, Claimed, Courier, Drain, Outcome, Queue};

mod addresses;
mod fan_out;
pub use addresses::{parse_allow, AddressPolicy};
pub use fan_out::{
    delivery_id, outgoing, queue, replay, webhook_id, Documented, Outgoing, Replayed, Since,
    Target, WebhookFanOut, DOCUMENTED, REPLAY_EVENTS,
};

/// Longest excerpt of an answer kept in the attempt log.
const EXCERPT: usize = 1024;

/// How often a deliverer records an endpoint that keeps succeeding as healthy.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// The resolver of the deliverers' client: only addresses the policy allows.
#[derive(Debug)]
struct CheckedResolver(Arc<AddressPolicy>);

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy
                .resolve(name.as_str(), 0)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Settings of the deliverers.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `ZIPPCRM_WEBHOOK_ATTEMPTS` (default 8), `ZIPPCRM_WEBHOOK_BACKOFF_MS` (default 30 s,
    /// doubling up to an hour), `ZIPPCRM_WEBHOOK_LEASE_SECS` (default 300).
    pub drain: Drain,
    /// `ZIPPCRM_WEBHOOK_TIMEOUT_MS`: how long a receiver may take to answer (default 10 s).
    pub timeout: Duration,
    /// `ZIPPCRM_WEBHOOK_DISABLE_AFTER_SECS`: an endpoint failing without a success for this
    /// long is disabled (default 5 days).
    pub disable_after: Duration,
    /// `ZIPPCRM_WEBHOOK_ALLOW`: comma-separated special-purpose addresses or ranges that
    /// endpoints may use all the same.
    pub addresses: AddressPolicy,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            drain: Drain {
                concurrency: 16,
                batch: 64,
                ..Drain::DEFAULT
            },
            timeout: Duration::from_secs(10),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            addresses: AddressPolicy::default(),
        }
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", BASE64.encode(bytes))
}

/// The `webhook-signature` header: one `v1,<signature>` per secret, space-separated.
pub fn signature(secrets: &[String], webhook_id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = BASE64
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{webhook_id}.{timestamp}.{body}").as_bytes());
            Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Stores a new secret for `endpoint_id`; the ones before it keep signing until
/// `retire_others_at`.
pub async fn store_secret(
    pool: &PgPool,
    endpoint_id: Uuid,
    secret: &str,
    retire_others_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE webhook_secrets SET retired_at = $2 \
          WHERE endpoint_id = $1 AND (retired_at IS NULL OR retired_at > $2)",
    )
    .bind(endpoint_id)
    .bind(retire_others_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO webhook_secrets (id, endpoint_id, secret) VALUES ($1, $2, $3)")
        .bind(Uuid::now_v7())
        .bind(endpoint_id)
        .bind(secret)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A delivery as a deliverer claimed it.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedDelivery {
    id: Uuid,
    attempts: i32,
    endpoint_id: Uuid,
    url: String,
    payload: String,
    secrets: Vec<String>,
}

impl Claimed for ClaimedDelivery {
    fn id(&self) -> Uuid {
        self.id
    }
    fn attempts(&self) -> i32 {
        self.attempts
    }
}

/// Deliveries of enabled endpoints, with the endpoint's URL and live secrets (newest first).
pub const DELIVERIES: Queue = Queue {
    table: "webhook_deliveries",
    channel: "zippcrm_webhooks",
    ready: "q.endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled)",
    join: Some(("webhook_endpoints e", "e.id = o.endpoint_id")),
    returning: "o.id, o.attempts, o.endpoint_id, e.url, o.payload::text AS payload, \
                ARRAY(SELECT s.secret FROM webhook_secrets s WHERE s.endpoint_id = o.endpoint_id \
                        AND (s.retired_at IS NULL OR s.retired_at > now()) ORDER BY s.created_at DESC) AS secrets",
};

/// What one attempt came to, as the log keeps it.
struct Attempt {
    status_code: Option<u16>,
    latency: Duration,
    error: Option<String>,
    excerpt: Option<String>,
}

/// A deliverer, its client built at start-up.
pub struct Deliverer {
    client: reqwest::Client,
    config: WebhookConfig,
    pool: PgPool,
    bus: Arc<CommandBus>,
    /// When this deliverer last recorded each endpoint healthy.
    healthy: std::sync::Mutex<HashMap<Uuid, Instant>>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    pub fn new(config: WebhookConfig, pool: PgPool, bus: Arc<CommandBus>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("ZippCRM-Webhooks/1")
            .dns_resolver(Arc::new(CheckedResolver(Arc::new(
                config.addresses.clone(),
            ))))
            .build()
            .context("building the webhook client")?;
        Ok(Deliverer {
            client,
            config,
            pool,
            bus,
            healthy: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Delivers until `shutdown`.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let pool = self.pool.clone();
        courier::run(self, pool, shutdown).await;
    }

    async fn post(&self, item: &ClaimedDelivery) -> Attempt {
        let started = Instant::now();
        let failed = |error: String| Attempt {
            status_code: None,
            latency: started.elapsed(),
            error: Some(error),
            excerpt: None,
        };
        // The resolver checks names; an address written in the URL is checked here.
        if let Some(host) = reqwest::Url::parse(&item.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = literal.parse::<IpAddr>() {
                if let Err(error) = self.config.addresses.check(ip) {
                    return failed(error);
                }
            }
        }
        if item.secrets.is_empty() {
            return failed("the endpoint has no signing secret".into());
        }
        let webhook_id = webhook_id(item.id);
        let timestamp = Utc::now().timestamp();
        let response = self
            .client
            .post(&item.url)
            .header("content-type", "application/json")
            .header("webhook-id", &webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&item.secrets, &webhook_id, timestamp, &item.payload),
            )
            .body(item.payload.clone())
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return failed(format!(
                    "no answer within {} ms",
                    self.config.timeout.as_millis()
                ))
            }
            Err(error) => return failed(describe(&error)),
        };
        let status = response.status();
        let latency = started.elapsed();
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT);
        Attempt {
            status_code: Some(status.as_u16()),
            latency,
            error: (!status.is_success()).then(|| format!("the endpoint answered {status}")),
            excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
        }
    }

    /// Logs the attempt and keeps the endpoint's health; disables an endpoint that has
    /// failed for too long.
    async fn record(&self, item: &ClaimedDelivery, attempt: &Attempt) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, error, response_excerpt) \
             VALUES ($1, $2, now(), $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(item.id)
        .bind(item.attempts)
        .bind(attempt.status_code.map(i32::from))
        .bind(i32::try_from(attempt.latency.as_millis()).unwrap_or(i32::MAX))
        .bind(&attempt.error)
        .bind(&attempt.excerpt)
        .execute(&self.pool)
        .await?;
        let Some(error) = &attempt.error else {
            // A healthy endpoint's row is rewritten at most once a second by this
            // deliverer: every success writing it made it the deliverers' hot row.
            let fresh = {
                let mut written = self.healthy.lock().unwrap_or_else(|e| e.into_inner());
                let fresh = written
                    .get(&item.endpoint_id)
                    .is_some_and(|at| at.elapsed() < HEALTH_EVERY);
                if !fresh {
                    written.insert(item.endpoint_id, Instant::now());
                }
                fresh
            };
            if fresh {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO webhook_endpoint_health (endpoint_id, last_success_at) VALUES ($1, now()) \
                 ON CONFLICT (endpoint_id) DO UPDATE SET failing_since = NULL, last_success_at = now()",
            )
            .bind(item.endpoint_id)
            .execute(&self.pool)
            .await?;
            return Ok(());
        };
        self.healthy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&item.endpoint_id);
        let failing_since: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO webhook_endpoint_health (endpoint_id, failing_since, last_failure_at) \
             VALUES ($1, now(), now()) \
             ON CONFLICT (endpoint_id) DO UPDATE \
                SET failing_since = COALESCE(webhook_endpoint_health.failing_since, now()), last_failure_at = now() \
             RETURNING failing_since",
        )
        .bind(item.endpoint_id)
        .fetch_one(&self.pool)
        .await?;
        let failing_for = (Utc::now() - failing_since).to_std().unwrap_or_default();
        if failing_for >= self.config.disable_after {
            self.disable(item, failing_since, error).await?;
        }
        Ok(())
    }

    async fn disable(
        &self,
        item: &ClaimedDelivery,
        failing_since: DateTime<Utc>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        let admins: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM user_view WHERE role = 'admin' AND active ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let ctx = CommandContext::system();
        let command = WebhookCommand::Disable {
            reason: format!(
                "{} has failed every delivery since {} (last: {error})",
                item.url,
                failing_since.format("%Y-%m-%d %H:%M UTC")
            ),
            by: None,
            notify: admins,
            at: ctx.issued_at,
        };
        match self
            .bus
            .webhook_endpoint(&ctx, item.endpoint_id, command)
            .await
        {
            Ok(_) => {
                tracing::warn!(endpoint = %item.endpoint_id, url = %item.url, "webhook endpoint disabled after failing")
            }
            Err(error) => {
                tracing::warn!(endpoint = %item.endpoint_id, %error, "could not disable a failing webhook endpoint")
            }
        }
        Ok(())
    }
}

/// A request error with its causes: reqwest's own message alone says "error sending
/// request".
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl Courier for Deliverer {
    type Item = ClaimedDelivery;
    const WHAT: &'static str = "webhook";

    fn queue(&self) -> &Queue {
        &DELIVERIES
    }

    fn drain(&self) -> &Drain {
        &self.config.drain
    }

    async fn deliver(&self, item: &ClaimedDelivery) -> Outcome {
        let attempt = self.post(item).await;
        if let Err(error) = self.record(item, &attempt).await {
            tracing::warn!(id = %item.id, %error, "could not log a webhook attempt");
        }
        match attempt.error {
            None => Outcome::Sent,
            Some(error) => Outcome::Transient(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_one() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
