//! Folding project events into the `projects` tables.
//!
//! Idempotence: every event after creation first advances `project_view.last_sequence`; an
//! event the row has already seen changes nothing.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use domain::project::{ItemStatus, ProjectEvent, TaskStatus};
use domain::template::StageKey;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::notices::notify_changes;
use crate::runner::{decode, Projection, ProjectionError};
use crate::StoredEvent;

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct ProjectsProjection;

#[async_trait]
impl Projection for ProjectsProjection {
    fn name(&self) -> &'static str {
        "projects"
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

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
        live: bool,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(conn, &[event], live).await
    }

    /// The `last_sequence` guards of the batch's projects are read in one query, checked in
    /// memory and written back in one statement; each event's own change is still one or two
    /// statements.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        live: bool,
    ) -> Result<(), ProjectionError> {
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            if let Some(id) = event.aggregate_uuid() {
                decoded.push((id, *event, decode::<ProjectEvent>(event)?));
            }
        }
        let mut ids: Vec<Uuid> = decoded.iter().map(|(id, _, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let rows: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
            "SELECT id, client_id, last_sequence FROM project_view WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let mut guards: HashMap<Uuid, Guard> = rows
            .into_iter()
            .map(|(id, client_id, last_sequence)| {
                (
                    id,
                    Guard {
                        client_id,
                        last_sequence,
                        advanced_at: None,
                    },
                )
            })
            .collect();
        let mut changed: Vec<(Uuid, Option<Uuid>)> = Vec::new();
        let mut notified: HashSet<Uuid> = HashSet::new();
        for (id, event, payload) in decoded {
            let client_id = if let ProjectEvent::ProjectCreated { .. } = payload {
                if guards.contains_key(&id) {
                    continue;
                }
                let Some(client_id) = created(conn, id, event, payload).await? else {
                    continue;
                };
                guards.insert(
                    id,
                    Guard {
                        client_id,
                        last_sequence: event.sequence,
                        advanced_at: None,
                    },
                );
                client_id
            } else {
                let Some(guard) = guards.get_mut(&id) else {
                    continue;
                };
                if guard.last_sequence >= event.sequence {
                    continue;
                }
                guard.last_sequence = event.sequence;
                guard.advanced_at = Some(event.recorded_at);
                let client_id = guard.client_id;
                fold(conn, id, client_id, event, payload).await?;
                client_id
            };
            if notified.insert(id) {
                changed.push((id, Some(client_id)));
            }
        }
        let advanced: Vec<(Uuid, &Guard)> = guards
            .iter()
            .filter(|(_, guard)| guard.advanced_at.is_some())
            .map(|(id, guard)| (*id, guard))
            .collect();
        if !advanced.is_empty() {
            sqlx::query(
                "UPDATE project_view v SET last_sequence = a.last_sequence, updated_at = a.updated_at \
                   FROM UNNEST($1::uuid[], $2::bigint[], $3::timestamptz[]) AS a (id, last_sequence, updated_at) \
                  WHERE v.id = a.id",
            )
            .bind(advanced.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(advanced.iter().map(|(_, g)| g.last_sequence).collect::<Vec<_>>())
            .bind(advanced.iter().map(|(_, g)| g.advanced_at).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
        }
        if live {
            notify_changes(conn, "project", &changed).await?;
        }
        Ok(())
    }
}

/// A project's idempotence guard while a batch is folded.
struct Guard {
    client_id: Uuid,
    last_sequence: i64,
    /// The time of the last event folded in this batch, if any (the row's new `updated_at`).
    advanced_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn created(
    conn: &mut PgConnection,
    id: Uuid,
    event: &StoredEvent,
    payload: ProjectEvent,
) -> Result<Option<Uuid>, ProjectionError> {
    let ProjectEvent::ProjectCreated {
        client_id,
        name,
        template,
        stages,
        at,
        ..
    } = payload
    else {
        return Ok(None);
    };
    let inserted = sqlx::query(
        "INSERT INTO project_view (id, client_id, name, template_id, family, template_version, status, \
                current_stage, stage_started_at, created_at, updated_at, last_sequence) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', 'onboarding', $7, $7, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(client_id)
    .bind(name)
    .bind(template.template_id)
    .bind(&template.family)
    .bind(i32::try_from(template.version).unwrap_or(i32::MAX))
    .bind(at)
    .bind(event.sequence)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    // Stages and checklist items go in with one statement each.
    let mut stage_rows = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut items = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (position, stage) in (0i32..).zip(&stages) {
        stage_rows.0.push(stage.stage.as_str());
        stage_rows.1.push(position);
        stage_rows
            .2
            .push(stage.sla_days.and_then(|d| i32::try_from(d).ok()));
        stage_rows
            .3
            .push(stage.sla_extension_days.and_then(|d| i32::try_from(d).ok()));
        stage_rows.4.push((position == 0).then_some(at));
        for (item_position, item) in (0i32..).zip(&stage.items) {
            items.0.push(stage.stage.as_str());
            items.1.push(item.key.as_str());
            items.2.push(item_position);
            items.3.push(item.title.as_str());
            items.4.push(item.mandatory);
            items.5.push(item.evidence_required);
            items.6.push(item.responsible_role.as_str());
        }
    }
    sqlx::query(
        "INSERT INTO project_stages (project_id, stage, position, sla_days, sla_extension_days, started_at) \
         SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::int[], $5::int[], $6::timestamptz[])",
    )
    .bind(id)
    .bind(stage_rows.0)
    .bind(stage_rows.1)
    .bind(stage_rows.2)
    .bind(stage_rows.3)
    .bind(stage_rows.4)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO project_checklist_items (project_id, stage, key, position, title, mandatory, \
                evidence_required, responsible_role, status) \
         SELECT $1, *, 'pending' FROM UNNEST($2::text[], $3::text[], $4::int[], $5::text[], $6::bool[], \
                                             $7::bool[], $8::text[])",
    )
    .bind(id)
    .bind(items.0)
    .bind(items.1)
    .bind(items.2)
    .bind(items.3)
    .bind(items.4)
    .bind(items.5)
    .bind(items.6)
    .execute(&mut *conn)
    .await?;
    Ok(Some(client_id))
}

/// A checklist item change: which item, its new status, why, and by whom.
struct ItemChange<'a> {
    stage: StageKey,
    key: &'a str,
    status: ItemStatus,
    reason: Option<&'a str>,
    by: Option<Uuid>,
}

async fn set_item(
    conn: &mut PgConnection,
    id: Uuid,
    change: ItemChange<'_>,
    event: &StoredEvent,
) -> Result<(), sqlx::Error> {
    let ItemChange {
        stage,
        key,
        status,
        reason,
        by,
    } = change;
    sqlx::query(
        "UPDATE project_checklist_items SET status = $4, reason = $5, updated_by = coalesce($6, updated_by), \
                updated_at = $7 WHERE project_id = $1 AND stage = $2 AND key = $3",
    )
    .bind(id)
    .bind(stage.as_str())
    .bind(key)
    .bind(status.as_str())
    .bind(reason)
    .bind(by)
    .bind(event.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

fn full_if_completed(status: TaskStatus) -> i32 {
    if status == TaskStatus::Completed {
        10_000
    } else {
        0
    }
}

/// The kind and a one-line description of a proposed change, as reviewers read it.
fn describe_change(change: &ProjectEvent) -> (&'static str, String) {
    match change {
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
    id: Uuid,
    client_id: Uuid,
    event: &StoredEvent,
    payload: ProjectEvent,
) -> Result<(), sqlx::Error> {
    use ProjectEvent as E;
    let at = event.recorded_at;
    match payload {
        E::ProjectCreated { .. } => {}
        E::ProjectRenamed { name, .. } => {
            sqlx::query("UPDATE project_view SET name = $2 WHERE id = $1")
                .bind(id)
                .bind(name)
                .execute(conn)
                .await?;
        }
        E::TaskPolicyChanged { auto_complete, .. } => {
            sqlx::query("UPDATE project_view SET auto_complete_tasks = $2 WHERE id = $1")
                .bind(id)
                .bind(auto_complete)
                .execute(conn)
                .await?;
        }
        E::ProjectStatusChanged { status, .. } => {
            sqlx::query("UPDATE project_view SET status = $2 WHERE id = $1")
                .bind(id)
                .bind(status.as_str())
                .execute(conn)
                .await?;
        }
        E::ChecklistItemVerified { stage, key, by, .. } => {
            set_item(
                conn,
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::Verified,
                    reason: None,
                    by: Some(by),
                },
                event,
            )
            .await?;
        }
        E::ChecklistItemRejected {
            stage,
            key,
            reason,
            by,
            ..
        } => {
            set_item(
                conn,
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::Rejected,
                    reason: Some(&reason),
                    by: Some(by),
                },
                event,
            )
            .await?;
        }
        E::ChecklistItemWaived {
            stage,
            key,
            reason,
            by,
            ..
        } => {
            set_item(
                conn,
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::Waived,
                    reason: Some(&reason),
                    by: Some(by),
                },
                event,
            )
            .await?;
        }
        E::ChecklistItemEvidenceSubmitted { stage, key, .. } => {
            set_item(
                conn,
                id,
                ItemChange {
                    stage,
                    key: &key,
                    status: ItemStatus::EvidenceSubmitted,
                    reason: None,
                    by: None,
                },
                event,
            )
            .await?;
        }
        E::StageAdvanceRequested {
            request_id,
            from,
            to,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO project_advance_requests (id, project_id, from_stage, to_stage, requested_by, \
                        requested_at, decision) VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
            )
            .bind(request_id)
            .bind(id)
            .bind(from.as_str())
            .bind(to.map(StageKey::as_str))
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
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
            let decision = if event.event_type == "StageAdvanceApproved" {
                "approved"
            } else {
                "refused"
            };
            sqlx::query(
                "UPDATE project_advance_requests SET decision = $2, decided_by = $3, decided_at = $4, \
                        reason = nullif($5, '') WHERE id = $1",
            )
            .bind(request_id)
            .bind(decision)
            .bind(by)
            .bind(at)
            .bind(reason)
            .execute(conn)
            .await?;
        }
        E::StageAdvanced { from, to, at } => {
            sqlx::query(
                "UPDATE project_stages SET completed_at = $3 WHERE project_id = $1 AND stage = $2",
            )
            .bind(id)
            .bind(from.as_str())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            match to {
                Some(next) => {
                    sqlx::query(
                        "UPDATE project_stages SET started_at = $3 WHERE project_id = $1 AND stage = $2",
                    )
                    .bind(id)
                    .bind(next.as_str())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query(
                        "UPDATE project_view SET current_stage = $2, stage_started_at = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(next.as_str())
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                None => {
                    sqlx::query("UPDATE project_view SET stages_complete = true WHERE id = $1")
                        .bind(id)
                        .execute(conn)
                        .await?;
                }
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
        E::LicenceRecorded {
            number,
            issued_on,
            expires_on,
            ..
        } => {
            sqlx::query(
                "UPDATE project_view SET licence_number = $2, licence_issued_on = $3, licence_expires_on = $4 \
                  WHERE id = $1",
            )
            .bind(id)
            .bind(number)
            .bind(issued_on)
            .bind(expires_on)
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
        E::TaskAdded {
            task_id,
            stage,
            title,
            assignee,
            priority,
            due_on,
            estimate_hours,
            at,
        } => {
            sqlx::query(
                "INSERT INTO project_tasks (id, project_id, stage, title, assignee, priority, due_on, \
                        estimate_hours, status, progress, position, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'to_do', 0, $9, $10, $10)",
            )
            .bind(task_id)
            .bind(id)
            .bind(stage.map(StageKey::as_str))
            .bind(title)
            .bind(assignee)
            .bind(priority.as_str())
            .bind(due_on)
            .bind(estimate_hours)
            .bind(event.global_position)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::SubtaskAdded {
            task_id,
            subtask_id,
            title,
            assignee,
            estimate_hours,
            at,
        } => {
            sqlx::query(
                "INSERT INTO project_tasks (id, project_id, parent_id, title, assignee, priority, \
                        estimate_hours, status, progress, position, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'medium', $6, 'to_do', 0, $7, $8, $8)",
            )
            .bind(subtask_id)
            .bind(id)
            .bind(task_id)
            .bind(title)
            .bind(assignee)
            .bind(estimate_hours)
            .bind(event.global_position)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::SubtaskRemoved { subtask_id, .. } => {
            sqlx::query("DELETE FROM project_tasks WHERE id = $1")
                .bind(subtask_id)
                .execute(conn)
                .await?;
        }
        E::TaskAssigned {
            task_id,
            subtask_id,
            assignee,
            ..
        } => {
            sqlx::query("UPDATE project_tasks SET assignee = $2, updated_at = $3 WHERE id = $1")
                .bind(subtask_id.unwrap_or(task_id))
                .bind(assignee)
                .bind(at)
                .execute(conn)
                .await?;
        }
        E::TaskStatusChanged {
            task_id, status, ..
        } => {
            sqlx::query(
                "UPDATE project_tasks t SET status = $2, updated_at = $4, progress = CASE \
                   WHEN EXISTS (SELECT 1 FROM project_tasks s WHERE s.parent_id = t.id) THEN t.progress \
                   ELSE $3 END \
                  WHERE id = $1",
            )
            .bind(task_id)
            .bind(status.as_str())
            .bind(full_if_completed(status))
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::SubtaskStatusChanged {
            subtask_id, status, ..
        } => {
            sqlx::query("UPDATE project_tasks SET status = $2, progress = $3, updated_at = $4 WHERE id = $1")
                .bind(subtask_id)
                .bind(status.as_str())
                .bind(full_if_completed(status))
                .bind(at)
                .execute(conn)
                .await?;
        }
        E::TaskRolledUp {
            task_id,
            status,
            progress,
            ..
        } => {
            sqlx::query("UPDATE project_tasks SET status = $2, progress = $3, updated_at = $4 WHERE id = $1")
                .bind(task_id)
                .bind(status.as_str())
                .bind(i32::try_from(progress).unwrap_or(10_000))
                .bind(at)
                .execute(conn)
                .await?;
        }
        E::ProjectProgressChanged { progress, .. } => {
            sqlx::query("UPDATE project_view SET progress = $2 WHERE id = $1")
                .bind(id)
                .bind(i32::try_from(progress).unwrap_or(10_000))
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
        } => {
            sqlx::query(
                "INSERT INTO document_requests (id, project_id, client_id, stage, item_key, item_title, \
                        instructions, due_on, status, raised_by, raised_at, updated_at) \
                 SELECT $1, $2, $3, $4, $5, i.title, $6, $7, 'open', $8, $9, $9 \
                   FROM project_checklist_items i WHERE i.project_id = $2 AND i.stage = $4 AND i.key = $5",
            )
            .bind(request_id)
            .bind(id)
            .bind(client_id)
            .bind(stage.as_str())
            .bind(item_key)
            .bind(instructions)
            .bind(due_on)
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
        E::EvidenceUploaded {
            request_id,
            upload_id,
            version,
            file,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO document_uploads (id, request_id, project_id, client_id, version, file_name, \
                        size_bytes, media_type, sha256, storage_key, state, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'submitted', $11, $12)",
            )
            .bind(upload_id)
            .bind(request_id)
            .bind(id)
            .bind(client_id)
            .bind(i32::try_from(version).unwrap_or(i32::MAX))
            .bind(file.name)
            .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
            .bind(file.media_type)
            .bind(file.sha256)
            .bind(file.storage_key)
            .bind(by)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            request_status(conn, request_id, "submitted", at).await?;
        }
        E::UploadAccepted {
            request_id,
            upload_id,
            by,
            at,
        } => {
            review(conn, upload_id, "accepted", None, by, at).await?;
            request_status(conn, request_id, "accepted", at).await?;
        }
        E::UploadRejected {
            request_id,
            upload_id,
            reason,
            by,
            at,
        } => {
            review(conn, upload_id, "rejected", Some(&reason), by, at).await?;
            request_status(conn, request_id, "rejected", at).await?;
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
            let decision = if event.event_type == "ChangeApproved" {
                "approved"
            } else {
                "refused"
            };
            sqlx::query(
                "UPDATE project_change_proposals SET decision = $3, decided_by = $4, decided_at = $5, \
                        reason = nullif($6, '') WHERE project_id = $1 AND number = $2",
            )
            .bind(id)
            .bind(i64::from(proposal))
            .bind(decision)
            .bind(by)
            .bind(at)
            .bind(reason)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

async fn request_status(
    conn: &mut PgConnection,
    request_id: Uuid,
    status: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE document_requests SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(request_id)
        .bind(status)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

async fn review(
    conn: &mut PgConnection,
    upload_id: Uuid,
    state: &str,
    reason: Option<&str>,
    by: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE document_uploads SET state = $2, reason = $3, reviewed_by = $4, reviewed_at = $5 WHERE id = $1",
    )
    .bind(upload_id)
    .bind(state)
    .bind(reason)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
