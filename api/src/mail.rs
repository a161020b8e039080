//! Email delivery: senders drain `email_outbox` over SMTP (or, in development without
//! `SMTP_HOST`, into `.eml` files in a mail directory).
//!
//! The outbox is filled by reactors, the bus and the scheduler in the transactions that
//! decide a message; a sender claims due messages (`FOR UPDATE SKIP LOCKED`, so every
//! replica can run one) by marking them `sending` with the time, sends each with a
//! `Message-ID` derived from its row, and marks it `sent` only once the server accepted it.
//! A transient failure (a 4xx answer, a refused connection, a time-out) sends it back to
//! the queue with an exponential backoff until the attempts run out; a permanent one (5xx)
//! fails it with the server's answer. A sender that dies mid-send leaves its claims
//! `sending`: once the lease is over they are claimed again and sent with the same
//! `Message-ID`, so a server that deduplicates on it receives each message once
//! (at-least-once delivery, ADR 0012).

pub mod outbox;
pub mod render;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

/// How the SMTP connection is secured (`SMTP_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain, then upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// No encryption: a relay on the same host or network only.
    None,
}

impl TlsMode {
    /// Parses `SMTP_TLS` (`tls`, `starttls`, `none`); unset, TLS on port 465 and STARTTLS
    /// elsewhere.
    pub fn parse(value: Option<&str>, port: u16) -> Result<Self> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None if port == 465 => Ok(TlsMode::Tls),
            None | Some("starttls") => Ok(TlsMode::StartTls),
            Some("tls") => Ok(TlsMode::Tls),
            Some("none") => Ok(TlsMode::None),
            Some(other) => {
                anyhow::bail!("SMTP_TLS must be tls, starttls or none, not '{other}'")
            }
        }
    }
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_TLS`.
    Smtp {
        host: String,
        port: u16,
        credentials: Option<(String, String)>,
        tls: TlsMode,
    },
    /// Development without `SMTP_HOST`: `.eml` files in `ZIPPCRM_MAIL_DIR`.
    Directory(PathBuf),
}

/// Settings of the senders.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// `SMTP_FROM`, default `ZippCRM <no-reply@zippcrm.local>`.
    pub from: String,
    /// `ZIPPCRM_MAIL_ATTEMPTS`: attempts before a message that keeps failing transiently
    /// fails (default 8).
    pub attempts: u32,
    /// `ZIPPCRM_MAIL_BACKOFF_MS`: wait after the first transient failure, doubled after each
    /// further one up to an hour (default 30 s).
    pub backoff: Duration,
    /// `ZIPPCRM_MAIL_LEASE_SECS`: how long a claim lasts before another sender takes the
    /// message again (default 300).
    pub lease: Duration,
    /// Polling fallback when no notification arrives.
    pub poll: Duration,
}

impl MailConfig {
    /// Development's default: files in `dir`.
    pub fn directory(dir: impl Into<PathBuf>) -> Self {
        MailConfig {
            transport: MailTransport::Directory(dir.into()),
            from: "ZippCRM <no-reply@zippcrm.local>".into(),
            attempts: 8,
            backoff: Duration::from_secs(30),
            lease: Duration::from_secs(300),
            poll: Duration::from_secs(1),
        }
    }

    fn backoff_after(&self, attempts: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)));
        doubled.min(Duration::from_secs(3600).max(self.backoff))
    }
}

/// A message as a sender claimed it.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    kind: String,
    to_address: String,
    subject: String,
    body: String,
    attempts: i32,
}

/// What a sending attempt came to.
enum Outcome {
    Sent,
    /// Try again later, unless the attempts are used up.
    Transient(String),
    Permanent(String),
}

/// A built transport.
enum Sender {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

impl Sender {
    fn build(transport: &MailTransport) -> Result<Self> {
        match transport {
            MailTransport::Smtp {
                host,
                port,
                credentials,
                tls,
            } => {
                let tls = match tls {
                    TlsMode::None => Tls::None,
                    TlsMode::StartTls => Tls::Required(TlsParameters::new(host.clone())?),
                    TlsMode::Tls => Tls::Wrapper(TlsParameters::new(host.clone())?),
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(*port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(30)));
                if let Some((user, password)) = credentials {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Ok(Sender::Smtp(builder.build()))
            }
            MailTransport::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the mail directory {}", dir.display()))?;
                Ok(Sender::Directory(AsyncFileTransport::new(dir), dir.clone()))
            }
        }
    }

    async fn send(&self, message: Message) -> Outcome {
        match self {
            Sender::Smtp(smtp) => match smtp.send(message).await {
                Ok(_) => Outcome::Sent,
                Err(e) if e.is_permanent() => Outcome::Permanent(e.to_string()),
                Err(e) => Outcome::Transient(e.to_string()),
            },
            Sender::Directory(files, dir) => match files.send(message).await {
                Ok(id) => {
                    tracing::info!(file = %dir.join(format!("{id}.eml")).display(), "email written");
                    Outcome::Sent
                }
                Err(e) => Outcome::Transient(e.to_string()),
            },
        }
    }
}

/// The `Message-ID` of outbox message `id`: the same on every attempt.
pub fn message_id(id: Uuid, from: &Mailbox) -> String {
    format!("<{id}@{}>", from.email.domain())
}

fn message(row: &Claimed, from: &Mailbox, portal_url: &str) -> Result<Message, String> {
    let to: Mailbox = row
        .to_address
        .parse()
        .map_err(|e| format!("the address '{}' is not valid: {e}", row.to_address))?;
    let (text, html) = render::bodies(&row.kind, &row.body, portal_url);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(message_id(row.id, from)))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| e.to_string())
}

/// Claims up to `limit` messages that are due, or whose sender's claim ran out.
async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE email_outbox o SET status = 'sending', claimed_at = now(), attempts = o.attempts + 1, \
                updated_at = now() \
          WHERE o.id IN (SELECT id FROM email_outbox \
                          WHERE (status = 'queued' AND next_attempt_at <= now()) \
                             OR (status = 'sending' AND claimed_at < now() - make_interval(secs => $2)) \
                          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING o.id, o.kind, o.to_address, o.subject, o.body, o.attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

async fn settle(
    pool: &PgPool,
    config: &MailConfig,
    row: &Claimed,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
    let query = match outcome {
        Outcome::Sent => sqlx::query(
            "UPDATE email_outbox SET status = 'sent', sent_at = now(), last_error = NULL, updated_at = now() \
              WHERE id = $1 AND status = 'sending'",
        )
        .bind(row.id),
        Outcome::Transient(error) if attempts < config.attempts => {
            tracing::warn!(id = %row.id, attempts, %error, "email not sent; will retry");
            sqlx::query(
                "UPDATE email_outbox SET status = 'queued', last_error = $2, updated_at = now(), \
                        next_attempt_at = now() + make_interval(secs => $3) \
                  WHERE id = $1 AND status = 'sending'",
            )
            .bind(row.id)
            .bind(error)
            .bind(config.backoff_after(attempts).as_secs_f64())
        }
        Outcome::Transient(error) | Outcome::Permanent(error) => {
            tracing::warn!(id = %row.id, attempts, %error, "email failed");
            sqlx::query(
                "UPDATE email_outbox SET status = 'failed', last_error = $2, updated_at = now() \
                  WHERE id = $1 AND status = 'sending'",
            )
            .bind(row.id)
            .bind(error)
        }
    };
    query.execute(pool).await?;
    Ok(())
}

/// Messages sent at once by one sender.
const CONCURRENT_SENDS: usize = 8;
/// Messages claimed at once.
const CLAIM_BATCH: i64 = 32;

/// A sender, its settings checked: built at start-up, so a bad `SMTP_*` setting stops the
/// server there rather than leaving it without one.
pub struct Mailer {
    sender: Sender,
    from: Mailbox,
    config: MailConfig,
    portal_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks `config` and builds its transport; links in messages point to `portal_url`.
    pub fn new(config: MailConfig, portal_url: &str) -> Result<Self> {
        let sender = Sender::build(&config.transport)?;
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("SMTP_FROM '{}' is not a valid address", config.from))?;
        if let MailTransport::Directory(dir) = &config.transport {
            tracing::info!(dir = %dir.display(), "no SMTP_HOST: emails are written to this directory as .eml files");
        }
        Ok(Mailer {
            sender,
            from,
            config,
            portal_url: portal_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Drains the outbox until `shutdown`: wakes on every queued message (`zippcrm_outbox`)
    /// and at least every `config.poll`; a database that went away is waited for.
    pub async fn run(self, pool: PgPool, mut shutdown: watch::Receiver<bool>) {
        let mut listener = loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen("zippcrm_outbox").await {
                    Ok(()) => break listener,
                    Err(error) => tracing::warn!(%error, "email sender: could not listen"),
                },
                Err(error) => tracing::warn!(%error, "email sender: could not connect"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(self.config.poll) => {}
            }
        };
        loop {
            if *shutdown.borrow() {
                return;
            }
            let claimed = match claim(&pool, CLAIM_BATCH, self.config.lease).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "could not claim emails");
                    Vec::new()
                }
            };
            let full = i64::try_from(claimed.len()).unwrap_or(0) == CLAIM_BATCH;
            futures::stream::iter(claimed)
                .for_each_concurrent(CONCURRENT_SENDS, |row| {
                    let (pool, this) = (&pool, &self);
                    async move {
                        let outcome = match message(&row, &this.from, &this.portal_url) {
                            Ok(message) => this.sender.send(message).await,
                            Err(error) => Outcome::Permanent(error),
                        };
                        if let Err(error) = settle(pool, &this.config, &row, outcome).await {
                            // Left `sending`: taken again once the lease is over.
                            tracing::warn!(id = %row.id, %error, "could not record an email's outcome");
                        }
                    }
                })
                .await;
            if full {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                received = listener.recv() => {
                    if received.is_err() {
                        // The connection is gone; the next recv reconnects.
                        tokio::time::sleep(self.config.poll).await;
                    }
                }
                () = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_mode_follows_the_port_unless_said() {
        assert_eq!(TlsMode::parse(None, 465).expect("465"), TlsMode::Tls);
        assert_eq!(TlsMode::parse(None, 587).expect("587"), TlsMode::StartTls);
        assert_eq!(
            TlsMode::parse(Some("NONE"), 25).expect("none"),
            TlsMode::None
        );
        assert!(TlsMode::parse(Some("ssl"), 25).is_err());
    }

    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        let config = MailConfig::directory("/tmp");
        assert_eq!(config.backoff_after(1), Duration::from_secs(30));
        assert_eq!(config.backoff_after(3), Duration::from_secs(120));
        assert_eq!(config.backoff_after(30), Duration::from_secs(3600));
    }
}
