//! The `clients` read model: `client_view` and `client_contacts`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::client::ClientEvent;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use uuid::Uuid;

use crate::notices::notify_changes;
use crate::page::{self, Cursor, Page, Sort};
use crate::runner::{decode_batch, Decoded, Projection, ProjectionError};
use crate::unnest::column;
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "clients";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct ClientsProjection;

#[async_trait]
impl Projection for ClientsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["client_view", "client_contacts"]
    }

    fn indexed_after_fold(&self) -> &'static [&'static str] {
        self.tables()
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Client"]
    }

    /// Folded in memory per batch: one query loads the clients' rows, one upsert writes
    /// them back and one insert adds the contacts.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        live: bool,
    ) -> Result<(), ProjectionError> {
        let Decoded { events, ids } = decode_batch::<ClientEvent>(events)?;
        let rows: Vec<ViewRow> = sqlx::query_as(
            "SELECT id, name, lead_id, created_at, updated_at, last_sequence \
                   FROM client_view WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let mut views: HashMap<Uuid, ViewRow> = rows.into_iter().map(|row| (row.id, row)).collect();
        let mut changed: Vec<Uuid> = Vec::new();
        let mut touched: HashSet<Uuid> = HashSet::new();
        let mut contacts: Vec<(Uuid, domain::client::Contact)> = Vec::new();
        for (id, event, payload) in events {
            match payload {
                ClientEvent::ClientCreated {
                    name,
                    lead_id,
                    primary_contact,
                    at,
                    ..
                } => {
                    if views.contains_key(&id) {
                        continue;
                    }
                    let row = ViewRow {
                        id,
                        name,
                        lead_id,
                        created_at: at,
                        updated_at: at,
                        last_sequence: event.sequence,
                    };
                    views.insert(id, row);
                    contacts.push((id, primary_contact));
                }
                ClientEvent::ClientContactAdded { contact, at } => {
                    let Some(view) = views.get_mut(&id) else {
                        continue;
                    };
                    if view.last_sequence >= event.sequence {
                        continue;
                    }
                    (view.updated_at, view.last_sequence) = (at, event.sequence);
                    contacts.push((id, contact));
                }
            }
            if touched.insert(id) {
                changed.push(id);
            }
        }
        let rows: Vec<&ViewRow> = changed.iter().filter_map(|id| views.get(id)).collect();
        if !rows.is_empty() {
            sqlx::query(
                "INSERT INTO client_view (id, name, lead_id, created_at, updated_at, last_sequence) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], \
                                      $5::timestamptz[], $6::bigint[]) \
                 ON CONFLICT (id) DO UPDATE SET updated_at = EXCLUDED.updated_at, \
                        last_sequence = EXCLUDED.last_sequence",
            )
            .bind(column(&rows, |r| r.id))
            .bind(column(&rows, |r| r.name.as_str()))
            .bind(column(&rows, |r| r.lead_id))
            .bind(column(&rows, |r| r.created_at))
            .bind(column(&rows, |r| r.updated_at))
            .bind(column(&rows, |r| r.last_sequence))
            .execute(&mut *conn)
            .await?;
        }
        if !contacts.is_empty() {
            sqlx::query(
                "INSERT INTO client_contacts (id, client_id, name, email, phone, is_primary) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bool[]) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(column(&contacts, |(_, c)| c.contact_id))
            .bind(column(&contacts, |(client, _)| *client))
            .bind(column(&contacts, |(_, c)| c.name.as_str()))
            .bind(column(&contacts, |(_, c)| c.email.as_str()))
            .bind(column(&contacts, |(_, c)| c.phone.as_deref()))
            .bind(column(&contacts, |(_, c)| c.primary))
            .execute(&mut *conn)
            .await?;
        }
        if live {
            let changed: Vec<(Uuid, Option<Uuid>)> =
                changed.iter().map(|id| (*id, Some(*id))).collect();
            notify_changes(conn, "client", &changed).await?;
        }
        Ok(())
    }
}

/// A `client_view` row as the fold holds it.
#[derive(Debug, sqlx::FromRow)]
struct ViewRow {
    id: Uuid,
    name: String,
    lead_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_sequence: i64,
}

/// A row of `client_view`.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ClientRow {
    pub id: Uuid,
    pub name: String,
    /// Source lead.
    pub lead_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Cursor value.
    pub sort_value: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// Primary contact.
    pub is_primary: bool,
}

/// Filters of the client list.
#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    /// Only this client (portal users see only their own).
    pub only: Option<Uuid>,
    /// Text in the name.
    pub search: Option<String>,
}

/// Sortable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSortField {
    /// Creation time.
    CreatedAt,
    /// Name, case-insensitive.
    Name,
}

const COLUMNS: &str = "id, name, lead_id, created_at, updated_at";

fn push_filter(qb: &mut QueryBuilder<'_, sqlx::Postgres>, filter: &ClientFilter) {
    qb.push(" WHERE true");
    if let Some(only) = filter.only {
        qb.push(" AND id = ").push_bind(only);
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        qb.push(" AND name ILIKE ")
            .push_bind(page::like_pattern(search));
    }
}

/// One page of clients.
pub async fn list(
    pool: &PgPool,
    filter: &ClientFilter,
    sort: ClientSortField,
    descending: bool,
    first: i64,
    after: Option<&Cursor>,
) -> Result<Page<ClientRow>, sqlx::Error> {
    let (expr, cast) = match sort {
        ClientSortField::CreatedAt => ("created_at", "timestamptz"),
        ClientSortField::Name => ("lower(name)", "text"),
    };
    let sort = Sort {
        expr,
        cast,
        descending,
    };
    page::fetch(
        pool,
        "client_view",
        COLUMNS,
        |qb| push_filter(qb, filter),
        sort,
        first,
        after,
    )
    .await
}

/// How many clients match.
pub async fn count(pool: &PgPool, filter: &ClientFilter) -> Result<i64, sqlx::Error> {
    page::count(pool, "client_view", |qb| push_filter(qb, filter)).await
}

/// One client.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, '' AS sort_value FROM client_view WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Several clients at once (for batch loading).
pub async fn find_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ClientRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, '' AS sort_value FROM client_view WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// Contacts of a client, primary first.
pub async fn contacts(pool: &PgPool, client_id: Uuid) -> Result<Vec<ContactRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, email, phone, is_primary FROM client_contacts WHERE client_id = $1 ORDER BY is_primary DESC, name",
    )
    .bind(client_id)
    .fetch_all(pool)
    .await
}
