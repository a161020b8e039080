//! Keyset pagination shared by every list: stable under inserts, no OFFSET scans.
//!
//! A list sorts by one whitelisted expression plus `id` as tie-breaker; the cursor carries the
//! last row's sort value (as text) and id, and the next page starts strictly after it.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// Position after which a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Sort value of the last row seen, as text.
    pub value: String,
    /// Id of the last row seen.
    pub id: Uuid,
}

/// A sort: a SQL expression over the table, the type to cast the cursor to, a direction.
#[derive(Debug, Clone, Copy)]
pub struct Sort {
    /// Expression (a constant from a whitelist, never user text).
    pub expr: &'static str,
    /// Its SQL type.
    pub cast: &'static str,
    /// Descending order.
    pub descending: bool,
}

/// A page of rows and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Rows in order.
    pub rows: Vec<T>,
    /// Whether another page exists.
    pub has_next: bool,
}

/// Appends `AND (expr, id) > (cursor)` (or `<` when descending).
pub fn push_after(qb: &mut QueryBuilder<'_, Postgres>, sort: Sort, after: Option<&Cursor>) {
    if let Some(cursor) = after {
        let op = if sort.descending { "<" } else { ">" };
        qb.push(format_args!(" AND ({}, id) {op} (", sort.expr));
        qb.push_bind(cursor.value.clone());
        qb.push(format_args!("::{}, ", sort.cast));
        qb.push_bind(cursor.id);
        qb.push(")");
    }
}

/// Appends `ORDER BY expr, id LIMIT first + 1`.
///
/// The limit is written into the text, not bound: with `LIMIT $n` the planner prices a
/// generic plan as if a tenth of the table came back, so PostgreSQL re-plans the prepared
/// statement on every execution. `first` is a number the caller validated, never user text.
pub fn push_order(qb: &mut QueryBuilder<'_, Postgres>, sort: Sort, first: i64) {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    qb.push(format_args!(
        " ORDER BY {} {dir}, id {dir} LIMIT {}",
        sort.expr,
        first + 1
    ));
}

/// Trims the extra row fetched to learn whether a next page exists.
pub fn finish<T>(mut rows: Vec<T>, first: i64) -> Page<T> {
    let first = usize::try_from(first).unwrap_or(0);
    let has_next = rows.len() > first;
    rows.truncate(first);
    Page { rows, has_next }
}

/// A read query's optional columns: each row field's name with the SQL that reads it.
///
/// A query that reads only what its caller selects (see the API's look-ahead) builds its
/// select list with [`select_list`]; the row type's fields (`column_fields!`) whose columns
/// are present are set and the others keep their defaults, which a reader that did not ask
/// for them never sees.
pub type Columns = [(&'static str, &'static str)];

/// `always`, then the SQL of each of the `columns` whose field `wanted` names, joined with
/// commas.
pub fn select_list(always: &str, columns: &Columns, wanted: impl Fn(&str) -> bool) -> String {
    let mut list = always.to_owned();
    for (_, sql) in columns.iter().filter(|(field, _)| wanted(field)) {
        list.push_str(", ");
        list.push_str(sql);
    }
    list
}

/// Escapes `%`, `_` and `\` for a `LIKE` pattern, wrapped in `%...%`.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One page of `table` (a table, or a table with joins whose columns do not clash with its
/// own): `columns` plus the sort value as `sort_value`, with the conditions `filter` appends
/// (after a `WHERE`), starting after `after`.
pub async fn fetch<R>(
    pool: &PgPool,
    table: &str,
    columns: &str,
    filter: impl FnOnce(&mut QueryBuilder<'_, Postgres>),
    sort: Sort,
    first: i64,
    after: Option<&Cursor>,
) -> Result<Page<R>, sqlx::Error>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let rows = fetch_rows(pool, table, columns, filter, sort, first, after).await?;
    let rows = rows.iter().map(R::from_row).collect::<Result<_, _>>()?;
    Ok(finish(rows, first))
}

/// [`fetch`]'s rows as they came, one more than `first` if there is a next page (for
/// [`finish`]), for a reader that decodes them all at once.
pub async fn fetch_rows(
    pool: &PgPool,
    table: &str,
    columns: &str,
    filter: impl FnOnce(&mut QueryBuilder<'_, Postgres>),
    sort: Sort,
    first: i64,
    after: Option<&Cursor>,
) -> Result<Vec<PgRow>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {columns}, ({})::text AS sort_value FROM {table}",
        sort.expr
    ));
    filter(&mut qb);
    push_after(&mut qb, sort, after);
    push_order(&mut qb, sort, first);
    qb.build().fetch_all(pool).await
}

/// How many rows of `table` match the conditions `filter` appends.
pub async fn count(
    pool: &PgPool,
    table: &str,
    filter: impl FnOnce(&mut QueryBuilder<'_, Postgres>),
) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!("SELECT count(*) FROM {table}"));
    filter(&mut qb);
    qb.build_query_scalar().fetch_one(pool).await
}
