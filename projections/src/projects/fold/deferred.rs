//! What a batch gathers to write once per table at its end: new requests, uploads and
//! advances, and the changes to those, to checklist items and to stage times.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::project::{FileMeta, ItemStatus, UploadState};
use domain::template::StageKey;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::unnest::column;

/// A checklist item change: which item, its new status, why, and by whom.
pub(super) struct ItemChange<'a> {
    pub(super) stage: StageKey,
    pub(super) key: &'a str,
    pub(super) status: ItemStatus,
    pub(super) reason: Option<&'a str>,
    pub(super) by: Option<Uuid>,
}

/// New document requests, uploads and stage advance requests, and the changes to those and
/// to checklist items and stage times, gathered in log order and written with one statement
/// per table and kind at the end of the batch: new rows first, then the changes, where the
/// last change to a row wins, as it would statement by statement. Nothing else in the fold
/// reads these tables.
#[derive(Default)]
pub(super) struct Deferred {
    /// Requests raised: inserted with their item's title, read at the end of the batch.
    pub(super) new_requests: Vec<NewRequest>,
    /// Uploads received.
    pub(super) new_uploads: Vec<NewUpload>,
    /// Stage advance requests made.
    pub(super) new_advances: Vec<NewAdvance>,
    /// Advance request → its decision.
    pub(super) decisions: HashMap<Uuid, Decision>,
    /// (project, stage) → when it was last completed and last started in the batch.
    pub(super) stage_times: HashMap<(Uuid, &'static str), StageTimes>,
    /// (project, stage, key) → the item's last change; `by` is the last one that named a
    /// user (a change without one keeps the previous `updated_by`).
    pub(super) items: HashMap<(Uuid, &'static str, String), ItemUpdate>,
    /// Request → (status, at).
    pub(super) requests: HashMap<Uuid, (&'static str, DateTime<Utc>)>,
    /// Upload → its review.
    pub(super) uploads: HashMap<Uuid, Review>,
}

pub(super) struct NewRequest {
    pub(super) id: Uuid,
    pub(super) project_id: Uuid,
    pub(super) client_id: Uuid,
    pub(super) stage: &'static str,
    pub(super) item_key: String,
    pub(super) instructions: String,
    pub(super) due_on: Option<NaiveDate>,
    pub(super) by: Uuid,
    pub(super) at: DateTime<Utc>,
}

pub(super) struct NewUpload {
    pub(super) id: Uuid,
    pub(super) request_id: Uuid,
    pub(super) project_id: Uuid,
    pub(super) client_id: Uuid,
    pub(super) version: i32,
    pub(super) file: FileMeta,
    pub(super) by: Uuid,
    pub(super) at: DateTime<Utc>,
}

pub(super) struct NewAdvance {
    pub(super) id: Uuid,
    pub(super) project_id: Uuid,
    pub(super) from: &'static str,
    pub(super) to: Option<&'static str>,
    pub(super) by: Uuid,
    pub(super) at: DateTime<Utc>,
}

pub(super) struct Decision {
    pub(super) decision: &'static str,
    pub(super) reason: String,
    pub(super) by: Uuid,
    pub(super) at: DateTime<Utc>,
}

#[derive(Default)]
pub(super) struct StageTimes {
    pub(super) completed_at: Option<DateTime<Utc>>,
    pub(super) started_at: Option<DateTime<Utc>>,
}

pub(super) struct ItemUpdate {
    pub(super) status: &'static str,
    pub(super) reason: Option<String>,
    pub(super) by: Option<Uuid>,
    pub(super) at: DateTime<Utc>,
}

pub(super) struct Review {
    pub(super) state: &'static str,
    pub(super) reason: Option<String>,
    pub(super) by: Uuid,
    pub(super) at: DateTime<Utc>,
}

impl Deferred {
    pub(super) fn item(&mut self, id: Uuid, change: ItemChange<'_>, at: DateTime<Utc>) {
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

    pub(super) fn request(&mut self, request_id: Uuid, status: &'static str, at: DateTime<Utc>) {
        self.requests.insert(request_id, (status, at));
    }

    pub(super) fn review(&mut self, upload_id: Uuid, review: Review) {
        self.uploads.insert(upload_id, review);
    }

    pub(super) async fn write(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
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
