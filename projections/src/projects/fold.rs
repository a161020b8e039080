//! Folding project events into the `projects` tables.
//!
//! Idempotence: every event after creation first advances `project_view.last_sequence`; an
//! event the row has already seen changes nothing.

use async_trait::async_trait;
use domain::project::{ItemStatus, ProjectEvent, UploadState};
use domain::template::StageKey;
use sqlx::PgConnection;
use uuid::Uuid;

use super::batch::Batch;
use crate::notices::notify_changes;
use crate::runner::{decode_batch, Decoded, Projection, ProjectionError};
use crate::StoredEvent;

mod stages;
use stages::*;

mod deferred;
use deferred::*;

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct ProjectsProjection;

#[async_trait]
impl Projection for ProjectsProjection {
    fn name(&self) -> &'static str {
        super::NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "project_view",
            "project_stages",
            "project_checklist_items",
            "project_advance_requests",
            "project_change_proposals",
            "project_liaison_entries",
            "project_milestones",
            "project_alerts",
            "project_tasks",
            "document_requests",
            "document_uploads",
        ]
    }

    /// Not `project_tasks` (loaded by project), `project_advance_requests` (updated by
    /// project and number) or the tables keyed by project and stage.
    fn indexed_after_fold(&self) -> &'static [&'static str] {
        &[
            "project_view",
            "project_liaison_entries",
            "project_milestones",
            "document_requests",
            "document_uploads",
        ]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project"]
    }

    /// `project_view` and `project_tasks` are folded in memory for the whole batch
    /// ([`Batch`]), and so are document requests, uploads, stage advance requests and stage
    /// times and the status changes of checklist items ([`Deferred`]); the rarer changes
    /// (milestones, liaison, licences, alerts, change proposals) are a statement per event.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        live: bool,
    ) -> Result<(), ProjectionError> {
        let Decoded { events, ids } = decode_batch::<ProjectEvent>(events)?;
        let mut batch = Batch::load(conn, &ids).await?;
        let mut deferred = Deferred::default();
        for (id, event, payload) in events {
            if let ProjectEvent::ProjectCreated { .. } = payload {
                if batch.create(id, event, &payload) {
                    created(conn, id, payload).await?;
                }
            } else if let Some(client_id) = batch.advance(id, event) {
                if let Some(rest) = batch.fold(id, event, payload) {
                    fold(conn, &mut deferred, id, client_id, event, rest).await?;
                }
            }
        }
        // After the loop: the rows these updates touch were inserted by it or before it.
        deferred.write(conn).await?;
        batch.write(conn).await?;
        if live {
            notify_changes(conn, "project", &batch.changed()).await?;
        }
        Ok(())
    }
}

/// The kind and a one-line description of a proposed change, as reviewers read it.
fn describe_change(change: &ProjectEvent) -> (&'static str, String) {
    match change {
        ProjectEvent::TemplateMoved {
            from_version,
            to_version,
            added,
            removed,
            ..
        } => (
            "template_version",
            format!(
                "move from template version {from_version} to {to_version}: {} checklist items added, {} removed",
                added.len(),
                removed.len()
            ),
        ),
        ProjectEvent::LiaisonEntryAdded {
            date,
            regulator,
            direction,
            summary,
            ..
        } => (
            "liaison_entry",
            format!("{regulator}, {} on {date}: {summary}", direction.as_str()),
        ),
        ProjectEvent::LicenceRecorded {
            number,
            issued_on,
            expires_on,
            ..
        } => (
            "licence",
            format!("licence {number}, issued {issued_on}, expires {expires_on}"),
        ),
        other => ("other", other.name().to_owned()),
    }
}

async fn fold(
    conn: &mut PgConnection,
    deferred: &mut Deferred,
    id: Uuid,
    client_id: Uuid,
    event: &StoredEvent,
    payload: ProjectEvent,
) -> Result<(), sqlx::Error> {
    use ProjectEvent as E;
    // How an approval or a refusal (of a stage advance, or of a proposed change) is recorded.
    let decision = match payload {
        E::StageAdvanceApproved { .. } | E::ChangeApproved { .. } => "approved",
        _ => "refused",
    };
    match payload {
        // Folded in memory (`batch.rs`).
        E::ProjectCreated { .. }
        | E::ProjectRenamed { .. }
        | E::TaskPolicyChanged { .. }
        | E::ProjectStatusChanged { .. }
        | E::LicenceRecorded { .. }
        | E::ProjectProgressChanged { .. }
        | E::TaskAdded { .. }
        | E::SubtaskAdded { .. }
        | E::SubtaskRemoved { .. }
        | E::TaskAssigned { .. }
        | E::TaskStatusChanged { .. }
        | E::SubtaskStatusChanged { .. }
        | E::TaskRolledUp { .. } => {}
        // Its notifications are the `notifications` projection's.
        E::NewerTemplateVersionPublished { .. } => {}
        E::TemplateMoved { stages, at, .. } => {
            // The item changes gathered so far precede the move in the log: written first,
            // so that an item the move drops and brings back starts pending.
            std::mem::take(deferred).write(&mut *conn).await?;
            moved(conn, id, &stages, at).await?;
        }
        E::ChecklistItemVerified { stage, key, by, .. } => {
            deferred.item(
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::Verified,
                    reason: None,
                    by: Some(by),
                },
                event.recorded_at,
            );
        }
        E::ChecklistItemRejected {
            stage,
            key,
            reason,
            by,
            ..
        } => {
            deferred.item(
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::Rejected,
                    reason: Some(&reason),
                    by: Some(by),
                },
                event.recorded_at,
            );
        }
        E::ChecklistItemWaived {
            stage,
            key,
            reason,
            by,
            ..
        } => {
            deferred.item(
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::Waived,
                    reason: Some(&reason),
                    by: Some(by),
                },
                event.recorded_at,
            );
        }
        E::ChecklistItemEvidenceSubmitted { stage, key, .. } => {
            deferred.item(
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::EvidenceSubmitted,
                    reason: None,
                    by: None,
                },
                event.recorded_at,
            );
        }
        E::StageAdvanceRequested {
            request_id,
            from,
            to,
            by,
            at,
        } => deferred.new_advances.push(NewAdvance {
            id: request_id,
            project_id: id,
            from: from.as_str(),
            to: to.map(StageKey::as_str),
            by,
            at,
        }),
        E::StageAdvanceApproved {
            request_id,
            reason,
            by,
            at,
        }
        | E::StageAdvanceRefused {
            request_id,
            reason,
            by,
            at,
        } => {
            let decision = Decision {
                decision,
                reason,
                by,
                at,
            };
            deferred.decisions.insert(request_id, decision);
        }
        // The project row's part (current stage, stages complete) is `batch.rs`'s.
        E::StageAdvanced { from, to, at } => {
            let from = (id, from.as_str());
            deferred.stage_times.entry(from).or_default().completed_at = Some(at);
            if let Some(to) = to {
                let to = (id, to.as_str());
                deferred.stage_times.entry(to).or_default().started_at = Some(at);
            }
        }
        E::StageClockExtended { stage, days, .. } => {
            sqlx::query(
                "UPDATE project_stages SET extended_days = $3 WHERE project_id = $1 AND stage = $2",
            )
            .bind(id)
            .bind(stage.as_str())
            .bind(i32::try_from(days).unwrap_or(i32::MAX))
            .execute(conn)
            .await?;
        }
        E::LiaisonEntryAdded {
            entry_id,
            date,
            regulator,
            direction,
            summary,
            attachments,
            by,
            at,
            ..
        } => {
            sqlx::query(
                "INSERT INTO project_liaison_entries (id, project_id, date, regulator, direction, summary, \
                        attachments, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(entry_id)
            .bind(id)
            .bind(date)
            .bind(regulator)
            .bind(direction.as_str())
            .bind(summary)
            .bind(attachments)
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::MilestoneAdded {
            milestone_id,
            stage,
            title,
            amount_minor,
            currency,
            at,
        } => {
            sqlx::query(
                "INSERT INTO project_milestones (id, project_id, stage, title, amount_minor, currency, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(milestone_id)
            .bind(id)
            .bind(stage.as_str())
            .bind(title)
            .bind(amount_minor)
            .bind(currency)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::MilestoneBillable { milestone_id, at } => {
            sqlx::query("UPDATE project_milestones SET billable_at = $2 WHERE id = $1")
                .bind(milestone_id)
                .bind(at)
                .execute(conn)
                .await?;
        }
        E::LicenceExpiryAlertRaised {
            days_ahead,
            expires_on,
            at,
        } => {
            sqlx::query(
                "INSERT INTO project_alerts (project_id, days_ahead, expires_on, raised_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(i32::try_from(days_ahead).unwrap_or(i32::MAX))
            .bind(expires_on)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::DocumentRequestRaised {
            request_id,
            stage,
            item_key,
            instructions,
            due_on,
            by,
            at,
        } => deferred.new_requests.push(NewRequest {
            id: request_id,
            project_id: id,
            client_id,
            stage: stage.as_str(),
            item_key,
            instructions,
            due_on,
            by,
            at,
        }),
        E::EvidenceUploaded {
            request_id,
            upload_id,
            version,
            file,
            by,
            at,
        } => {
            deferred.new_uploads.push(NewUpload {
                id: upload_id,
                request_id,
                project_id: id,
                client_id,
                version: i32::try_from(version).unwrap_or(i32::MAX),
                file,
                by,
                at,
            });
            // A request's status is its last upload's state (`open` before the first).
            deferred.request(request_id, UploadState::Submitted.as_str(), at);
        }
        E::UploadAccepted {
            request_id,
            upload_id,
            by,
            at,
        } => {
            let review = Review {
                state: UploadState::Accepted.as_str(),
                reason: None,
                by,
                at,
            };
            deferred.review(upload_id, review);
            deferred.request(request_id, UploadState::Accepted.as_str(), at);
        }
        E::UploadRejected {
            request_id,
            upload_id,
            reason,
            by,
            at,
        } => {
            let review = Review {
                state: UploadState::Rejected.as_str(),
                reason: Some(reason),
                by,
                at,
            };
            deferred.review(upload_id, review);
            deferred.request(request_id, UploadState::Rejected.as_str(), at);
        }
        E::ChangeProposed {
            proposal,
            change,
            by,
            at,
        } => {
            let (kind, summary) = describe_change(&change);
            sqlx::query(
                "INSERT INTO project_change_proposals (project_id, number, kind, summary, proposed_by, \
                        proposed_at, decision) VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
            )
            .bind(id)
            .bind(i64::from(proposal))
            .bind(kind)
            .bind(summary)
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::ChangeApproved {
            proposal,
            reason,
            by,
            at,
        }
        | E::ChangeRefused {
            proposal,
            reason,
            by,
            at,
        } => {
            let decision = Decision {
                decision,
                reason,
                by,
                at,
            };
            decide_proposal(conn, id, proposal, decision).await?;
        }
    }
    Ok(())
}

async fn decide_proposal(
    conn: &mut PgConnection,
    project_id: Uuid,
    proposal: u32,
    decision: Decision,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE project_change_proposals SET decision = $3, decided_by = $4, decided_at = $5, \
                reason = nullif($6, '') WHERE project_id = $1 AND number = $2",
    )
    .bind(project_id)
    .bind(i64::from(proposal))
    .bind(decision.decision)
    .bind(decision.by)
    .bind(decision.at)
    .bind(decision.reason)
    .execute(conn)
    .await?;
    Ok(())
}
