//! The `statements` read model: `statement_view` and `statement_lines`, the issued monthly
//! effort statements with their frozen lines.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::statement::{Month, StatementEvent};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::effort::{EntryRow, MATTERS};
use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "statements";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct StatementsProjection;

/// One issue is one statement for its row, and one `UNNEST` for its lines.
#[async_trait]
impl FoldEach for StatementsProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["statement_view", "statement_lines"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["Statement"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        match decode(event)? {
            StatementEvent::StatementIssued {
                client_id,
                month,
                revision,
                lines,
                by,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO statement_view (id, client_id, month, revision, closed, issued_by, issued_at, updated_at) \
                     VALUES ($1, $2, $3, $4, true, $5, $6, $6) \
                     ON CONFLICT (id) DO UPDATE SET revision = $4, closed = true, issued_by = $5, \
                            issued_at = $6, updated_at = $6",
                )
                .bind(id)
                .bind(client_id)
                .bind(month.to_string())
                .bind(i32::try_from(revision).unwrap_or(i32::MAX))
                .bind(by)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                let column = |f: &dyn Fn(&domain::statement::StatementLine) -> Option<i64>| {
                    lines.iter().map(f).collect::<Vec<_>>()
                };
                sqlx::query(
                    "INSERT INTO statement_lines (entry_id, statement_id, revision, date, user_id, matter_id, \
                            task_id, minutes, billable, hourly_minor, amount_minor, currency, carried_over) \
                     SELECT e, $1, $2, d, u, p, t, m, b, h, a, c, o \
                       FROM UNNEST($3::uuid[], $4::date[], $5::uuid[], $6::uuid[], $7::uuid[], $8::int[], \
                                   $9::bool[], $10::bigint[], $11::bigint[], $12::text[], $13::bool[]) \
                            AS l(e, d, u, p, t, m, b, h, a, c, o) \
                     ON CONFLICT (entry_id) DO NOTHING",
                )
                .bind(id)
                .bind(i32::try_from(revision).unwrap_or(i32::MAX))
                .bind(lines.iter().map(|l| l.entry_id).collect::<Vec<_>>())
                .bind(lines.iter().map(|l| l.date).collect::<Vec<NaiveDate>>())
                .bind(lines.iter().map(|l| l.user_id).collect::<Vec<_>>())
                .bind(lines.iter().map(|l| l.matter_id).collect::<Vec<_>>())
                .bind(lines.iter().map(|l| l.task_id).collect::<Vec<_>>())
                .bind(lines.iter().map(|l| l.minutes).collect::<Vec<_>>())
                .bind(lines.iter().map(|l| l.billable).collect::<Vec<_>>())
                .bind(column(&|l| l.hourly.as_ref().map(|m| m.minor)))
                .bind(column(&|l| l.amount.as_ref().map(|m| m.minor)))
                .bind(
                    lines
                        .iter()
                        .map(|l| l.hourly.as_ref().map(|m| m.currency.clone()))
                        .collect::<Vec<_>>(),
                )
                .bind(lines.iter().map(|l| l.carried_over).collect::<Vec<_>>())
                .execute(conn)
                .await?;
            }
            StatementEvent::MonthReopened { reason, at, .. } => {
                sqlx::query(
                    "UPDATE statement_view SET closed = false, reopened_reason = $2, updated_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(reason)
                .bind(at)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

/// A row of `statement_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatementRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub month: String,
    pub revision: i32,
    /// Issued and not reopened since.
    pub closed: bool,
    pub issued_by: Uuid,
    pub issued_at: DateTime<Utc>,
    pub reopened_reason: Option<String>,
}

/// A row of `statement_lines`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub entry_id: Uuid,
    pub revision: i32,
    pub date: NaiveDate,
    pub user_id: Uuid,
    /// The project or service item.
    pub matter_id: Uuid,
    pub task_id: Option<Uuid>,
    pub minutes: i32,
    pub billable: bool,
    pub hourly_minor: Option<i64>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub carried_over: bool,
}

const STATEMENT: &str =
    "SELECT id, client_id, month, revision, closed, issued_by, issued_at, reopened_reason FROM statement_view";

/// A client's statements, newest month first.
pub async fn statements(pool: &PgPool, client_id: Uuid) -> Result<Vec<StatementRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{STATEMENT} WHERE client_id = $1 ORDER BY month DESC"
    ))
    .bind(client_id)
    .fetch_all(pool)
    .await
}

/// A client's statement of `month`.
pub async fn statement(
    pool: &PgPool,
    client_id: Uuid,
    month: Month,
) -> Result<Option<StatementRow>, sqlx::Error> {
    sqlx::query_as(&format!("{STATEMENT} WHERE client_id = $1 AND month = $2"))
        .bind(client_id)
        .bind(month.to_string())
        .fetch_optional(pool)
        .await
}

/// A statement's lines, by date.
pub async fn lines(pool: &PgPool, statement_id: Uuid) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry_id, revision, date, user_id, matter_id, task_id, minutes, billable, \
                hourly_minor, amount_minor, currency, carried_over \
           FROM statement_lines WHERE statement_id = $1 ORDER BY date, entry_id",
    )
    .bind(statement_id)
    .fetch_all(pool)
    .await
}

/// Whether `month` is closed for the client of `matter_id` (a project or service item): its
/// statement issued and not reopened since.
pub async fn closed_for_matter(
    pool: &PgPool,
    matter_id: Uuid,
    month: Month,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM statement_view s JOIN {MATTERS} m ON m.client_id = s.client_id \
                 WHERE m.id = $1 AND s.month = $2 AND s.closed)"
    ))
    .bind(matter_id)
    .bind(month.to_string())
    .fetch_one(pool)
    .await
}

/// The approved entries of the client's matters dated up to `until` that no statement
/// holds yet: what the next statement states.
pub async fn unstated(
    pool: &PgPool,
    client_id: Uuid,
    until: NaiveDate,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM time_entries e JOIN {MATTERS} m ON m.id = e.matter_id \
          WHERE m.client_id = $1 AND e.state = 'approved' AND e.date <= $2 \
            AND NOT EXISTS (SELECT 1 FROM statement_lines l WHERE l.entry_id = e.entry_id) \
          ORDER BY e.date, e.entry_id",
        crate::effort::ENTRY_COLUMNS
    ))
    .bind(client_id)
    .bind(until)
    .fetch_all(pool)
    .await
}
