//! Reads of the `notifications` read model: a user's notifications, their preferences,
//! the unread count.

use uuid::Uuid;

/// How notifications reach a person besides the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Preferences {
    /// Kinds not emailed.
    pub email_muted: Vec<String>,
    /// A daily digest instead of single emails.
    pub digest: bool,
    /// Kinds also sent by WhatsApp.
    pub whatsapp: Vec<String>,
    /// Where they go.
    pub whatsapp_number: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    /// Its recipient.
    pub user_id: Uuid,
    /// A `domain::user::NotificationKind`, as persisted.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub project_id: Option<Uuid>,
    /// Request or task concerned.
    pub subject_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Which notifications [`list`] reads: one user's (`user_id`) or everyone's (the Ops
/// Center), of one kind or all.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub user_id: Option<Uuid>,
    pub kind: Option<String>,
    pub unread_only: bool,
}

/// Notifications, newest first.
pub async fn list(
    pool: &sqlx::PgPool,
    filter: &NotificationFilter,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, kind, title, body, project_id, subject_id, created_at, read_at FROM notifications \
          WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR kind = $2) \
            AND (NOT $3 OR read_at IS NULL) ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(filter.user_id)
    .bind(&filter.kind)
    .bind(filter.unread_only)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A user's preferences (`None`: not a recipient yet).
pub async fn preferences(
    pool: &sqlx::PgPool,
    user_id: Uuid,
) -> Result<Option<Preferences>, sqlx::Error> {
    sqlx::query_as(
        "SELECT email_muted, digest, whatsapp, whatsapp_number FROM notification_recipients \
          WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// How many unread notifications a user has.
pub async fn unread(pool: &sqlx::PgPool, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user_id)
        .fetch_one(pool)
        .await
}
