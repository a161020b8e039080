//! The document loop: a request for evidence, the customer's uploads, and their review,
//! which settles the checklist item.

use super::aggregate::{not_allowed, not_found, Change, ProjectError};
use super::command::DocumentCommand;
use super::event::ProjectEvent;
use super::model::*;
use crate::values::{self, MAX_TEXT};
use crate::ValidationError;

impl Project {
    /// The events a [`DocumentCommand`] decides, or why it is refused.
    pub(super) fn decide_documents(
        &self,
        command: DocumentCommand,
    ) -> Result<Vec<ProjectEvent>, ProjectError> {
        use DocumentCommand as C;
        match command {
            C::RaiseDocumentRequest {
                request_id,
                stage,
                item_key,
                instructions,
                due_on,
                actor,
                at,
            } => {
                self.ensure_open(Change::Work)?;
                let item = self
                    .item(stage, &item_key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}: no evidence is needed",
                        item.title,
                        item.status.as_str()
                    )));
                }
                // Unsaid, the item's request template says it.
                let template = item.request.as_ref();
                let instructions = match template {
                    Some(t) if instructions.trim().is_empty() => t.instructions.clone(),
                    _ => values::required_text("instructions", &instructions, MAX_TEXT)?,
                };
                let due_on = due_on.or_else(|| {
                    let days = template?.due_in_days?;
                    at.date_naive()
                        .checked_add_days(chrono::Days::new(u64::from(days)))
                });
                if due_on.is_some_and(|d| d < at.date_naive()) {
                    return Err(ValidationError::new("dueOn", "must not be in the past").into());
                }
                Ok(vec![ProjectEvent::DocumentRequestRaised {
                    request_id,
                    stage,
                    item_key,
                    instructions,
                    due_on,
                    by: actor.user_id,
                    at,
                }])
            }
            C::RecordUpload {
                request_id,
                upload_id,
                file,
                actor,
                at,
            } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Record)?;
                let request = self
                    .requests
                    .iter()
                    .find(|r| r.id == request_id)
                    .ok_or_else(|| not_found("document request"))?;
                let (stage, key) = (request.stage, request.item_key.clone());
                let version = u32::try_from(request.uploads.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let item = self
                    .item(stage, &key)
                    .ok_or_else(|| not_found("checklist item"))?;
                if item.status.is_settled() {
                    return Err(not_allowed(format!(
                        "'{}' is already {}: no more uploads are needed",
                        item.title,
                        item.status.as_str()
                    )));
                }
                let item_status = item.status;
                events.push(ProjectEvent::EvidenceUploaded {
                    request_id,
                    upload_id,
                    version,
                    file,
                    by: actor.user_id,
                    at,
                });
                if item_status != ItemStatus::EvidenceSubmitted {
                    events.push(ProjectEvent::ChecklistItemEvidenceSubmitted { stage, key, at });
                }
                Ok(events)
            }
            C::ReviewUpload {
                upload_id,
                accept,
                reason,
                actor,
                at,
            } => {
                let mut events = Vec::new();
                self.ensure_open(Change::Record)?;
                let request = self
                    .request_of_upload(upload_id)
                    .ok_or_else(|| not_found("upload"))?;
                let upload = request
                    .uploads
                    .iter()
                    .find(|u| u.id == upload_id)
                    .ok_or_else(|| not_found("upload"))?;
                if upload.state != UploadState::Submitted {
                    return Err(ProjectError::Conflict(format!(
                        "this upload was already {}",
                        upload.state.as_str()
                    )));
                }
                if request.uploads.last().map(|u| u.id) != Some(upload_id) {
                    return Err(ProjectError::Conflict(
                        "a newer version of this document was uploaded; review that one".into(),
                    ));
                }
                let (request_id, stage, key) =
                    (request.id, request.stage, request.item_key.clone());
                if self
                    .item(stage, &key)
                    .is_some_and(|i| i.status.is_settled())
                {
                    return Err(ProjectError::Conflict(
                        "the checklist item was settled meanwhile".into(),
                    ));
                }
                if accept {
                    events.push(ProjectEvent::UploadAccepted {
                        request_id,
                        upload_id,
                        by: actor.user_id,
                        at,
                    });
                    events.push(ProjectEvent::ChecklistItemVerified {
                        stage,
                        key,
                        upload_id: Some(upload_id),
                        by: actor.user_id,
                        at,
                    });
                } else {
                    let reason = values::required_text("reason", &reason, MAX_TEXT)?;
                    events.push(ProjectEvent::UploadRejected {
                        request_id,
                        upload_id,
                        reason: reason.clone(),
                        by: actor.user_id,
                        at,
                    });
                    events.push(ProjectEvent::ChecklistItemRejected {
                        stage,
                        key,
                        reason,
                        upload_id: Some(upload_id),
                        by: actor.user_id,
                        at,
                    });
                }
                Ok(events)
            }
        }
    }
}
