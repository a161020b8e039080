//! The fold of the `notifications` read model: recipients and subjects kept from `User` and
//! `Project` events, and each notification written once per (event, user, kind).

use std::collections::HashMap;

use async_trait::async_trait;
use domain::project::ProjectEvent;
use domain::service::ServiceItemEvent;
use domain::user::{NotificationKind, UserEvent};
use domain::webhook::WebhookEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::notices::{notify_change, notify_changes};
use crate::runner::{decode, Projection, ProjectionError};
use crate::unnest::column;
use crate::StoredEvent;

use super::{Preferences, NAME};

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct NotificationsProjection;

/// Who receives a notification.
pub(super) enum To {
    /// Every active portal user of the client.
    Client(Uuid),
    /// One user.
    User(Uuid),
    /// Each of these users.
    Users(Vec<Uuid>),
}

pub(super) struct Note {
    pub(super) to: To,
    pub(super) kind: &'static str,
    pub(super) title: String,
    pub(super) body: String,
    pub(super) project_id: Option<Uuid>,
    pub(super) subject_id: Option<Uuid>,
}

#[async_trait]
impl Projection for NotificationsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "notification_recipients",
            "notification_subjects",
        ]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["Project", "User", "ServiceItem", "WebhookEndpoint"]
    }

    /// Folded per batch: the subjects and recipients the batch needs are loaded in two
    /// queries and kept in memory; new notifications, subjects and recipients are written
    /// with one `UNNEST` statement each at the end (notifications also before a read mark,
    /// which updates them in the database).
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
        live: bool,
    ) -> Result<(), ProjectionError> {
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            let Some(id) = event.aggregate_uuid() else {
                continue;
            };
            let payload = match event.aggregate_type.as_str() {
                "User" => Payload::User(decode(event)?),
                "ServiceItem" => Payload::Service(decode(event)?),
                "WebhookEndpoint" => Payload::Webhook(decode(event)?),
                _ => Payload::Project(decode(event)?),
            };
            decoded.push((id, *event, payload));
        }
        let mut state = State::load(conn, &decoded).await?;
        for (id, event, payload) in decoded {
            match payload {
                Payload::User(UserEvent::NotificationsRead { ids, at }) => {
                    state.flush_notifications(conn, live).await?;
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
                Payload::User(user) => state.user_event(id, user),
                Payload::Project(project) => {
                    if let Some(note) = state.project_event(id, project) {
                        state.notify(event, note);
                    }
                }
                Payload::Service(service) => {
                    for note in state.service_event(id, service) {
                        state.notify(event, note);
                    }
                }
                Payload::Webhook(WebhookEvent::WebhookEndpointDisabled {
                    reason,
                    by: None,
                    notify,
                    ..
                }) => state.notify(
                    event,
                    Note {
                        to: To::Users(notify),
                        kind: NotificationKind::WebhookEndpointDisabled.as_str(),
                        title: "A webhook endpoint was disabled".into(),
                        body: format!(
                            "{reason}\n\nIts deliveries wait until an admin enables it again; \
                             events in between can be replayed."
                        ),
                        project_id: None,
                        subject_id: Some(id),
                    },
                ),
                Payload::Webhook(_) => {}
            }
        }
        state.flush_notifications(conn, live).await?;
        state.write(conn).await?;
        Ok(())
    }
}

enum Payload {
    User(UserEvent),
    Project(ProjectEvent),
    Service(ServiceItemEvent),
    Webhook(WebhookEvent),
}

/// A request, a project or a service item, as notifications name it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Subject {
    /// None for a service item.
    pub(super) project_id: Option<Uuid>,
    pub(super) client_id: Uuid,
    /// Who raised the request.
    pub(super) owner_id: Option<Uuid>,
    pub(super) title: String,
}

#[derive(sqlx::FromRow)]
struct SubjectRow {
    id: Uuid,
    #[sqlx(flatten)]
    subject: Subject,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Recipient {
    email: String,
    client_id: Option<Uuid>,
    active: bool,
    #[sqlx(flatten)]
    preferences: Preferences,
}

#[derive(sqlx::FromRow)]
struct RecipientRow {
    user_id: Uuid,
    #[sqlx(flatten)]
    recipient: Recipient,
}

/// A notification to insert.
struct Pending {
    id: Uuid,
    user_id: Uuid,
    kind: &'static str,
    title: String,
    body: String,
    project_id: Option<Uuid>,
    subject_id: Option<Uuid>,
    event_id: Uuid,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// What a batch reads and writes, in memory.
#[derive(Default)]
pub(super) struct State {
    pub(super) subjects: HashMap<Uuid, Subject>,
    changed_subjects: Vec<Uuid>,
    recipients: HashMap<Uuid, Recipient>,
    changed_recipients: Vec<Uuid>,
    pending: Vec<Pending>,
}

impl State {
    /// Loads the subjects the batch's project events name, then the recipients they and
    /// the batch's user events may reach.
    async fn load(
        conn: &mut PgConnection,
        batch: &[(Uuid, &StoredEvent, Payload)],
    ) -> Result<Self, sqlx::Error> {
        use ProjectEvent as E;
        let mut subject_ids = Vec::new();
        let mut users = Vec::new();
        let mut clients = Vec::new();
        for (id, _, payload) in batch {
            match payload {
                Payload::User(_) => users.push(*id),
                Payload::Project(event) => {
                    subject_ids.push(*id);
                    match event {
                        E::ProjectCreated { client_id, .. } => clients.push(*client_id),
                        E::EvidenceUploaded { request_id, .. } => subject_ids.push(*request_id),
                        E::TaskAdded {
                            assignee: Some(user),
                            ..
                        }
                        | E::SubtaskAdded {
                            assignee: Some(user),
                            ..
                        }
                        | E::TaskAssigned { assignee: user, .. }
                        | E::DocumentRequestRaised { by: user, .. } => users.push(*user),
                        E::NewerTemplateVersionPublished { notify, .. } => {
                            users.extend(notify);
                        }
                        _ => {}
                    }
                }
                Payload::Webhook(WebhookEvent::WebhookEndpointDisabled { notify, .. }) => {
                    users.extend(notify);
                }
                Payload::Webhook(_) => {}
                Payload::Service(event) => {
                    subject_ids.push(*id);
                    match event {
                        ServiceItemEvent::ServiceItemRouted { added: to, .. }
                        | ServiceItemEvent::ServiceItemDueSoon { notify: to, .. }
                        | ServiceItemEvent::ServiceItemOverdue { notify: to, .. } => {
                            users.extend(to);
                        }
                        _ => {}
                    }
                }
            }
        }
        subject_ids.sort_unstable();
        subject_ids.dedup();
        let subjects: Vec<SubjectRow> = sqlx::query_as(
            "SELECT id, project_id, client_id, owner_id, title FROM notification_subjects WHERE id = ANY($1)",
        )
        .bind(&subject_ids)
        .fetch_all(&mut *conn)
        .await?;
        for row in &subjects {
            clients.push(row.subject.client_id);
            users.extend(row.subject.owner_id);
        }
        clients.sort_unstable();
        clients.dedup();
        users.sort_unstable();
        users.dedup();
        let recipients: Vec<RecipientRow> = sqlx::query_as(
            "SELECT user_id, email, client_id, active, email_muted, digest, whatsapp, whatsapp_number \
               FROM notification_recipients \
              WHERE client_id = ANY($1) OR user_id = ANY($2)",
        )
        .bind(&clients)
        .bind(&users)
        .fetch_all(conn)
        .await?;
        Ok(Self {
            subjects: subjects
                .into_iter()
                .map(|row| (row.id, row.subject))
                .collect(),
            recipients: recipients
                .into_iter()
                .map(|row| (row.user_id, row.recipient))
                .collect(),
            ..Self::default()
        })
    }

    fn user_event(&mut self, id: Uuid, event: UserEvent) {
        match event {
            UserEvent::UserRegistered {
                email, client_id, ..
            } => {
                if self.recipients.contains_key(&id) {
                    return;
                }
                self.recipients.insert(
                    id,
                    Recipient {
                        email,
                        client_id,
                        active: true,
                        preferences: Preferences::default(),
                    },
                );
            }
            UserEvent::UserDeactivated { .. } => match self.recipients.get_mut(&id) {
                Some(recipient) => recipient.active = false,
                None => return,
            },
            UserEvent::NotificationPreferencesSet {
                email_muted,
                digest,
                whatsapp,
                whatsapp_number,
                ..
            } => match self.recipients.get_mut(&id) {
                Some(recipient) => {
                    recipient.preferences = Preferences {
                        email_muted,
                        digest,
                        whatsapp,
                        whatsapp_number,
                    };
                }
                None => return,
            },
            UserEvent::NotificationsRead { .. }
            | UserEvent::UserPasswordChanged { .. }
            | UserEvent::UserRoleChanged { .. } => return,
        }
        if !self.changed_recipients.contains(&id) {
            self.changed_recipients.push(id);
        }
    }

    pub(super) fn set_subject(&mut self, id: Uuid, subject: Subject) {
        self.subjects.insert(id, subject);
        if !self.changed_subjects.contains(&id) {
            self.changed_subjects.push(id);
        }
    }

    /// Queues the notification of `note` for each of its active recipients.
    pub(super) fn notify(&mut self, event: &StoredEvent, note: Note) {
        let recipients: Vec<Uuid> = self
            .recipients
            .iter()
            .filter(|(user_id, r)| {
                r.active
                    && match note.to {
                        To::Client(client) => r.client_id == Some(client),
                        To::User(user) => **user_id == user,
                        To::Users(ref users) => users.contains(user_id),
                    }
            })
            .map(|(user_id, _)| *user_id)
            .collect();
        for user_id in recipients {
            let key = format!("{}:{}:{}", event.event_id, user_id, note.kind);
            self.pending.push(Pending {
                id: Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes()),
                user_id,
                kind: note.kind,
                title: note.title.clone(),
                body: note.body.clone(),
                project_id: note.project_id,
                subject_id: note.subject_id,
                event_id: event.event_id,
                created_at: event.recorded_at,
            });
        }
    }

    /// Inserts the queued notifications; live, sends a change notice for each new one.
    async fn flush_notifications(
        &mut self,
        conn: &mut PgConnection,
        live: bool,
    ) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let inserted: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO notifications (id, user_id, kind, title, body, project_id, subject_id, event_id, created_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], \
                                  $7::uuid[], $8::uuid[], $9::timestamptz[]) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(column(&pending, |p| p.id))
        .bind(column(&pending, |p| p.user_id))
        .bind(column(&pending, |p| p.kind))
        .bind(column(&pending, |p| p.title.as_str()))
        .bind(column(&pending, |p| p.body.as_str()))
        .bind(column(&pending, |p| p.project_id))
        .bind(column(&pending, |p| p.subject_id))
        .bind(column(&pending, |p| p.event_id))
        .bind(column(&pending, |p| p.created_at))
        .fetch_all(&mut *conn)
        .await?;
        if !live || inserted.is_empty() {
            return Ok(());
        }
        let changed: Vec<(Uuid, Option<Uuid>)> =
            inserted.into_iter().map(|id| (id, None)).collect();
        notify_changes(conn, "notification", &changed).await
    }

    /// Writes the changed subjects and recipients.
    async fn write(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let subjects: Vec<(&Uuid, &Subject)> = self
            .changed_subjects
            .iter()
            .filter_map(|id| self.subjects.get_key_value(id))
            .collect();
        if !subjects.is_empty() {
            sqlx::query(
                "INSERT INTO notification_subjects (id, project_id, client_id, owner_id, title) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[]) \
                 ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title",
            )
            .bind(column(&subjects, |(id, _)| **id))
            .bind(column(&subjects, |(_, s)| s.project_id))
            .bind(column(&subjects, |(_, s)| s.client_id))
            .bind(column(&subjects, |(_, s)| s.owner_id))
            .bind(column(&subjects, |(_, s)| s.title.as_str()))
            .execute(&mut *conn)
            .await?;
        }
        let recipients: Vec<(&Uuid, &Recipient)> = self
            .changed_recipients
            .iter()
            .filter_map(|id| self.recipients.get_key_value(id))
            .collect();
        if !recipients.is_empty() {
            sqlx::query(
                "INSERT INTO notification_recipients (user_id, email, client_id, active, email_muted, digest, \
                        whatsapp, whatsapp_number) \
                 SELECT u, e, c, a, ARRAY(SELECT jsonb_array_elements_text(m)), d, \
                        ARRAY(SELECT jsonb_array_elements_text(w)), n \
                   FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::bool[], $5::jsonb[], $6::bool[], \
                               $7::jsonb[], $8::text[]) AS x(u, e, c, a, m, d, w, n) \
                 ON CONFLICT (user_id) DO UPDATE SET active = EXCLUDED.active, \
                        email_muted = EXCLUDED.email_muted, digest = EXCLUDED.digest, \
                        whatsapp = EXCLUDED.whatsapp, whatsapp_number = EXCLUDED.whatsapp_number",
            )
            .bind(column(&recipients, |(id, _)| **id))
            .bind(column(&recipients, |(_, r)| r.email.as_str()))
            .bind(column(&recipients, |(_, r)| r.client_id))
            .bind(column(&recipients, |(_, r)| r.active))
            .bind(column(&recipients, |(_, r)| {
                serde_json::to_value(&r.preferences.email_muted).unwrap_or_default()
            }))
            .bind(column(&recipients, |(_, r)| r.preferences.digest))
            .bind(column(&recipients, |(_, r)| {
                serde_json::to_value(&r.preferences.whatsapp).unwrap_or_default()
            }))
            .bind(column(&recipients, |(_, r)| {
                r.preferences.whatsapp_number.as_deref()
            }))
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}
