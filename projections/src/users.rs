//! The `users` read model: `user_view` (no credentials: those never leave the write side).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::user::UserEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "users";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct UsersProjection;

/// A few events per stream: one statement each.
#[async_trait]
impl FoldEach for UsersProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["user_view"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["User"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let seq = event.sequence;
        let payload: UserEvent = decode(event)?;
        if let UserEvent::UserRegistered {
            email,
            display_name,
            role,
            client_id,
            at,
            ..
        } = payload
        {
            sqlx::query(
                "INSERT INTO user_view (id, email, display_name, role, client_id, active, created_at, updated_at, last_sequence) \
                 VALUES ($1, $2, $3, $4, $5, true, $6, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(email)
            .bind(display_name)
            .bind(role.as_str())
            .bind(client_id)
            .bind(at)
            .bind(seq)
            .execute(conn)
            .await?;
            return Ok(());
        }
        let (role, deactivated, at) = match payload {
            UserEvent::UserRoleChanged { role, at } => (Some(role.as_str()), false, at),
            UserEvent::UserDeactivated { at } => (None, true, at),
            UserEvent::UserPasswordChanged { at }
            | UserEvent::NotificationsRead { at, .. }
            | UserEvent::NotificationPreferencesSet { at, .. } => (None, false, at),
            UserEvent::UserRegistered { at, .. } => (None, false, at),
        };
        sqlx::query(
            "UPDATE user_view SET role = COALESCE($3, role), active = active AND NOT $4, updated_at = $5, last_sequence = $2 \
              WHERE id = $1 AND last_sequence < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(role)
        .bind(deactivated)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A row of `user_view`.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// Role name.
    pub role: String,
    /// Client (portal users).
    pub client_id: Option<Uuid>,
    /// May log in.
    pub active: bool,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, display_name, role, client_id, active, created_at";

/// One user.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM user_view WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Several users at once (for batch loading).
pub async fn find_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM user_view WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// Internal users (portal users excluded), by name.
pub async fn internal(pool: &PgPool) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM user_view WHERE client_id IS NULL ORDER BY lower(display_name), id"
    ))
    .fetch_all(pool)
    .await
}

/// Portal users of one client.
pub async fn of_client(pool: &PgPool, client_id: Uuid) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM user_view WHERE client_id = $1 ORDER BY lower(display_name), id"
    ))
    .bind(client_id)
    .fetch_all(pool)
    .await
}

/// The users with these (lower-case) emails.
pub async fn by_emails(pool: &PgPool, emails: &[String]) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM user_view WHERE email = ANY($1)"
    ))
    .bind(emails)
    .fetch_all(pool)
    .await
}
