//! Read queries over the leads read model.

use crate::columns;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Column, FromRow, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::clients::ClientRow;
use crate::page::{self, select_list, Columns, Cursor, Page, Sort};
use crate::users::UserRow;

/// A row of `lead_view`. A list page reads only the fields its query shows (see
/// [`LEAD_COLUMNS`]); the others keep their defaults.
#[derive(Debug, Clone, Default)]
pub struct LeadRow {
    pub id: Uuid,
    pub company: String,
    pub contact_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub source: String,
    pub service_interest: String,
    pub owner_id: Option<Uuid>,
    pub score: Option<i32>,
    pub stage: String,
    pub lost_reason: Option<String>,
    /// Client it converted into.
    pub client_id: Option<Uuid>,
    /// Project created at conversion.
    pub project_id: Option<Uuid>,
    /// Latest follow-up date.
    pub next_follow_up: Option<NaiveDate>,
    pub note_count: i32,
    /// Activities.
    pub activity_count: i32,
    pub captured_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Sort value for cursors (empty for single fetches).
    pub sort_value: String,
}

column_fields!(LeadField for LeadRow {
    id,
    sort_value,
    company,
    contact_name,
    email,
    phone,
    source,
    service_interest,
    owner_id,
    score,
    stage,
    lost_reason,
    client_id,
    project_id,
    next_follow_up,
    note_count,
    activity_count,
    captured_at,
    updated_at,
});

impl FromRow<'_, PgRow> for LeadRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        columns::read_one::<LeadRow, LeadField>(row)
    }
}

/// Filters of the lead list (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    /// Any of these stages.
    pub stages: Option<Vec<String>>,
    /// Owned by.
    pub owner_id: Option<Uuid>,
    /// From this source.
    pub source: Option<String>,
    /// Text in company, contact or email.
    pub search: Option<String>,
    /// Follow-up due on or before.
    pub follow_up_before: Option<NaiveDate>,
    /// Converted or not.
    pub converted: Option<bool>,
}

/// Sortable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadSortField {
    /// Capture time.
    CapturedAt,
    /// Last change.
    UpdatedAt,
    /// Score (unscored last when descending).
    Score,
    /// Company name, case-insensitive.
    Company,
}

impl LeadSortField {
    fn sort(self, descending: bool) -> Sort {
        let (expr, cast) = match self {
            LeadSortField::CapturedAt => ("captured_at", "timestamptz"),
            LeadSortField::UpdatedAt => ("updated_at", "timestamptz"),
            LeadSortField::Score => ("COALESCE(score, -1)", "integer"),
            LeadSortField::Company => ("lower(company)", "text"),
        };
        Sort {
            expr,
            cast,
            descending,
        }
    }
}

/// The fields of a [`LeadRow`] a list page may leave unread, with their columns (`id` and
/// the sort value are always read).
pub const LEAD_COLUMNS: &Columns = &[
    ("company", "company"),
    ("contact_name", "contact_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("source", "source"),
    ("service_interest", "service_interest"),
    ("owner_id", "owner_id"),
    ("score", "score"),
    ("stage", "stage"),
    ("lost_reason", "lost_reason"),
    ("client_id", "client_id"),
    ("project_id", "project_id"),
    ("next_follow_up", "next_follow_up"),
    ("note_count", "note_count"),
    ("activity_count", "activity_count"),
    ("captured_at", "captured_at"),
    ("updated_at", "updated_at"),
];

/// The fields of a lead's joined owner (a [`UserRow`]) a page may leave unread (`id` is
/// always read when the owner is).
pub const OWNER_COLUMNS: &Columns = &[
    ("email", "o_email"),
    ("display_name", "o_display_name"),
    ("role", "o_role"),
    ("client_id", "o_client_id"),
    ("active", "o_active"),
    ("created_at", "o_created_at"),
];

/// The fields of a lead's joined client (a [`ClientRow`]) a page may leave unread (`id` is
/// always read when the client is).
pub const CLIENT_COLUMNS: &Columns = &[
    ("name", "c_name"),
    ("lead_id", "c_lead_id"),
    ("created_at", "c_created_at"),
    ("updated_at", "c_updated_at"),
];

/// What a lead page reads: the lead fields `lead` names, and the owner's and client's
/// fields their functions name when the page shows them (by the names in [`LEAD_COLUMNS`],
/// [`OWNER_COLUMNS`] and [`CLIENT_COLUMNS`]).
pub struct LeadSelection<L, O, C> {
    /// Lead fields.
    pub lead: L,
    /// Owner fields, if the owner is shown.
    pub owner: Option<O>,
    /// Client fields, if the client is shown.
    pub client: Option<C>,
}

impl<L, O, C> std::fmt::Debug for LeadSelection<L, O, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeadSelection")
            .field("owner", &self.owner.is_some())
            .field("client", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: &LeadFilter) {
    qb.push(" WHERE true");
    if let Some(stages) = &filter.stages {
        qb.push(" AND stage = ANY(")
            .push_bind(stages.clone())
            .push(")");
    }
    if let Some(owner) = filter.owner_id {
        qb.push(" AND owner_id = ").push_bind(owner);
    }
    if let Some(source) = &filter.source {
        qb.push(" AND source = ").push_bind(source.clone());
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = page::like_pattern(search);
        qb.push(" AND (company ILIKE ").push_bind(pattern.clone());
        qb.push(" OR contact_name ILIKE ")
            .push_bind(pattern.clone());
        qb.push(" OR email ILIKE ").push_bind(pattern).push(")");
    }
    if let Some(date) = filter.follow_up_before {
        qb.push(" AND next_follow_up <= ").push_bind(date);
    }
    if let Some(converted) = filter.converted {
        qb.push(if converted {
            " AND client_id IS NOT NULL"
        } else {
            " AND client_id IS NULL"
        });
    }
}

/// One page of leads, with the fields `wanted` names read (see [`LEAD_COLUMNS`]).
pub async fn list(
    pool: &PgPool,
    filter: &LeadFilter,
    sort: LeadSortField,
    descending: bool,
    first: i64,
    after: Option<&Cursor>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Page<LeadRow>, sqlx::Error> {
    let columns = select_list("id", LEAD_COLUMNS, wanted);
    let filter = |qb: &mut QueryBuilder<'_, Postgres>| push_filter(qb, filter);
    let rows = page::fetch_rows(
        pool,
        "lead_view",
        &columns,
        filter,
        sort.sort(descending),
        first,
        after,
    )
    .await?;
    Ok(page::finish(
        columns::read_all::<LeadRow, LeadField>(&rows)?,
        first,
    ))
}

/// A lead of a list page with its owner and client, read in the page's query.
#[derive(Debug, Clone)]
pub struct ListedLead {
    pub lead: LeadRow,
    /// Its owner, if it has one.
    pub owner: Option<UserRow>,
    /// The client it converted into, if it did.
    pub client: Option<ClientRow>,
}

/// `lead_view` with its owner and client joined under prefixed names, so the filters and
/// sorts of the plain list apply unchanged (the planner flattens the subqueries).
const WITH_OWNER_AND_CLIENT: &str = "lead_view \
     LEFT JOIN (SELECT id AS o_id, email AS o_email, display_name AS o_display_name, role AS o_role, \
                       client_id AS o_client_id, active AS o_active, created_at AS o_created_at \
                  FROM user_view) o ON o.o_id = lead_view.owner_id \
     LEFT JOIN (SELECT id AS c_id, name AS c_name, lead_id AS c_lead_id, created_at AS c_created_at, \
                       updated_at AS c_updated_at \
                  FROM client_view) c ON c.c_id = lead_view.client_id";

column_fields!(OwnerField for UserRow {
    email,
    display_name,
    role,
    client_id,
    active,
    created_at,
});

column_fields!(ClientField for ClientRow {
    name,
    lead_id,
    created_at,
    updated_at,
});

/// `rows` of a page read with owners and clients joined (columns `o_...` and `c_...`), the
/// columns matched to fields once for the page. An owner or client whose id is null (no
/// owner, not converted) is `None`, and its other columns are not read.
fn listed(rows: &[PgRow]) -> Result<Vec<ListedLead>, sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let lead = columns::plan::<LeadRow, LeadField>(first, "");
    let owner = Joined::<UserRow, OwnerField>::plan(first, "o_");
    let client = Joined::<ClientRow, ClientField>::plan(first, "c_");
    rows.iter()
        .map(|row| {
            let mut listed = ListedLead {
                lead: LeadRow::default(),
                owner: owner.read(row, |id| UserRow {
                    id,
                    ..UserRow::default()
                })?,
                client: client.read(row, |id| ClientRow {
                    id,
                    ..ClientRow::default()
                })?,
            };
            columns::read(&lead, &mut listed.lead, row)?;
            Ok(listed)
        })
        .collect()
}

/// A joined row's plan: where its id is (absent if the page did not join it), and its
/// other fields.
struct Joined<T, F> {
    id: Option<usize>,
    fields: Vec<(usize, F)>,
    target: std::marker::PhantomData<fn() -> T>,
}

impl<T, F: columns::Fields<T>> Joined<T, F> {
    fn plan(row: &PgRow, prefix: &str) -> Self {
        let id = format!("{prefix}id");
        Self {
            id: row.columns().iter().position(|c| c.name() == id),
            fields: columns::plan(row, prefix),
            target: std::marker::PhantomData,
        }
    }

    /// The joined row, if the page joined it and found one.
    fn read(&self, row: &PgRow, with_id: impl Fn(Uuid) -> T) -> Result<Option<T>, sqlx::Error> {
        let Some(index) = self.id else {
            return Ok(None);
        };
        let Some(id) = row.try_get_unchecked::<Option<Uuid>, _>(index)? else {
            return Ok(None);
        };
        let mut target = with_id(id);
        columns::read(&self.fields, &mut target, row)?;
        Ok(Some(target))
    }
}

/// One page of leads with their owners and clients, joined in the same query (what a list
/// that shows them needs, without a second and third query), reading the fields `selection`
/// names. An owner or client the page does not show is left out (`None`), and so is its
/// join: PostgreSQL drops a left join none of whose columns are read.
pub async fn list_with_owner_and_client<L, O, C>(
    pool: &PgPool,
    filter: &LeadFilter,
    sort: LeadSortField,
    descending: bool,
    first: i64,
    after: Option<&Cursor>,
    selection: LeadSelection<L, O, C>,
) -> Result<Page<ListedLead>, sqlx::Error>
where
    L: Fn(&str) -> bool,
    O: Fn(&str) -> bool,
    C: Fn(&str) -> bool,
{
    let mut columns = select_list("id", LEAD_COLUMNS, selection.lead);
    if let Some(owner) = selection.owner {
        columns.push_str(", ");
        columns.push_str(&select_list("o_id", OWNER_COLUMNS, owner));
    }
    if let Some(client) = selection.client {
        columns.push_str(", ");
        columns.push_str(&select_list("c_id", CLIENT_COLUMNS, client));
    }
    let filter = |qb: &mut QueryBuilder<'_, Postgres>| push_filter(qb, filter);
    let sort = sort.sort(descending);
    let rows = page::fetch_rows(
        pool,
        WITH_OWNER_AND_CLIENT,
        &columns,
        filter,
        sort,
        first,
        after,
    )
    .await?;
    Ok(page::finish(listed(&rows)?, first))
}

/// How many leads match `filter`.
pub async fn count(pool: &PgPool, filter: &LeadFilter) -> Result<i64, sqlx::Error> {
    page::count(pool, "lead_view", |qb| push_filter(qb, filter)).await
}

/// One lead.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {}, '' AS sort_value FROM lead_view WHERE id = $1",
        select_list("id", LEAD_COLUMNS, |_| true)
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A note on a lead.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoteRow {
    pub id: Uuid,
    pub body: String,
    pub author_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// An activity on a lead.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: Uuid,
    pub kind: String,
    pub summary: String,
    /// Follow-up date.
    pub follow_up_on: Option<NaiveDate>,
    pub author_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// Notes of a lead, newest first.
pub async fn notes(pool: &PgPool, lead_id: Uuid) -> Result<Vec<NoteRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, body, author_id, at FROM lead_notes WHERE lead_id = $1 ORDER BY at DESC, id",
    )
    .bind(lead_id)
    .fetch_all(pool)
    .await
}

/// Activities of a lead, newest first.
pub async fn activities(pool: &PgPool, lead_id: Uuid) -> Result<Vec<ActivityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, summary, follow_up_on, author_id, at FROM lead_activities WHERE lead_id = $1 ORDER BY at DESC, id",
    )
    .bind(lead_id)
    .fetch_all(pool)
    .await
}
