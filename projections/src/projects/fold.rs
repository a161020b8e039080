//! Folding project events into the `projects` tables.
//!
//! Idempotence: every event after creation first advances `project_view.last_sequence`; an
//! event the row has already seen changes nothing.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::{FileMeta, ItemStatus, ProjectEvent, UploadState};
use domain::template::{StageKey, StageSpec};
use sqlx::PgConnection;
use uuid::Uuid;

use super::batch::Batch;
use crate::notices::notify_changes;
use crate::runner::{decode_batch, Decoded, Projection, ProjectionError};
use crate::unnest::column;
use crate::StoredEvent;

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

/// Inserts a new project's stages, checklist items and its version's milestones, one
/// statement each (the project's row is [`Batch::create`]'s).
async fn created(
    conn: &mut PgConnection,
    id: Uuid,
    payload: ProjectEvent,
) -> Result<(), ProjectionError> {
    let ProjectEvent::ProjectCreated { stages, at, .. } = payload else {
        return Ok(());
    };
    let milestones: Vec<_> = stages
        .iter()
        .flat_map(|stage| stage.milestones.iter().map(move |m| (stage.stage, m)))
        .collect();
    if !milestones.is_empty() {
        sqlx::query(
            "INSERT INTO project_milestones (id, project_id, stage, title, amount_minor, currency, created_at) \
             SELECT i, $2, s, t, a, c, $7 FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[]) \
                    AS m(i, s, t, a, c)",
        )
        .bind(column(&milestones, |(_, m)| {
            domain::project::template_milestone_id(id, &m.key)
        }))
        .bind(id)
        .bind(column(&milestones, |(stage, _)| stage.as_str()))
        .bind(column(&milestones, |(_, m)| m.title.as_str()))
        .bind(column(&milestones, |(_, m)| m.amount_minor))
        .bind(column(&milestones, |(_, m)| m.currency.as_str()))
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    // Stages and checklist items go in with one statement each.
    let positions: Vec<i32> = (0i32..).take(stages.len()).collect();
    sqlx::query(
        "INSERT INTO project_stages (project_id, stage, position, sla_days, sla_extension_days, started_at) \
         SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::int[], $5::int[], $6::timestamptz[])",
    )
    .bind(id)
    .bind(column(&stages, |stage| stage.stage.as_str()))
    .bind(&positions)
    .bind(column(&stages, |stage| {
        stage.sla_days.and_then(|d| i32::try_from(d).ok())
    }))
    .bind(column(&stages, |stage| {
        stage.sla_extension_days.and_then(|d| i32::try_from(d).ok())
    }))
    .bind(column(&positions, |position| (*position == 0).then_some(at)))
    .execute(&mut *conn)
    .await?;
    checklists(conn, id, &stages, None).await?;
    Ok(())
}

/// Makes project `id`'s checklists those of `stages`: items it lacks are deleted, new ones
/// start pending, kept ones keep their status and take `stages`' attributes (on creation
/// every item is new). One statement.
async fn checklists(
    conn: &mut PgConnection,
    id: Uuid,
    stages: &[StageSpec],
    updated_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let items: Vec<_> = stages
        .iter()
        .flat_map(|stage| {
            (0i32..)
                .zip(&stage.items)
                .map(move |(position, item)| (stage, position, item))
        })
        .collect();
    sqlx::query(
        "WITH new AS (SELECT * FROM UNNEST($2::text[], $3::text[], $4::int[], $5::text[], $6::bool[], \
                                          $7::bool[], $8::text[]) \
                        AS n(stage, key, position, title, mandatory, evidence_required, responsible_role)), \
              gone AS (DELETE FROM project_checklist_items i WHERE i.project_id = $1 \
                          AND NOT EXISTS (SELECT 1 FROM new WHERE new.stage = i.stage AND new.key = i.key)) \
         INSERT INTO project_checklist_items (project_id, stage, key, position, title, mandatory, \
                evidence_required, responsible_role, status, updated_at) \
         SELECT $1, new.*, $9, $10 FROM new \
         ON CONFLICT (project_id, stage, key) DO UPDATE SET position = EXCLUDED.position, \
                title = EXCLUDED.title, mandatory = EXCLUDED.mandatory, \
                evidence_required = EXCLUDED.evidence_required, responsible_role = EXCLUDED.responsible_role",
    )
    .bind(id)
    .bind(column(&items, |(stage, _, _)| stage.stage.as_str()))
    .bind(column(&items, |(_, _, item)| item.key.as_str()))
    .bind(column(&items, |(_, position, _)| *position))
    .bind(column(&items, |(_, _, item)| item.title.as_str()))
    .bind(column(&items, |(_, _, item)| item.mandatory))
    .bind(column(&items, |(_, _, item)| item.evidence_required))
    .bind(column(&items, |(_, _, item)| item.responsible_role.as_str()))
    .bind(ItemStatus::Pending.as_str())
    .bind(updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A move to another template version: the checklists become its own ([`checklists`]);
/// each stage takes the new version's clock.
async fn moved(
    conn: &mut PgConnection,
    id: Uuid,
    stages: &[StageSpec],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    checklists(&mut *conn, id, stages, Some(at)).await?;
    sqlx::query(
        "UPDATE project_stages s SET sla_days = n.sla_days, sla_extension_days = n.ext \
           FROM UNNEST($2::text[], $3::int[], $4::int[]) AS n(stage, sla_days, ext) \
          WHERE s.project_id = $1 AND s.stage = n.stage",
    )
    .bind(id)
    .bind(column(stages, |stage| stage.stage.as_str()))
    .bind(column(stages, |stage| {
        stage.sla_days.and_then(|d| i32::try_from(d).ok())
    }))
    .bind(column(stages, |stage| {
        stage.sla_extension_days.and_then(|d| i32::try_from(d).ok())
    }))
    .execute(conn)
    .await?;
    Ok(())
}

/// A checklist item change: which item, its new status, why, and by whom.
struct ItemChange<'a> {
    stage: StageKey,
    key: &'a str,
    status: ItemStatus,
    reason: Option<&'a str>,
    by: Option<Uuid>,
}

/// New document requests, uploads and stage advance requests, and the changes to those and
/// to checklist items and stage times, gathered in log order and written with one statement
/// per table and kind at the end of the batch: new rows first, then the changes, where the
/// last change to a row wins, as it would statement by statement. Nothing else in the fold
/// reads these tables.
#[derive(Default)]
struct Deferred {
    /// Requests raised: inserted with their item's title, read at the end of the batch.
    new_requests: Vec<NewRequest>,
    /// Uploads received.
    new_uploads: Vec<NewUpload>,
    /// Stage advance requests made.
    new_advances: Vec<NewAdvance>,
    /// Advance request → its decision.
    decisions: HashMap<Uuid, Decision>,
    /// (project, stage) → when it was last completed and last started in the batch.
    stage_times: HashMap<(Uuid, &'static str), StageTimes>,
    /// (project, stage, key) → the item's last change; `by` is the last one that named a
    /// user (a change without one keeps the previous `updated_by`).
    items: HashMap<(Uuid, &'static str, String), ItemUpdate>,
    /// Request → (status, at).
    requests: HashMap<Uuid, (&'static str, DateTime<Utc>)>,
    /// Upload → its review.
    uploads: HashMap<Uuid, Review>,
}

struct NewRequest {
    id: Uuid,
    project_id: Uuid,
    client_id: Uuid,
    stage: &'static str,
    item_key: String,
    instructions: String,
    due_on: Option<NaiveDate>,
    by: Uuid,
    at: DateTime<Utc>,
}

struct NewUpload {
    id: Uuid,
    request_id: Uuid,
    project_id: Uuid,
    client_id: Uuid,
    version: i32,
    file: FileMeta,
    by: Uuid,
    at: DateTime<Utc>,
}

struct NewAdvance {
    id: Uuid,
    project_id: Uuid,
    from: &'static str,
    to: Option<&'static str>,
    by: Uuid,
    at: DateTime<Utc>,
}

struct Decision {
    decision: &'static str,
    reason: String,
    by: Uuid,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct StageTimes {
    completed_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
}

struct ItemUpdate {
    status: &'static str,
    reason: Option<String>,
    by: Option<Uuid>,
    at: DateTime<Utc>,
}

struct Review {
    state: &'static str,
    reason: Option<String>,
    by: Uuid,
    at: DateTime<Utc>,
}

impl Deferred {
    fn item(&mut self, id: Uuid, change: ItemChange<'_>, at: DateTime<Utc>) {
        let ItemChange {
            stage,
            key,
            status,
            reason,
            by,
        } = change;
        let row = (id, stage.as_str(), key.to_owned());
        let by = by.or_else(|| self.items.get(&row).and_then(|earlier| earlier.by));
        let update = ItemUpdate {
            status: status.as_str(),
            reason: reason.map(str::to_owned),
            by,
            at,
        };
        self.items.insert(row, update);
    }

    fn request(&mut self, request_id: Uuid, status: &'static str, at: DateTime<Utc>) {
        self.requests.insert(request_id, (status, at));
    }

    fn review(&mut self, upload_id: Uuid, review: Review) {
        self.uploads.insert(upload_id, review);
    }

    async fn write(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if !self.new_requests.is_empty() {
            let rows = &self.new_requests;
            sqlx::query(
                "INSERT INTO document_requests (id, project_id, client_id, stage, item_key, item_title, \
                        instructions, due_on, status, raised_by, raised_at, updated_at) \
                 SELECT r.id, r.project_id, r.client_id, r.stage, r.item_key, i.title, r.instructions, \
                        r.due_on, 'open', r.by_user, r.at, r.at \
                   FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
                               $7::date[], $8::uuid[], $9::timestamptz[]) \
                        AS r(id, project_id, client_id, stage, item_key, instructions, due_on, by_user, at) \
                   JOIN project_checklist_items i \
                     ON i.project_id = r.project_id AND i.stage = r.stage AND i.key = r.item_key",
            )
            .bind(column(rows, |r| r.id))
            .bind(column(rows, |r| r.project_id))
            .bind(column(rows, |r| r.client_id))
            .bind(column(rows, |r| r.stage))
            .bind(column(rows, |r| r.item_key.as_str()))
            .bind(column(rows, |r| r.instructions.as_str()))
            .bind(column(rows, |r| r.due_on))
            .bind(column(rows, |r| r.by))
            .bind(column(rows, |r| r.at))
            .execute(&mut *conn)
            .await?;
        }
        if !self.new_uploads.is_empty() {
            let rows = &self.new_uploads;
            sqlx::query(
                "INSERT INTO document_uploads (id, request_id, project_id, client_id, version, file_name, \
                        size_bytes, media_type, sha256, storage_key, state, uploaded_by, uploaded_at) \
                 SELECT id, request_id, project_id, client_id, version, file_name, size_bytes, media_type, \
                        sha256, storage_key, $13, by_user, at \
                   FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int4[], $6::text[], \
                               $7::int8[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::timestamptz[]) \
                        AS u(id, request_id, project_id, client_id, version, file_name, size_bytes, \
                             media_type, sha256, storage_key, by_user, at)",
            )
            .bind(column(rows, |u| u.id))
            .bind(column(rows, |u| u.request_id))
            .bind(column(rows, |u| u.project_id))
            .bind(column(rows, |u| u.client_id))
            .bind(column(rows, |u| u.version))
            .bind(column(rows, |u| u.file.name.as_str()))
            .bind(column(rows, |u| i64::try_from(u.file.size).unwrap_or(i64::MAX)))
            .bind(column(rows, |u| u.file.media_type.as_str()))
            .bind(column(rows, |u| u.file.sha256.as_str()))
            .bind(column(rows, |u| u.file.storage_key.as_str()))
            .bind(column(rows, |u| u.by))
            .bind(column(rows, |u| u.at))
            .bind(UploadState::Submitted.as_str())
            .execute(&mut *conn)
            .await?;
        }
        if !self.new_advances.is_empty() {
            let rows = &self.new_advances;
            sqlx::query(
                "INSERT INTO project_advance_requests (id, project_id, from_stage, to_stage, requested_by, \
                        requested_at, decision) \
                 SELECT id, project_id, from_stage, to_stage, by_user, at, 'pending' \
                   FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[]) \
                        AS a(id, project_id, from_stage, to_stage, by_user, at)",
            )
            .bind(column(rows, |a| a.id))
            .bind(column(rows, |a| a.project_id))
            .bind(column(rows, |a| a.from))
            .bind(column(rows, |a| a.to))
            .bind(column(rows, |a| a.by))
            .bind(column(rows, |a| a.at))
            .execute(&mut *conn)
            .await?;
        }
        if !self.decisions.is_empty() {
            let rows: Vec<(Uuid, Decision)> = self.decisions.into_iter().collect();
            sqlx::query(
                "UPDATE project_advance_requests t \
                    SET decision = d.decision, decided_by = d.by_user, decided_at = d.at, \
                        reason = nullif(d.reason, '') \
                   FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::text[]) \
                        AS d(id, decision, by_user, at, reason) \
                  WHERE t.id = d.id",
            )
            .bind(column(&rows, |(id, _)| *id))
            .bind(column(&rows, |(_, d)| d.decision))
            .bind(column(&rows, |(_, d)| d.by))
            .bind(column(&rows, |(_, d)| d.at))
            .bind(column(&rows, |(_, d)| d.reason.as_str()))
            .execute(&mut *conn)
            .await?;
        }
        if !self.stage_times.is_empty() {
            let rows: Vec<_> = self.stage_times.into_iter().collect();
            sqlx::query(
                "UPDATE project_stages t \
                    SET completed_at = coalesce(u.completed_at, t.completed_at), \
                        started_at = coalesce(u.started_at, t.started_at) \
                   FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) \
                        AS u(project_id, stage, completed_at, started_at) \
                  WHERE t.project_id = u.project_id AND t.stage = u.stage",
            )
            .bind(column(&rows, |((project_id, _), _)| *project_id))
            .bind(column(&rows, |((_, stage), _)| *stage))
            .bind(column(&rows, |(_, times)| times.completed_at))
            .bind(column(&rows, |(_, times)| times.started_at))
            .execute(&mut *conn)
            .await?;
        }
        if !self.items.is_empty() {
            let rows: Vec<_> = self.items.into_iter().collect();
            sqlx::query(
                "UPDATE project_checklist_items t \
                    SET status = u.status, reason = u.reason, \
                        updated_by = coalesce(u.by_user, t.updated_by), updated_at = u.at \
                   FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], \
                               $7::timestamptz[]) AS u(project_id, stage, key, status, reason, by_user, at) \
                  WHERE t.project_id = u.project_id AND t.stage = u.stage AND t.key = u.key",
            )
            .bind(column(&rows, |((id, _, _), _)| *id))
            .bind(column(&rows, |((_, stage, _), _)| *stage))
            .bind(column(&rows, |((_, _, key), _)| key.as_str()))
            .bind(column(&rows, |(_, update)| update.status))
            .bind(column(&rows, |(_, update)| update.reason.as_deref()))
            .bind(column(&rows, |(_, update)| update.by))
            .bind(column(&rows, |(_, update)| update.at))
            .execute(&mut *conn)
            .await?;
        }
        if !self.requests.is_empty() {
            let rows: Vec<_> = self.requests.into_iter().collect();
            sqlx::query(
                "UPDATE document_requests t SET status = u.status, updated_at = u.at \
                   FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, status, at) \
                  WHERE t.id = u.id",
            )
            .bind(column(&rows, |(id, _)| *id))
            .bind(column(&rows, |(_, (status, _))| *status))
            .bind(column(&rows, |(_, (_, at))| *at))
            .execute(&mut *conn)
            .await?;
        }
        if !self.uploads.is_empty() {
            let rows: Vec<_> = self.uploads.into_iter().collect();
            sqlx::query(
                "UPDATE document_uploads t \
                    SET state = u.state, reason = u.reason, reviewed_by = u.by_user, reviewed_at = u.at \
                   FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[]) \
                        AS u(id, state, reason, by_user, at) \
                  WHERE t.id = u.id",
            )
            .bind(column(&rows, |(id, _)| *id))
            .bind(column(&rows, |(_, review)| review.state))
            .bind(column(&rows, |(_, review)| review.reason.as_deref()))
            .bind(column(&rows, |(_, review)| review.by))
            .bind(column(&rows, |(_, review)| review.at))
            .execute(&mut *conn)
            .await?;
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
