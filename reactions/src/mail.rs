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
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::courier::{self, Claimed, Courier, Drain, Outcome, Queue};

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
    /// The mode named `tls`, `starttls` or `none` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "tls" => Some(TlsMode::Tls),
            "starttls" => Some(TlsMode::StartTls),
            "none" => Some(TlsMode::None),
            _ => None,
        }
    }

    /// The mode of `port` when none is named: TLS on 465, STARTTLS elsewhere.
    pub fn default_for(port: u16) -> Self {
        if port == 465 {
            TlsMode::Tls
        } else {
            TlsMode::StartTls
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
        credentials: Option<(String, SecretString)>,
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
    /// Retries and lease: `ZIPPCRM_MAIL_ATTEMPTS` (default 8), `ZIPPCRM_MAIL_BACKOFF_MS`
    /// (default 30 s, doubling up to an hour), `ZIPPCRM_MAIL_LEASE_SECS` (default 300).
    pub drain: Drain,
}

impl MailConfig {
    /// Development's default: files in `dir`.
    pub fn directory(dir: impl Into<PathBuf>) -> Self {
        MailConfig {
            transport: MailTransport::Directory(dir.into()),
            from: "ZippCRM <no-reply@zippcrm.local>".into(),
            drain: Drain::DEFAULT,
        }
    }
}

/// A message as a sender claimed it.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedEmail {
    id: Uuid,
    kind: String,
    to_address: String,
    subject: String,
    body: String,
    attempts: i32,
}

impl Claimed for ClaimedEmail {
    fn id(&self) -> Uuid {
        self.id
    }
    fn attempts(&self) -> i32 {
        self.attempts
    }
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
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        password.expose_secret().to_owned(),
                    ));
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

/// Whether `from` is a sender address such as `ZippCRM <no-reply@firm.example>`.
pub fn valid_sender(from: &str) -> bool {
    from.parse::<Mailbox>().is_ok()
}

/// The `Message-ID` of outbox message `id`: the same on every attempt.
pub fn message_id(id: Uuid, from: &Mailbox) -> String {
    format!("<{id}@{}>", from.email.domain())
}

fn message(row: &ClaimedEmail, from: &Mailbox, portal_url: &str) -> Result<Message, String> {
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

/// The email outbox as a queue.
pub const OUTBOX: Queue = Queue {
    table: "email_outbox",
    channel: "zippcrm_outbox",
    ready: "true",
    join: None,
    returning: "o.id, o.kind, o.to_address, o.subject, o.body, o.attempts",
};

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

    /// Drains the outbox until `shutdown`.
    pub async fn run(self, pool: PgPool, shutdown: watch::Receiver<bool>) {
        courier::run(self, pool, shutdown).await;
    }
}

#[async_trait]
impl Courier for Mailer {
    type Item = ClaimedEmail;
    const WHAT: &'static str = "email";

    fn queue(&self) -> &Queue {
        &OUTBOX
    }

    fn drain(&self) -> &Drain {
        &self.config.drain
    }

    async fn deliver(&self, row: &ClaimedEmail) -> Outcome {
        match message(row, &self.from, &self.portal_url) {
            Ok(message) => self.sender.send(message).await,
            Err(error) => Outcome::Permanent(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_mode_follows_the_port_unless_said() {
        assert_eq!(TlsMode::default_for(465), TlsMode::Tls);
        assert_eq!(TlsMode::default_for(587), TlsMode::StartTls);
        assert_eq!(TlsMode::from_name("NONE").expect("none"), TlsMode::None);
        assert!(TlsMode::from_name("ssl").is_none());
    }
}
