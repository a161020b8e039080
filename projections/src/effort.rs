//! The `effort` read model: `time_entries`, every entry of every timesheet with its state.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::timesheet::{EntryState, TimesheetEvent};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "effort";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct EffortProjection;

fn decided(
    ids: &[Uuid],
    state: EntryState,
    reason: Option<&str>,
    by: Option<Uuid>,
    at: DateTime<Utc>,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "UPDATE time_entries SET state = $2, reason = $3, decided_by = COALESCE($4, decided_by), \
                updated_at = $5 WHERE entry_id = ANY($1)",
    )
    .bind(ids.to_vec())
    .bind(state.as_str())
    .bind(reason.map(str::to_owned))
    .bind(by)
    .bind(at)
}

/// One statement per event.
#[async_trait]
impl FoldEach for EffortProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["time_entries"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["Timesheet"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        match decode(event)? {
            TimesheetEvent::TimeEntryLogged {
                user_id,
                entry_id,
                date,
                minutes,
                description,
                billable,
                work,
                reverses,
                external_id,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO time_entries (entry_id, user_id, week_start, date, minutes, description, \
                            billable, project_id, task_id, service_item_id, state, reverses, external_id, \
                            logged_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
                     ON CONFLICT (entry_id) DO NOTHING",
                )
                .bind(entry_id)
                .bind(user_id)
                .bind(domain::timesheet::week_start(date))
                .bind(date)
                .bind(minutes)
                .bind(description)
                .bind(billable)
                .bind(work.project_id())
                .bind(work.task_id())
                .bind(work.service_item_id())
                .bind(EntryState::Draft.as_str())
                .bind(reverses)
                .bind(external_id)
                .bind(at)
                .execute(conn)
                .await?;
            }
            TimesheetEvent::TimeEntryEdited {
                entry_id,
                date,
                minutes,
                description,
                billable,
                work,
                at,
            } => {
                sqlx::query(
                    "UPDATE time_entries SET date = $2, minutes = $3, description = $4, billable = $5, \
                            project_id = $6, task_id = $7, service_item_id = $8, updated_at = $9 \
                      WHERE entry_id = $1",
                )
                .bind(entry_id)
                .bind(date)
                .bind(minutes)
                .bind(description)
                .bind(billable)
                .bind(work.project_id())
                .bind(work.task_id())
                .bind(work.service_item_id())
                .bind(at)
                .execute(conn)
                .await?;
            }
            TimesheetEvent::TimeEntryDeleted { entry_id, .. } => {
                sqlx::query("DELETE FROM time_entries WHERE entry_id = $1")
                    .bind(entry_id)
                    .execute(conn)
                    .await?;
            }
            TimesheetEvent::TimesheetSubmitted { entry_ids, at } => {
                decided(&entry_ids, EntryState::Submitted, None, None, at)
                    .execute(conn)
                    .await?;
            }
            TimesheetEvent::TimesheetApproved { entry_ids, by, at } => {
                decided(&entry_ids, EntryState::Approved, None, Some(by), at)
                    .execute(conn)
                    .await?;
            }
            TimesheetEvent::TimeEntriesRejected {
                entry_ids,
                reason,
                by,
                at,
            } => {
                decided(
                    &entry_ids,
                    EntryState::Rejected,
                    Some(&reason),
                    Some(by),
                    at,
                )
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

/// A row of `time_entries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub entry_id: Uuid,
    pub user_id: Uuid,
    pub week_start: NaiveDate,
    pub date: NaiveDate,
    pub minutes: i32,
    pub description: String,
    pub billable: bool,
    /// The project or service item.
    pub matter_id: Uuid,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub service_item_id: Option<Uuid>,
    pub state: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub reverses: Option<Uuid>,
    /// The productivity platform's id, for an entry that came from there.
    pub external_id: Option<String>,
    /// Who approved or rejected it last.
    pub decided_by: Option<Uuid>,
    pub logged_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of an [`EntryRow`], of `time_entries e`.
pub(crate) const ENTRY_COLUMNS: &str = "e.entry_id, e.user_id, e.week_start, e.date, e.minutes, \
     e.description, e.billable, e.matter_id, e.project_id, e.task_id, e.service_item_id, e.state, \
     e.reason, e.reverses, e.external_id, e.decided_by, e.logged_at, e.updated_at";

/// One entry.
pub async fn entry(pool: &PgPool, entry_id: Uuid) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM time_entries e WHERE entry_id = $1"
    ))
    .bind(entry_id)
    .fetch_optional(pool)
    .await
}

/// `user_id`'s entries of the week starting `week_start`, by date.
pub async fn week(
    pool: &PgPool,
    user_id: Uuid,
    week_start: NaiveDate,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM time_entries e WHERE user_id = $1 AND week_start = $2 \
          ORDER BY date, logged_at, entry_id"
    ))
    .bind(user_id)
    .bind(week_start)
    .fetch_all(pool)
    .await
}

/// A week with entries waiting for approval.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingWeek {
    pub user_id: Uuid,
    pub week_start: NaiveDate,
    pub minutes: i64,
    pub entries: i64,
    pub submitted_at: DateTime<Utc>,
}

/// Weeks with submitted entries, oldest first: of the members of teams `manager` manages,
/// or everyone's when `manager` is `None` (a reviewer's queue).
pub async fn pending(
    pool: &PgPool,
    manager: Option<Uuid>,
    first: i64,
) -> Result<Vec<PendingWeek>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, week_start, sum(minutes)::bigint AS minutes, count(*) AS entries, \
                max(updated_at) AS submitted_at \
           FROM time_entries e \
          WHERE state = 'submitted' \
            AND ($1::uuid IS NULL OR (e.user_id <> $1 AND EXISTS ( \
                 SELECT 1 FROM team_members m JOIN team_members c \
                     ON c.team_id = m.team_id AND c.user_id = e.user_id \
                  WHERE m.user_id = $1 AND m.manager))) \
          GROUP BY user_id, week_start ORDER BY min(updated_at), user_id, week_start LIMIT $2",
    )
    .bind(manager)
    .bind(first)
    .fetch_all(pool)
    .await
}

/// Every matter time is logged on, with its client: each project and each service item.
/// Joined as `JOIN {MATTERS} m ON m.id = e.matter_id`; a filter on `m.client_id` reaches
/// both tables' client indexes.
pub const MATTERS: &str =
    "(SELECT id, client_id FROM project_view UNION ALL SELECT id, client_id FROM service_items)";

/// The approved entries of one matter, or of every matter of one client, by date.
pub async fn approved(
    pool: &PgPool,
    matter_id: Option<Uuid>,
    client_id: Option<Uuid>,
    first: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM time_entries e WHERE state = 'approved' \
            AND ($1::uuid IS NULL OR matter_id = $1) \
            AND ($2::uuid IS NULL OR EXISTS \
                 (SELECT 1 FROM {MATTERS} m WHERE m.id = e.matter_id AND m.client_id = $2)) \
          ORDER BY date DESC, logged_at DESC, entry_id LIMIT $3"
    ))
    .bind(matter_id)
    .bind(client_id)
    .bind(first)
    .fetch_all(pool)
    .await
}

/// An approved entry with its matter's client.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovedRow {
    pub entry_id: Uuid,
    pub user_id: Uuid,
    pub date: NaiveDate,
    pub minutes: i32,
    pub billable: bool,
    pub matter_id: Uuid,
    pub client_id: Uuid,
}

/// Every approved entry dated from `from` to `until`, with its matter's client.
pub async fn approved_between(
    pool: &PgPool,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<ApprovedRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT e.entry_id, e.user_id, e.date, e.minutes, e.billable, e.matter_id, m.client_id \
           FROM time_entries e JOIN {MATTERS} m ON m.id = e.matter_id \
          WHERE e.state = 'approved' AND e.date BETWEEN $1 AND $2 ORDER BY e.date, e.entry_id"
    ))
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// Which of `ids` are matters, and of which kind: (id, whether it is a project).
pub async fn matters_named(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, true FROM project_view WHERE id = ANY($1) \
         UNION ALL SELECT id, false FROM service_items WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}
