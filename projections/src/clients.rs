//! The `clients` read model: `client_view` and `client_contacts`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::client::ClientEvent;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use uuid::Uuid;

use crate::notices::notify_change;
use crate::page::{self, Cursor, Page, Sort};
use crate::runner::{decode, Projection, ProjectionError};
use crate::StoredEvent;

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct ClientsProjection;

#[async_trait]
impl Projection for ClientsProjection {
    fn name(&self) -> &'static str {
        "clients"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["client_view", "client_contacts"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Client"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
        live: bool,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        match decode::<ClientEvent>(event)? {
            ClientEvent::ClientCreated {
                name,
                lead_id,
                primary_contact,
                at,
                ..
            } => {
                let inserted = sqlx::query(
                    "INSERT INTO client_view (id, name, lead_id, created_at, updated_at, last_sequence) \
                     VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(name)
                .bind(lead_id)
                .bind(at)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if inserted == 1 {
                    insert_contact(conn, id, &primary_contact).await?;
                }
            }
            ClientEvent::ClientContactAdded { contact, at } => {
                let advanced = sqlx::query(
                    "UPDATE client_view SET last_sequence = $2, updated_at = $3 WHERE id = $1 AND last_sequence < $2",
                )
                .bind(id)
                .bind(event.sequence)
                .bind(at)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if advanced == 1 {
                    insert_contact(conn, id, &contact).await?;
                }
            }
        }
        if live {
            notify_change(conn, "client", id, Some(id)).await?;
        }
        Ok(())
    }
}

async fn insert_contact(
    conn: &mut PgConnection,
    client_id: Uuid,
    contact: &domain::client::Contact,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO client_contacts (id, client_id, name, email, phone, is_primary) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(contact.contact_id)
    .bind(client_id)
    .bind(&contact.name)
    .bind(&contact.email)
    .bind(&contact.phone)
    .bind(contact.primary)
    .execute(conn)
    .await?;
    Ok(())
}

/// A row of `client_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Source lead.
    pub lead_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Cursor value.
    pub sort_value: String,
}

/// A contact.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Phone.
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
