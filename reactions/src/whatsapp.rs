//! WhatsApp delivery: senders drain `whatsapp_outbox` on the courier machinery, handing
//! each message to the business solution provider's HTTP API (`WHATSAPP_BSP_URL`, the
//! messages endpoint; `WHATSAPP_TOKEN`, a bearer token; `WHATSAPP_NUMBER`, the firm's
//! sending number) in the Cloud API's text-message shape, with the outbox row's id as the
//! `Idempotency-Key`. A 2xx hands it over (the BSP's message id is kept); 408, 429, 5xx,
//! time-outs and refused connections are retried; any other answer fails it with the BSP's
//! words. Only notifications a person opted into reach this outbox.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::courier::{self, Claimed, Courier, Drain, Outcome, Queue};

/// Settings of the senders; none without `WHATSAPP_BSP_URL`.
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    /// The BSP's messages endpoint.
    pub url: String,
    pub token: SecretString,
    /// The firm's sending number, E.164.
    pub number: String,
    /// `ZIPPCRM_WHATSAPP_ATTEMPTS`, `_BACKOFF_MS`, `_LEASE_SECS`.
    pub drain: Drain,
    /// How long the BSP may take to answer.
    pub timeout: Duration,
}

impl WhatsAppConfig {
    /// A BSP at `url` (http or https) sending from `number` (E.164), with the default
    /// retries and lease.
    pub fn new(url: &str, token: SecretString, number: &str) -> Result<Self> {
        let parsed = reqwest::Url::parse(url).context("WHATSAPP_BSP_URL is not a URL")?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("WHATSAPP_BSP_URL must be an http or https URL");
        }
        let number = domain::user::phone_number(number)
            .map_err(|e| anyhow::anyhow!("WHATSAPP_NUMBER {}", e.message))?;
        Ok(WhatsAppConfig {
            url: url.to_owned(),
            token,
            number,
            drain: Drain::DEFAULT,
            timeout: Duration::from_secs(10),
        })
    }
}

/// A message as a sender claimed it.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedMessage {
    id: Uuid,
    attempts: i32,
    to_number: String,
    body: String,
}

impl Claimed for ClaimedMessage {
    fn id(&self) -> Uuid {
        self.id
    }
    fn attempts(&self) -> i32 {
        self.attempts
    }
}

pub const OUTBOX: Queue = Queue {
    table: "whatsapp_outbox",
    channel: "zippcrm_whatsapp",
    ready: "true",
    join: None,
    returning: "o.id, o.attempts, o.to_number, o.body",
};

/// A sender, its client built at start-up.
pub struct WhatsAppSender {
    client: reqwest::Client,
    config: WhatsAppConfig,
    pool: PgPool,
}

impl std::fmt::Debug for WhatsAppSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppSender")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl WhatsAppSender {
    pub fn new(config: WhatsAppConfig, pool: PgPool) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent("ZippCRM/1")
            .build()
            .context("building the WhatsApp client")?;
        Ok(WhatsAppSender {
            client,
            config,
            pool,
        })
    }

    /// Sends until `shutdown`.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let pool = self.pool.clone();
        courier::run(self, pool, shutdown).await;
    }
}

#[async_trait]
impl Courier for WhatsAppSender {
    type Item = ClaimedMessage;
    const WHAT: &'static str = "whatsapp";

    fn queue(&self) -> &Queue {
        &OUTBOX
    }

    fn drain(&self) -> &Drain {
        &self.config.drain
    }

    async fn deliver(&self, item: &ClaimedMessage) -> Outcome {
        let request = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "from": self.config.number,
            "to": item.to_number,
            "type": "text",
            "text": { "preview_url": true, "body": item.body },
        });
        let response = self
            .client
            .post(&self.config.url)
            .bearer_auth(self.config.token.expose_secret())
            .header("idempotency-key", item.id.to_string())
            .json(&request)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Outcome::Transient("the BSP did not answer in time".into())
            }
            Err(error) => return Outcome::Transient(format!("the BSP is unreachable: {error}")),
        };
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        if status.is_success() {
            let provider_id = serde_json::from_str::<serde_json::Value>(&answer)
                .ok()
                .and_then(|v| v["messages"][0]["id"].as_str().map(str::to_owned));
            if let Err(error) =
                sqlx::query("UPDATE whatsapp_outbox SET provider_message_id = $2 WHERE id = $1")
                    .bind(item.id)
                    .bind(provider_id)
                    .execute(&self.pool)
                    .await
            {
                tracing::warn!(id = %item.id, %error, "could not keep the BSP's message id");
            }
            return Outcome::Sent;
        }
        let excerpt: String = answer.chars().take(500).collect();
        let error = format!("the BSP answered {status}: {excerpt}");
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Outcome::Transient(error)
        } else {
            Outcome::Permanent(error)
        }
    }
}
