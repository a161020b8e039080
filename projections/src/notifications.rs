//! The `notifications` read model: in-app notifications per user (read or unread), and the
//! matching email outbox entries.
//!
//! Recipients: a client's portal users for requests raised, uploads reviewed, stages advanced
//! and licence expiry alerts; the person who raised a request for uploads received; the
//! assignee for tasks assigned. The projection keeps its own list of recipients and request
//! owners (from `User` and `Project` events) so it never reads another projection's tables.
//!
//! A notification's id is derived from (event id, user, kind), so a rebuild recreates the
//! same ids, and read marks (themselves `NotificationsRead` events) re-apply. Emails are
//! queued only while projecting live (never during a rebuild), under a dedupe key made of the
//! same triple, so a batch re-processed after a crash never queues a message twice.

use async_trait::async_trait;
use domain::project::ProjectEvent;
use domain::user::UserEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::notices::notify_change;
use crate::runner::{decode, Projection, ProjectionError};
use crate::StoredEvent;

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct NotificationsProjection;

/// Who receives a notification.
enum To {
    /// Every active portal user of the client.
    Client(Uuid),
    /// One user.
    User(Uuid),
}

struct Note {
    to: To,
    kind: &'static str,
    title: String,
    body: String,
    project_id: Uuid,
    subject_id: Option<Uuid>,
}

#[async_trait]
impl Projection for NotificationsProjection {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "notification_recipients",
            "notification_subjects",
        ]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project", "User"]
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
        if event.aggregate_type == "User" {
            user_event(conn, id, decode(event)?, live).await?;
            return Ok(());
        }
        let Some(note) = project_event(conn, id, decode(event)?).await? else {
            return Ok(());
        };
        let recipients: Vec<(Uuid, String)> = match note.to {
            To::Client(client) => {
                sqlx::query_as(
                    "SELECT user_id, email FROM notification_recipients WHERE client_id = $1 AND active",
                )
                .bind(client)
                .fetch_all(&mut *conn)
                .await?
            }
            To::User(user) => {
                sqlx::query_as(
                    "SELECT user_id, email FROM notification_recipients WHERE user_id = $1 AND active",
                )
                .bind(user)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        for (user_id, email) in recipients {
            let key = format!("{}:{}:{}", event.event_id, user_id, note.kind);
            let notification_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes());
            let inserted = sqlx::query(
                "INSERT INTO notifications (id, user_id, kind, title, body, project_id, subject_id, event_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .bind(notification_id)
            .bind(user_id)
            .bind(note.kind)
            .bind(&note.title)
            .bind(&note.body)
            .bind(note.project_id)
            .bind(note.subject_id)
            .bind(event.event_id)
            .bind(event.recorded_at)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if live && inserted > 0 {
                sqlx::query(
                    "INSERT INTO email_outbox (id, kind, to_address, subject, body, user_id, dedupe_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
                )
                .bind(notification_id)
                .bind(note.kind)
                .bind(&email)
                .bind(&note.title)
                .bind(&note.body)
                .bind(user_id)
                .bind(&key)
                .execute(&mut *conn)
                .await?;
                notify_change(conn, "notification", notification_id, None).await?;
            }
        }
        Ok(())
    }
}

async fn user_event(
    conn: &mut PgConnection,
    id: Uuid,
    event: UserEvent,
    live: bool,
) -> Result<(), sqlx::Error> {
    match event {
        UserEvent::UserRegistered {
            email, client_id, ..
        } => {
            sqlx::query(
                "INSERT INTO notification_recipients (user_id, email, client_id, active) VALUES ($1, $2, $3, true) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(id)
            .bind(email)
            .bind(client_id)
            .execute(conn)
            .await?;
        }
        UserEvent::UserDeactivated { .. } => {
            sqlx::query("UPDATE notification_recipients SET active = false WHERE user_id = $1")
                .bind(id)
                .execute(conn)
                .await?;
        }
        UserEvent::NotificationsRead { ids, at } => {
            sqlx::query(
                "UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND read_at IS NULL \
                   AND (($2::uuid[] IS NULL AND created_at <= $3) OR id = ANY($2))",
            )
            .bind(id)
            .bind(ids)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            if live {
                notify_change(conn, "notification", id, None).await?;
            }
        }
        UserEvent::UserPasswordChanged { .. } | UserEvent::UserRoleChanged { .. } => {}
    }
    Ok(())
}

async fn project_event(
    conn: &mut PgConnection,
    project_id: Uuid,
    event: ProjectEvent,
) -> Result<Option<Note>, sqlx::Error> {
    use ProjectEvent as E;
    // Most project events notify nobody: answer those without touching the database.
    let relevant = matches!(
        event,
        E::ProjectCreated { .. }
            | E::ProjectRenamed { .. }
            | E::DocumentRequestRaised { .. }
            | E::EvidenceUploaded { .. }
            | E::UploadAccepted { .. }
            | E::UploadRejected { .. }
            | E::StageAdvanced { .. }
            | E::TaskAdded {
                assignee: Some(_),
                ..
            }
            | E::SubtaskAdded {
                assignee: Some(_),
                ..
            }
            | E::TaskAssigned { .. }
            | E::LicenceExpiryAlertRaised { .. }
    );
    if !relevant {
        return Ok(None);
    }
    let subject = |id: Uuid| {
        sqlx::query_as::<_, (Uuid, Option<Uuid>, String)>(
            "SELECT client_id, owner_id, title FROM notification_subjects WHERE id = $1",
        )
        .bind(id)
    };
    let Some((client_id, _, project_name)) = (match &event {
        E::ProjectCreated { .. } => None,
        _ => subject(project_id).fetch_optional(&mut *conn).await?,
    }) else {
        if let E::ProjectCreated {
            client_id, name, ..
        } = event
        {
            sqlx::query(
                "INSERT INTO notification_subjects (id, project_id, client_id, title) VALUES ($1, $1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(project_id)
            .bind(client_id)
            .bind(name)
            .execute(conn)
            .await?;
        }
        return Ok(None);
    };
    let note = |to, kind, title: String, body: String, subject_id| {
        Some(Note {
            to,
            kind,
            title,
            body,
            project_id,
            subject_id,
        })
    };
    Ok(match event {
        E::ProjectRenamed { name, .. } => {
            sqlx::query("UPDATE notification_subjects SET title = $2 WHERE id = $1")
                .bind(project_id)
                .bind(name)
                .execute(conn)
                .await?;
            None
        }
        E::DocumentRequestRaised {
            request_id,
            instructions,
            due_on,
            by,
            ..
        } => {
            sqlx::query(
                "INSERT INTO notification_subjects (id, project_id, client_id, owner_id, title) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(request_id)
            .bind(project_id)
            .bind(client_id)
            .bind(by)
            .bind(&instructions)
            .execute(conn)
            .await?;
            let due = due_on.map(|d| format!(" Due {d}.")).unwrap_or_default();
            note(
                To::Client(client_id),
                "request_raised",
                format!("Document requested for {project_name}"),
                format!("{instructions}{due} Upload it in the portal."),
                Some(request_id),
            )
        }
        E::EvidenceUploaded {
            request_id,
            version,
            file,
            ..
        } => {
            let owner = subject(request_id)
                .fetch_optional(&mut *conn)
                .await?
                .and_then(|(_, owner, _)| owner);
            owner.and_then(|owner| {
                note(
                    To::User(owner),
                    "upload_received",
                    format!("Upload received for {project_name}"),
                    format!("{} (version {version}) is waiting for review.", file.name),
                    Some(request_id),
                )
            })
        }
        E::UploadAccepted { request_id, .. } => note(
            To::Client(client_id),
            "upload_reviewed",
            format!("Your upload for {project_name} was accepted"),
            "The document was verified.".to_owned(),
            Some(request_id),
        ),
        E::UploadRejected {
            request_id, reason, ..
        } => note(
            To::Client(client_id),
            "upload_reviewed",
            format!("Your upload for {project_name} needs another look"),
            format!("It was not accepted: {reason}. Please upload a corrected file."),
            Some(request_id),
        ),
        E::StageAdvanced { from, to, .. } => note(
            To::Client(client_id),
            "stage_advanced",
            format!("{project_name} moved forward"),
            match to {
                Some(to) => format!(
                    "The {} stage is complete; {} has begun.",
                    from.as_str(),
                    to.as_str()
                ),
                None => format!(
                    "The {} stage is complete: every stage is done.",
                    from.as_str()
                ),
            },
            None,
        ),
        E::TaskAdded {
            task_id,
            title,
            assignee: Some(assignee),
            ..
        }
        | E::SubtaskAdded {
            subtask_id: task_id,
            title,
            assignee: Some(assignee),
            ..
        } => note(
            To::User(assignee),
            "task_assigned",
            format!("New task on {project_name}"),
            format!("You were assigned: {title}"),
            Some(task_id),
        ),
        E::TaskAssigned {
            task_id,
            subtask_id,
            assignee,
            ..
        } => note(
            To::User(assignee),
            "task_assigned",
            format!("Task assigned on {project_name}"),
            "A task was assigned to you.".to_owned(),
            Some(subtask_id.unwrap_or(task_id)),
        ),
        E::LicenceExpiryAlertRaised {
            days_ahead,
            expires_on,
            ..
        } => note(
            To::Client(client_id),
            "licence_expiry",
            format!("Licence for {project_name} expires in {days_ahead} days or less"),
            format!("The licence expires on {expires_on}. Contact us to start the renewal."),
            None,
        ),
        _ => None,
    })
}

/// A notification.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    /// Id.
    pub id: Uuid,
    /// request_raised, upload_received, upload_reviewed, stage_advanced, task_assigned,
    /// licence_expiry.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Project.
    pub project_id: Option<Uuid>,
    /// Request or task concerned.
    pub subject_id: Option<Uuid>,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Read.
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A user's notifications, newest first.
pub async fn list(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, title, body, project_id, subject_id, created_at, read_at FROM notifications \
          WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL) ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(unread_only)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// How many unread notifications a user has.
pub async fn unread(pool: &sqlx::PgPool, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user_id)
        .fetch_one(pool)
        .await
}
