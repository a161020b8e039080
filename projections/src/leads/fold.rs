//! Folding lead events into `lead_view` and its child tables.
//!
//! Idempotence: every event first advances the row's `last_sequence` guard; an event whose
//! sequence the row has already seen changes nothing.

use async_trait::async_trait;
use domain::lead::LeadEvent;
use sqlx::PgConnection;

use crate::notices::notify_change;
use crate::runner::{decode, Projection, ProjectionError};
use crate::StoredEvent;

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct LeadsProjection;

#[async_trait]
impl Projection for LeadsProjection {
    fn name(&self) -> &'static str {
        "leads"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lead_view", "lead_notes", "lead_activities"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Lead"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
        live: bool,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let payload: LeadEvent = decode(event)?;
        let seq = event.sequence;
        if let LeadEvent::LeadCaptured {
            company,
            contact_name,
            email,
            phone,
            source,
            service_interest,
            owner_id,
            at,
            ..
        } = payload
        {
            sqlx::query(
                "INSERT INTO lead_view (id, company, contact_name, email, phone, source, service_interest, \
                        owner_id, stage, captured_at, updated_at, last_sequence) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'prospect', $9, $9, $10) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(company)
            .bind(contact_name)
            .bind(email)
            .bind(phone)
            .bind(source.as_str())
            .bind(service_interest)
            .bind(owner_id)
            .bind(at)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        } else {
            let advanced = sqlx::query(
                "UPDATE lead_view SET last_sequence = $2, updated_at = $3 WHERE id = $1 AND last_sequence < $2",
            )
            .bind(id)
            .bind(seq)
            .bind(payload.at())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if advanced == 0 {
                return Ok(());
            }
            apply_change(conn, id, payload, event).await?;
        }
        if live {
            notify_change(conn, "lead", id, None).await?;
        }
        Ok(())
    }
}

async fn apply_change(
    conn: &mut PgConnection,
    id: uuid::Uuid,
    payload: LeadEvent,
    event: &StoredEvent,
) -> Result<(), sqlx::Error> {
    match payload {
        LeadEvent::LeadCaptured { .. } => {}
        LeadEvent::LeadAssigned { owner_id, .. } => {
            sqlx::query("UPDATE lead_view SET owner_id = $2 WHERE id = $1")
                .bind(id)
                .bind(owner_id)
                .execute(conn)
                .await?;
        }
        LeadEvent::LeadScored { score, .. } => {
            sqlx::query("UPDATE lead_view SET score = $2 WHERE id = $1")
                .bind(id)
                .bind(score)
                .execute(conn)
                .await?;
        }
        LeadEvent::LeadStageChanged { to, reason, .. } => {
            sqlx::query("UPDATE lead_view SET stage = $2, lost_reason = $3 WHERE id = $1")
                .bind(id)
                .bind(to.as_str())
                .bind(reason)
                .execute(conn)
                .await?;
        }
        LeadEvent::LeadNoteAdded { note_id, body, at } => {
            sqlx::query("INSERT INTO lead_notes (id, lead_id, body, author_id, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                .bind(note_id)
                .bind(id)
                .bind(body)
                .bind(event.actor_id())
                .bind(at)
                .execute(&mut *conn)
                .await?;
            sqlx::query("UPDATE lead_view SET note_count = note_count + 1 WHERE id = $1")
                .bind(id)
                .execute(conn)
                .await?;
        }
        LeadEvent::LeadActivityLogged {
            activity_id,
            kind,
            summary,
            follow_up_on,
            at,
        } => {
            sqlx::query(
                "INSERT INTO lead_activities (id, lead_id, kind, summary, follow_up_on, author_id, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(activity_id)
            .bind(id)
            .bind(kind)
            .bind(summary)
            .bind(follow_up_on)
            .bind(event.actor_id())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            // The next follow-up is the latest follow-up date logged.
            sqlx::query(
                "UPDATE lead_view SET activity_count = activity_count + 1, \
                        next_follow_up = (SELECT max(follow_up_on) FROM lead_activities WHERE lead_id = $1) \
                  WHERE id = $1",
            )
            .bind(id)
            .execute(conn)
            .await?;
        }
        LeadEvent::LeadConverted {
            client_id,
            project_id,
            ..
        } => {
            sqlx::query("UPDATE lead_view SET client_id = $2, project_id = $3 WHERE id = $1")
                .bind(id)
                .bind(client_id)
                .bind(project_id)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}
