//! The `service_desk` read model: `service_items`, their current `service_assignees`, every
//! routing in `service_routings`, and internal `service_notes`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::service::{ServiceItemEvent, ServiceStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "service_desk";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct ServiceDeskProjection;

/// A few events per item: one statement or two each.
#[async_trait]
impl FoldEach for ServiceDeskProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &[
        "service_items",
        "service_assignees",
        "service_routings",
        "service_notes",
    ];
    const AGGREGATE_TYPES: &'static [&'static str] = &["ServiceItem"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        use ServiceItemEvent as E;
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        match decode(event)? {
            E::ServiceItemOpened {
                client_id,
                team_id,
                category,
                title,
                description,
                priority,
                due_on,
                by,
                at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO service_items (id, client_id, team_id, category, title, description, \
                            priority, due_on, status, opened_by, opened_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(client_id)
                .bind(team_id)
                .bind(category.as_str())
                .bind(title)
                .bind(description)
                .bind(priority.as_str())
                .bind(due_on)
                .bind(ServiceStatus::Open.as_str())
                .bind(by)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::ServiceItemUpdated {
                category,
                title,
                description,
                priority,
                due_on,
                at,
                ..
            } => {
                sqlx::query(
                    "UPDATE service_items SET category = $2, title = $3, description = $4, priority = $5, \
                            due_on = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(id)
                .bind(category.as_str())
                .bind(title)
                .bind(description)
                .bind(priority.as_str())
                .bind(due_on)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::ServiceItemRouted {
                assignees,
                note,
                by,
                at,
                ..
            } => {
                let users: Vec<Uuid> = assignees.iter().map(|a| a.user_id).collect();
                let budgets: Vec<Option<i32>> =
                    assignees.iter().map(|a| a.budget_minutes).collect();
                sqlx::query(
                    "WITH gone AS (DELETE FROM service_assignees WHERE item_id = $1 AND user_id <> ALL($2)), \
                          routing AS (INSERT INTO service_routings (item_id, sequence, assignees, note, routed_by, routed_at) \
                                      SELECT $1, $5, COALESCE(jsonb_agg(jsonb_build_object('user_id', u, 'budget_minutes', b)), '[]'), \
                                             $6, $7, $4 FROM UNNEST($2::uuid[], $3::int[]) AS a(u, b) \
                                      ON CONFLICT DO NOTHING), \
                          status AS (UPDATE service_items SET status = CASE WHEN status = 'open' THEN 'routed' ELSE status END, \
                                            updated_at = $4 WHERE id = $1) \
                     INSERT INTO service_assignees (item_id, user_id, budget_minutes, routed_at) \
                     SELECT $1, u, b, $4 FROM UNNEST($2::uuid[], $3::int[]) AS a(u, b) \
                     ON CONFLICT (item_id, user_id) DO UPDATE SET budget_minutes = EXCLUDED.budget_minutes",
                )
                .bind(id)
                .bind(users)
                .bind(budgets)
                .bind(at)
                .bind(event.sequence)
                .bind(note)
                .bind(by)
                .execute(conn)
                .await?;
            }
            E::ServiceItemStatusChanged { status, at, .. } => {
                sqlx::query("UPDATE service_items SET status = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(status.as_str())
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            E::ServiceItemCancelled { reason, at, .. } => {
                sqlx::query(
                    "UPDATE service_items SET status = $2, cancel_reason = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(ServiceStatus::Cancelled.as_str())
                .bind(reason)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::ServiceNoteAdded {
                note_id,
                body,
                by,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO service_notes (id, item_id, body, by_user, added_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(note_id)
                .bind(id)
                .bind(body)
                .bind(by)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::ServiceItemDueSoon { .. } | E::ServiceItemOverdue { .. } => {}
        }
        Ok(())
    }
}

/// A row of `service_items`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceItemRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub team_id: Uuid,
    pub category: String,
    pub title: String,
    pub description: String,
    pub priority: String,
    pub due_on: Option<NaiveDate>,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub opened_by: Uuid,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "s.id, s.client_id, s.team_id, s.category, s.title, s.description, s.priority, \
     s.due_on, s.status, s.cancel_reason, s.opened_by, s.opened_at, s.updated_at";

/// One item.
pub async fn item(pool: &PgPool, id: Uuid) -> Result<Option<ServiceItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM service_items s WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// What a queue holds; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    pub team_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub assignee: Option<Uuid>,
    pub statuses: Vec<String>,
    /// Only items due before this date and not finished.
    pub overdue_on: Option<NaiveDate>,
    /// Only items that are not done or cancelled.
    pub open_only: bool,
}

/// The items of a queue, earliest due first (undated last), then oldest; at most `first`
/// after the item `after` in that order.
pub async fn queue(
    pool: &PgPool,
    queue: &Queue,
    first: i64,
    after: Option<(Option<NaiveDate>, DateTime<Utc>, Uuid)>,
) -> Result<Vec<ServiceItemRow>, sqlx::Error> {
    let (after_due, after_opened, after_id) = match after {
        Some((due, opened, id)) => (due, Some(opened), Some(id)),
        None => (None, None, None),
    };
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM service_items s \
          WHERE ($1::uuid IS NULL OR s.team_id = $1) \
            AND ($2::uuid IS NULL OR s.client_id = $2) \
            AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM service_assignees a WHERE a.item_id = s.id AND a.user_id = $3)) \
            AND (cardinality($4::text[]) = 0 OR s.status = ANY($4)) \
            AND ($5::date IS NULL OR (s.due_on < $5 AND s.status NOT IN ('done', 'cancelled'))) \
            AND (NOT $6 OR s.status NOT IN ('done', 'cancelled')) \
            AND ($8::uuid IS NULL OR (COALESCE(s.due_on, 'infinity'::date), s.opened_at, s.id) > \
                                     (COALESCE($7::date, 'infinity'::date), $9::timestamptz, $8)) \
          ORDER BY COALESCE(s.due_on, 'infinity'::date), s.opened_at, s.id LIMIT $10"
    ))
    .bind(queue.team_id)
    .bind(queue.client_id)
    .bind(queue.assignee)
    .bind(&queue.statuses)
    .bind(queue.overdue_on)
    .bind(queue.open_only)
    .bind(after_due)
    .bind(after_id)
    .bind(after_opened)
    .bind(first)
    .fetch_all(pool)
    .await
}

/// A current assignee, with the minutes they logged on the item (every state but rejected).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssigneeRow {
    pub user_id: Uuid,
    pub budget_minutes: Option<i32>,
    pub logged_minutes: i64,
    pub routed_at: DateTime<Utc>,
}

/// The current assignees of an item.
pub async fn assignees(pool: &PgPool, item_id: Uuid) -> Result<Vec<AssigneeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.user_id, a.budget_minutes, a.routed_at, \
                COALESCE((SELECT sum(e.minutes) FROM time_entries e \
                           WHERE e.service_item_id = a.item_id AND e.user_id = a.user_id \
                             AND e.state <> 'rejected'), 0)::bigint AS logged_minutes \
           FROM service_assignees a WHERE a.item_id = $1 ORDER BY a.routed_at, a.user_id",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

/// One routing of an item.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoutingRow {
    pub assignees: sqlx::types::Json<Vec<domain::service::Assignment>>,
    pub note: Option<String>,
    pub routed_by: Uuid,
    pub routed_at: DateTime<Utc>,
}

/// Every routing of an item, oldest first.
pub async fn routings(pool: &PgPool, item_id: Uuid) -> Result<Vec<RoutingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT assignees, note, routed_by, routed_at FROM service_routings \
          WHERE item_id = $1 ORDER BY sequence",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

/// An internal note.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoteRow {
    pub id: Uuid,
    pub body: String,
    pub by_user: Uuid,
    pub added_at: DateTime<Utc>,
}

/// An item's internal notes, oldest first.
pub async fn notes(pool: &PgPool, item_id: Uuid) -> Result<Vec<NoteRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, body, by_user, added_at FROM service_notes WHERE item_id = $1 ORDER BY added_at, id",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

/// Unfinished items due on or before `until` (due soon, or overdue), with the managers of
/// their teams: what the scheduler looks at.
pub async fn due_by(
    pool: &PgPool,
    until: NaiveDate,
) -> Result<Vec<(Uuid, Vec<Uuid>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, ARRAY(SELECT m.user_id FROM team_members m WHERE m.team_id = s.team_id AND m.manager \
                            ORDER BY m.user_id) \
           FROM service_items s WHERE s.due_on <= $1 AND s.status NOT IN ('done', 'cancelled') ORDER BY s.id",
    )
    .bind(until)
    .fetch_all(pool)
    .await
}
