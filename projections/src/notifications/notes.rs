//! What each project and service item event tells whom: the notes the fold turns into
//! notifications.

use domain::project::ProjectEvent;
use domain::service::ServiceItemEvent;
use domain::user::NotificationKind;
use uuid::Uuid;

use super::fold::{Note, State, Subject, To};

impl State {
    /// The note a project event sends, if any; keeps the subjects up to date.
    pub(super) fn project_event(&mut self, project_id: Uuid, event: ProjectEvent) -> Option<Note> {
        use ProjectEvent as E;
        let Some(Subject {
            client_id,
            title: project_name,
            ..
        }) = self.subjects.get(&project_id).cloned()
        else {
            if let E::ProjectCreated {
                client_id, name, ..
            } = event
            {
                self.set_subject(
                    project_id,
                    Subject {
                        project_id: Some(project_id),
                        client_id,
                        owner_id: None,
                        title: name,
                    },
                );
            }
            return None;
        };
        let note = |to, kind, title: String, body: String, subject_id| {
            Some(Note {
                to,
                kind,
                title,
                body,
                project_id: Some(project_id),
                subject_id,
            })
        };
        match event {
            E::ProjectRenamed { name, .. } => {
                if let Some(mut subject) = self.subjects.get(&project_id).cloned() {
                    subject.title = name;
                    self.set_subject(project_id, subject);
                }
                None
            }
            E::DocumentRequestRaised {
                request_id,
                instructions,
                due_on,
                by,
                ..
            } => {
                if !self.subjects.contains_key(&request_id) {
                    self.set_subject(
                        request_id,
                        Subject {
                            project_id: Some(project_id),
                            client_id,
                            owner_id: Some(by),
                            title: instructions.clone(),
                        },
                    );
                }
                let due = due_on.map(|d| format!(" Due {d}.")).unwrap_or_default();
                note(
                    To::Client(client_id),
                    NotificationKind::RequestRaised.as_str(),
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
                let owner = self
                    .subjects
                    .get(&request_id)
                    .and_then(|subject| subject.owner_id);
                owner.and_then(|owner| {
                    note(
                        To::User(owner),
                        NotificationKind::UploadReceived.as_str(),
                        format!("Upload received for {project_name}"),
                        format!("{} (version {version}) is waiting for review.", file.name),
                        Some(request_id),
                    )
                })
            }
            E::UploadAccepted { request_id, .. } => note(
                To::Client(client_id),
                NotificationKind::UploadReviewed.as_str(),
                format!("Your upload for {project_name} was accepted"),
                "The document was verified.".to_owned(),
                Some(request_id),
            ),
            E::UploadRejected {
                request_id, reason, ..
            } => note(
                To::Client(client_id),
                NotificationKind::UploadReviewed.as_str(),
                format!("Your upload for {project_name} needs another look"),
                format!("It was not accepted: {reason}. Please upload a corrected file."),
                Some(request_id),
            ),
            E::StageAdvanced { from, to, .. } => note(
                To::Client(client_id),
                NotificationKind::StageAdvanced.as_str(),
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
                NotificationKind::TaskAssigned.as_str(),
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
                NotificationKind::TaskAssigned.as_str(),
                format!("Task assigned on {project_name}"),
                "A task was assigned to you.".to_owned(),
                Some(subtask_id.unwrap_or(task_id)),
            ),
            E::NewerTemplateVersionPublished {
                version, notify, ..
            } => note(
                To::Users(notify),
                NotificationKind::TemplateVersionPublished.as_str(),
                format!("New workflow version for {project_name}"),
                format!(
                    "Version {version} of its template was published. The project stays on its own version until a manager proposes moving it and someone else approves."
                ),
                None,
            ),
            E::LicenceExpiryAlertRaised {
                days_ahead,
                expires_on,
                ..
            } => note(
                To::Client(client_id),
                NotificationKind::LicenceExpiry.as_str(),
                format!("Licence for {project_name} expires in {days_ahead} days or less"),
                format!("The licence expires on {expires_on}. Contact us to start the renewal."),
                None,
            ),
            _ => None,
        }
    }
}

impl State {
    /// The notes a service item event sends; keeps the item's subject up to date.
    pub(super) fn service_event(&mut self, item_id: Uuid, event: ServiceItemEvent) -> Vec<Note> {
        use ServiceItemEvent as E;
        let (to, kind, heading, body) = match event {
            E::ServiceItemOpened {
                client_id, title, ..
            } => {
                let subject = Subject {
                    project_id: None,
                    client_id,
                    owner_id: None,
                    title,
                };
                self.set_subject(item_id, subject);
                return Vec::new();
            }
            E::ServiceItemUpdated { title, .. } => {
                if let Some(mut subject) = self.subjects.get(&item_id).cloned() {
                    subject.title = title;
                    self.set_subject(item_id, subject);
                }
                return Vec::new();
            }
            E::ServiceItemRouted { added, note, .. } => (
                added,
                NotificationKind::ServiceRouted.as_str(),
                "Service item routed to you",
                note.unwrap_or_else(|| "It is yours to work on.".to_owned()),
            ),
            E::ServiceItemDueSoon { due_on, notify, .. } => (
                notify,
                NotificationKind::ServiceDueSoon.as_str(),
                "Service item due soon",
                format!("It is due on {due_on}."),
            ),
            E::ServiceItemOverdue { due_on, notify, .. } => (
                notify,
                NotificationKind::ServiceOverdue.as_str(),
                "Service item overdue",
                format!("It was due on {due_on} and is not done."),
            ),
            _ => return Vec::new(),
        };
        let Some(subject) = self.subjects.get(&item_id) else {
            return Vec::new();
        };
        to.into_iter()
            .map(|user| Note {
                to: To::User(user),
                kind,
                title: format!("{heading}: {}", subject.title),
                body: body.clone(),
                project_id: None,
                subject_id: Some(item_id),
            })
            .collect()
    }
}
