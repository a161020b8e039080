//! The scheduler: licence expiry alerts (90, 60 and 30 days ahead), reminders for
//! document requests that are due soon, due-soon and overdue alerts of service items, and
//! each digest recipient's email of yesterday's notifications. Runs where `SCHEDULER_ENABLED=true` (one replica).
//!
//! The scheduler decides *when*; what it does goes the reactors' way: its commands carry a
//! reaction key per project and day (`CommandContext::scheduled`), so a pass run twice, or on
//! two replicas by mistake, appends nothing twice (and the Project aggregate refuses to
//! repeat an alert besides), and a reminder is an outbox row under a unique dedupe key.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use commands::{CommandBus, CommandContext};
use domain::project::BillingCommand;
use domain::service::ServiceItemCommand;
use sqlx::PgPool;
use uuid::Uuid;

use crate::outbox::{queue_emails, Email};

/// Days before the due date at which a reminder is queued.
pub const REMINDER_DAYS: [i64; 2] = [3, 1];

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Projects whose licence was checked.
    pub licences_checked: usize,
    /// Reminder emails queued.
    pub reminders_queued: u64,
    /// Unfinished service items due soon or overdue that were looked at.
    pub service_items_checked: usize,
    /// Daily digests queued (for yesterday's notifications).
    pub digests_queued: u64,
}

/// An email a pass selected, with its dedupe key (once per request, recipient and day; once
/// per recipient and day for a digest).
#[derive(sqlx::FromRow)]
struct Selected {
    to_address: String,
    subject: String,
    body: String,
    user_id: Uuid,
    dedupe_key: String,
}

/// Queues `selected` as emails of `kind`; how many were queued (not already under their key).
async fn queue(pool: &PgPool, kind: &str, selected: Vec<Selected>) -> Result<u64, sqlx::Error> {
    let emails: Vec<Email> = selected
        .into_iter()
        .map(|s| Email {
            id: Uuid::now_v7(),
            kind: kind.to_owned(),
            to_address: s.to_address,
            subject: s.subject,
            body: s.body,
            user_id: Some(s.user_id),
            dedupe_key: Some(s.dedupe_key),
        })
        .collect();
    let mut conn = pool.acquire().await?;
    let queued = queue_emails(&mut conn, &emails).await?;
    Ok(u64::try_from(queued.len()).unwrap_or(u64::MAX))
}

/// One pass for the date `today`.
pub async fn run_once(bus: &CommandBus, pool: &PgPool, today: NaiveDate) -> anyhow::Result<Pass> {
    let mut pass = Pass::default();
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM project_view WHERE licence_expires_on BETWEEN $1 AND $1 + $2 ORDER BY id",
    )
    .bind(today)
    .bind(i32::try_from(domain::project::ALERT_HORIZON_DAYS).unwrap_or(i32::MAX))
    .fetch_all(pool)
    .await?;
    for project_id in due {
        let ctx = CommandContext::scheduled("expiry-alerts", project_id, today);
        bus.project(
            &ctx,
            project_id,
            BillingCommand::RaiseExpiryAlerts {
                today,
                at: ctx.issued_at,
            }
            .into(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("expiry alerts for project {project_id}: {e}"))?;
        pass.licences_checked += 1;
    }
    for days in REMINDER_DAYS {
        let reminders: Vec<Selected> = sqlx::query_as(
            "SELECT r.email AS to_address, 'Reminder: a document is due on ' || d.due_on AS subject, \
                    d.item_title || ': ' || d.instructions || ' Upload it in the portal.' AS body, \
                    r.user_id, 'reminder:' || d.id || ':' || r.user_id || ':' || $2 AS dedupe_key \
               FROM document_requests d \
               JOIN notification_recipients r ON r.client_id = d.client_id AND r.active \
              WHERE d.status IN ('open', 'rejected') AND d.due_on = $1 + $2::int",
        )
        .bind(today)
        .bind(days as i32)
        .fetch_all(pool)
        .await?;
        pass.reminders_queued += queue(pool, "request_reminder", reminders).await?;
    }
    // Yesterday's notifications (UTC), one email per recipient who takes the digest, listing
    // those of the kinds they did not mute; once per recipient and day (the dedupe key).
    let digests: Vec<Selected> = sqlx::query_as(
        "SELECT r.email AS to_address, 'Your ZippCRM notifications of ' || ($1::date - 1) AS subject, \
                'Hello,' || E'\\n\\n' || 'What happened on ' || ($1::date - 1) || ':' || E'\\n\\n' || \
                string_agg('- ' || n.title || ': ' || n.body, E'\\n' ORDER BY n.created_at, n.id) || \
                E'\\n\\n' || 'See them all in ZippCRM.' AS body, \
                r.user_id, 'digest:' || r.user_id || ':' || ($1::date - 1) AS dedupe_key \
           FROM notification_recipients r JOIN notifications n ON n.user_id = r.user_id \
          WHERE r.digest AND r.active AND NOT n.kind = ANY(r.email_muted) \
            AND n.created_at >= (($1::date - 1)::timestamp AT TIME ZONE 'UTC') \
            AND n.created_at < ($1::date::timestamp AT TIME ZONE 'UTC') \
          GROUP BY r.user_id, r.email",
    )
    .bind(today)
    .fetch_all(pool)
    .await?;
    pass.digests_queued = queue(pool, "digest", digests).await?;
    let until = today + chrono::Days::new(domain::service::DUE_SOON_DAYS.unsigned_abs());
    for (item_id, managers) in projections::service::due_by(pool, until).await? {
        let ctx = CommandContext::scheduled("service-due", item_id, today);
        let command = ServiceItemCommand::FlagDue {
            today,
            managers,
            at: ctx.issued_at,
        };
        bus.service_item(&ctx, item_id, command)
            .await
            .map_err(|e| anyhow::anyhow!("due alerts for service item {item_id}: {e}"))?;
        pass.service_items_checked += 1;
    }
    Ok(pass)
}

/// Runs a pass now and then every `interval`, forever.
pub async fn run(bus: Arc<CommandBus>, pool: PgPool, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        match run_once(&bus, &pool, Utc::now().date_naive()).await {
            Ok(pass) => tracing::info!(?pass, "scheduler pass"),
            Err(error) => tracing::warn!(%error, "scheduler pass failed; retrying next tick"),
        }
    }
}
