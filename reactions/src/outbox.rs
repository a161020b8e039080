//! The message queues' writers: each queue is written by one function here. Rows carry a
//! dedupe key where a message must go once whatever runs twice (a reaction retried, a
//! scheduler pass repeated): a second row under the same key is not queued.
//!
//! Webhook deliveries have their one writer beside the fan-out that makes them
//! ([`crate::webhooks::queue`]): who receives an event is decided in the same statement.

use sqlx::PgConnection;
use uuid::Uuid;

/// An email to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The row's id (a notification's message keeps the notification's id).
    pub id: Uuid,
    /// What it is (`set_password`, `password_reset`, `request_reminder`, `digest`, or
    /// the kind of the notification it carries), shown in the Ops Center.
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    /// The user it is for, when it is for one.
    pub user_id: Option<Uuid>,
    /// Queued once under this key.
    pub dedupe_key: Option<String>,
}

/// A WhatsApp message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsApp {
    pub id: Uuid,
    /// The notification kind it carries.
    pub kind: String,
    pub user_id: Uuid,
    pub to_number: String,
    pub body: String,
    /// Queued once under this key.
    pub dedupe_key: String,
}

/// Queues `emails` in one statement; returns the ids of those queued (a row whose dedupe
/// key is taken is not).
pub async fn queue_emails(
    conn: &mut PgConnection,
    emails: &[Email],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&Email) -> String| emails.iter().map(f).collect::<Vec<_>>();
    sqlx::query_scalar(
        "INSERT INTO email_outbox (id, kind, to_address, subject, body, user_id, dedupe_key) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
                              $6::uuid[], $7::text[]) \
         ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING \
         RETURNING id",
    )
    .bind(emails.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(column(|e| e.kind.clone()))
    .bind(column(|e| e.to_address.clone()))
    .bind(column(|e| e.subject.clone()))
    .bind(column(|e| e.body.clone()))
    .bind(emails.iter().map(|e| e.user_id).collect::<Vec<_>>())
    .bind(
        emails
            .iter()
            .map(|e| e.dedupe_key.clone())
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await
}

/// Queues `messages` in one statement; returns how many were queued.
pub async fn queue_whatsapp(
    conn: &mut PgConnection,
    messages: &[WhatsApp],
) -> Result<u64, sqlx::Error> {
    if messages.is_empty() {
        return Ok(0);
    }
    let column = |f: fn(&WhatsApp) -> String| messages.iter().map(f).collect::<Vec<_>>();
    let queued = sqlx::query(
        "INSERT INTO whatsapp_outbox (id, kind, user_id, to_number, body, dedupe_key) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[]) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(messages.iter().map(|m| m.id).collect::<Vec<_>>())
    .bind(column(|m| m.kind.clone()))
    .bind(messages.iter().map(|m| m.user_id).collect::<Vec<_>>())
    .bind(column(|m| m.to_number.clone()))
    .bind(column(|m| m.body.clone()))
    .bind(column(|m| m.dedupe_key.clone()))
    .execute(conn)
    .await?;
    Ok(queued.rows_affected())
}
