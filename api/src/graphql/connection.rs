//! Relay connections: cursor encoding, page-size checks and the opt-in `totalCount`.

use async_graphql::connection::{Connection, Edge};
use std::future::Future;

use async_graphql::{Context, Lookahead, OutputType, SimpleObject};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use projections::page::{Cursor, Page};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Default page size.
pub(super) const DEFAULT_FIRST: i32 = 20;
/// Largest page size.
pub(super) const MAX_FIRST: i32 = 100;

/// Extra connection fields.
#[derive(SimpleObject, Debug)]
pub(super) struct CountField {
    /// Total matching records (computed only when asked for).
    pub total_count: Option<i64>,
}

/// Encodes a cursor as opaque text.
pub(super) fn encode(value: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{id}|{value}"))
}

/// Decodes a cursor, or says it is malformed.
pub(super) fn decode(cursor: &str) -> ApiResult<Cursor> {
    let bad = || ApiError::bad_input("after: not a cursor returned by this list");
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (id, value) = text.split_once('|').ok_or_else(bad)?;
    Ok(Cursor {
        value: value.to_owned(),
        id: Uuid::parse_str(id).map_err(|_| bad())?,
    })
}

/// Validates `first` and decodes `after`.
pub(super) fn arguments(
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<(i64, Option<Cursor>)> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    if !(1..=MAX_FIRST).contains(&first) {
        return Err(ApiError::bad_input(format!(
            "first: must be between 1 and {MAX_FIRST}"
        )));
    }
    Ok((i64::from(first), after.map(decode).transpose()?))
}

/// What the query selects on the nodes of a connection, through `edges { node }` and
/// `nodes` alike.
pub(super) fn node_selection<'a>(ctx: &'a Context<'_>) -> Lookahead<'a> {
    let page = ctx.look_ahead();
    let through_edges = page.field("edges").field("node");
    if through_edges.exists() {
        through_edges
    } else {
        page.field("nodes")
    }
}

/// Whether `selection` selects the GraphQL field of the row field `snake_case` (its name in
/// camelCase, as the derives name it); for reading only the columns a query shows.
pub(super) fn selects(selection: &Lookahead<'_>, snake_case: &str) -> bool {
    selection.field(&camel_case(snake_case)).exists()
}

/// `snake_case` in camelCase, as the derives name fields.
pub(super) fn camel_case(snake_case: &str) -> String {
    let mut name = String::with_capacity(snake_case.len());
    let mut upper = false;
    for c in snake_case.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            name.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            name.push(c);
        }
    }
    name
}

/// Answers a list field: runs the page query, the count only when `totalCount` is selected,
/// and builds the edges with cursors from `key`.
pub(super) async fn respond<R, N: OutputType, C>(
    ctx: &Context<'_>,
    had_cursor: bool,
    page: impl Future<Output = Result<Page<R>, sqlx::Error>>,
    count: impl FnOnce() -> C,
    key: impl Fn(&R) -> (String, Uuid),
    node: impl Fn(R) -> N,
) -> ApiResult<Connection<String, N, CountField>>
where
    C: Future<Output = Result<i64, sqlx::Error>>,
{
    let page = page.await.map_err(|error| {
        // A cursor is the sort value as text, cast to the sort's type in the query: one this
        // list did not hand out (made by hand, or from another sort) fails that cast.
        let cast_failed = error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code.starts_with("22"));
        if had_cursor && cast_failed {
            ApiError::bad_input("after: not a cursor of this list with this sort")
        } else {
            error.into()
        }
    })?;
    let look_ahead = ctx.look_ahead();
    let total_count = if look_ahead.field("totalCount").exists() {
        Some(count().await?)
    } else {
        None
    };
    let mut connection =
        Connection::with_additional_fields(had_cursor, page.has_next, CountField { total_count });
    // A cursor is encoded only where it can be seen: on every edge when `edges { cursor }` is
    // selected, on the first and last when `pageInfo` is (its start and end cursors).
    let every = look_ahead.field("edges").field("cursor").exists();
    let ends = look_ahead.field("pageInfo").exists();
    let last = page.rows.len().saturating_sub(1);
    connection
        .edges
        .extend(page.rows.into_iter().enumerate().map(|(at, row)| {
            let cursor = if every || (ends && (at == 0 || at == last)) {
                let (value, id) = key(&row);
                encode(&value, id)
            } else {
                String::new()
            };
            Edge::new(cursor, node(row))
        }));
    Ok(connection)
}

pub(super) fn search_text(search: Option<String>) -> Result<Option<String>, ApiError> {
    match search {
        Some(s) if s.chars().count() > 200 => Err(ApiError::bad_input(
            "search: must be at most 200 characters",
        )),
        other => Ok(other),
    }
}

/// Read-model rows as GraphQL objects.
pub(super) fn objects<R, N: From<R>>(
    rows: Result<Vec<R>, sqlx::Error>,
) -> Result<Vec<N>, ApiError> {
    Ok(rows?.into_iter().map(N::from).collect())
}
