//! Email: how fast the server's senders drain a queued outbox to an SMTP server, beside the
//! raw rate of the same SMTP client (lettre, pooled, as many sends at once) sending the same
//! messages straight to the same server.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::StreamExt;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reactions::outbox::{queue_emails, Email};
use sqlx::PgPool;
use tests::smtp::SmtpServer;

/// What the scenario measured.
#[derive(Debug, serde::Serialize)]
pub(crate) struct MailRun {
    pub messages: usize,
    pub drained_per_second: f64,
    pub raw_per_second: f64,
    /// Messages the SMTP server received from the drain, one per Message-ID.
    pub received: usize,
}

/// Sends at once, as one sender does.
const AT_ONCE: usize = 8;

/// Queues `n` messages in one statement and waits until the server's senders have sent them
/// all to `smtp`; then sends `n` messages of the same bodies straight to it.
pub(crate) async fn run(pool: &PgPool, smtp: &SmtpServer, n: usize) -> Result<MailRun> {
    // What the earlier scenarios queued (invitations, notification emails) goes first.
    drained(pool).await?;
    let before = smtp.messages().len();
    let body = "Hello,\n\nA document is due on 2026-12-20: the board resolution. Upload it in the portal:\n\nhttps://portal.firm.example/requests\n";
    let emails: Vec<Email> = (1..=n)
        .map(|i| Email {
            id: uuid::Uuid::now_v7(),
            kind: "request_reminder".into(),
            to_address: format!("person{i}@client.example"),
            subject: "Reminder".into(),
            body: body.into(),
            user_id: None,
            dedupe_key: None,
        })
        .collect();
    let started = Instant::now();
    queue_emails(&mut *pool.acquire().await?, &emails).await?;
    drained(pool).await?;
    let drain_time = started.elapsed();
    let received = smtp.messages().len() - before;

    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp.addr.port())
        .build();
    let from: Mailbox = "ZippCRM <no-reply@zippcrm.local>".parse()?;
    let (text, html) =
        reactions::mail::render::bodies("request_reminder", body, "https://portal.firm.example");
    let started = Instant::now();
    let failures = futures::stream::iter(0..n)
        .map(|i| {
            let (transport, from, text, html) = (&transport, &from, text.clone(), html.clone());
            async move {
                let to: Mailbox = match format!("person{i}@client.example").parse() {
                    Ok(to) => to,
                    Err(_) => return true,
                };
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject("Reminder")
                    .message_id(Some(format!("<raw-{i}@zippcrm.local>")))
                    .multipart(MultiPart::alternative_plain_html(text, html));
                match message {
                    Ok(message) => transport.send(message).await.is_err(),
                    Err(_) => true,
                }
            }
        })
        .buffer_unordered(AT_ONCE)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    let raw = started.elapsed();
    if failures > 0 {
        bail!("{failures} raw sends failed");
    }
    Ok(MailRun {
        messages: n,
        drained_per_second: n as f64 / drain_time.as_secs_f64(),
        raw_per_second: n as f64 / raw.as_secs_f64(),
        received,
    })
}

/// Waits until the outbox has nothing left to send.
async fn drained(pool: &PgPool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1_800);
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM email_outbox WHERE status IN ('queued', 'sending')",
        )
        .fetch_one(pool)
        .await?;
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{left} emails still queued after 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
