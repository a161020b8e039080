//! The document loop: requests for evidence, the customer's uploads, and their review.

use async_graphql::{Context, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::DocumentCommand;
use domain::Permission;
use projections::projects::{RequestRow, UploadRow};
use uuid::Uuid;

use super::{run, stage_key, ProjectPayload};
use crate::error::{ApiError, Code};
use crate::graphql::context::Ctx;
use crate::graphql::types::{parse_persisted, RequestStatus, StageKey, UploadState};

/// A request for a document, raised on a checklist item.
#[derive(Debug)]
pub(super) struct DocumentRequest(pub RequestRow);

#[Object]
impl DocumentRequest {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn project_id(&self) -> Uuid {
        self.0.project_id
    }
    async fn client_id(&self) -> Uuid {
        self.0.client_id
    }
    async fn stage(&self) -> Option<StageKey> {
        stage_key(&self.0.stage)
    }
    async fn item_key(&self) -> &str {
        &self.0.item_key
    }
    /// The checklist item's title.
    async fn item_title(&self) -> &str {
        &self.0.item_title
    }
    async fn instructions(&self) -> &str {
        &self.0.instructions
    }
    async fn due_on(&self) -> Option<NaiveDate> {
        self.0.due_on
    }
    async fn status(&self) -> Option<RequestStatus> {
        parse_persisted(&self.0.status)
    }
    async fn raised_at(&self) -> DateTime<Utc> {
        self.0.raised_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Uploads, newest version first, with their review state.
    async fn uploads(&self, ctx: &Context<'_>) -> Result<Vec<Upload>> {
        Ok(projections::projects::uploads(&ctx.state().pool, self.0.id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(Upload)
            .collect())
    }
}

/// An uploaded file.
#[derive(Debug)]
pub(super) struct Upload(pub UploadRow);

#[Object]
impl Upload {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn request_id(&self) -> Uuid {
        self.0.request_id
    }
    async fn project_id(&self) -> Uuid {
        self.0.project_id
    }
    /// 1 for the first upload of a request, then 2, 3, ...
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    async fn size_bytes(&self) -> i64 {
        self.0.size_bytes
    }
    async fn media_type(&self) -> &str {
        &self.0.media_type
    }
    /// Hex SHA-256 of the content.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn state(&self) -> Option<UploadState> {
        parse_persisted::<domain::project::UploadState>(&self.0.state).map(Into::into)
    }
    /// Why it was rejected.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.uploaded_at
    }
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
    /// Where to download it (with the same bearer token).
    async fn download_path(&self) -> String {
        format!("/files/uploads/{}", self.0.id)
    }
}

/// Loads a document request the viewer may see (portal users: their own client's).
pub(super) async fn visible_request(
    ctx: &Context<'_>,
    id: Uuid,
) -> Result<Option<RequestRow>, ApiError> {
    let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
    Ok(projections::projects::request(&ctx.state().pool, id)
        .await?
        .filter(|r| viewer.sees_client(r.client_id)))
}

#[derive(InputObject, Debug)]
pub(super) struct RaiseDocumentRequestInput {
    /// Stage of the checklist item.
    stage: StageKey,
    /// Checklist item key.
    item_key: String,
    /// What the customer must provide; the item's request template when not given.
    #[graphql(default)]
    instructions: String,
    /// Due date (reminders are emailed 3 days and 1 day before); from the item's request
    /// template when not given.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    due_on: Option<NaiveDate>,
}

async fn review(
    ctx: &Context<'_>,
    upload_id: Uuid,
    accept: bool,
    reason: String,
) -> Result<ProjectPayload> {
    ctx.request().auth.require(Permission::ReviewEvidence)?;
    let upload = projections::projects::upload(&ctx.state().pool, upload_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::new(Code::NotFound, "upload not found"))?;
    run(
        ctx,
        upload.project_id,
        Permission::ReviewEvidence,
        None,
        |actor, at| {
            DocumentCommand::ReviewUpload {
                upload_id,
                accept,
                reason,
                actor,
                at,
            }
            .into()
        },
    )
    .await
}

/// Document queries.
#[derive(Default, Debug)]
pub(crate) struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// Document requests the viewer may see (portal users: their own client's), newest
    /// first; filter by project and status.
    async fn document_requests(
        &self,
        ctx: &Context<'_>,
        project_id: Option<Uuid>,
        status: Option<Vec<RequestStatus>>,
    ) -> Result<Vec<DocumentRequest>> {
        let viewer = ctx.request().auth.require(Permission::ReadProjects)?;
        let filter = projections::projects::RequestFilter {
            client_id: if viewer.role.is_portal() {
                Some(viewer.client_id.unwrap_or_default())
            } else {
                None
            },
            project_id,
            statuses: status
                .unwrap_or_default()
                .iter()
                .map(crate::graphql::types::persisted_name)
                .collect(),
        };
        Ok(projections::projects::requests(&ctx.state().pool, &filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(DocumentRequest)
            .collect())
    }

    /// One document request (null when it does not exist or is not the viewer's).
    async fn document_request(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<Option<DocumentRequest>> {
        Ok(visible_request(ctx, id).await?.map(DocumentRequest))
    }

    /// Uploads waiting for review, oldest first (reviewers and managers).
    async fn review_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
    ) -> Result<Vec<Upload>> {
        ctx.request().auth.require(Permission::ReviewEvidence)?;
        Ok(
            projections::projects::review_queue(&ctx.state().pool, first)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(Upload)
                .collect(),
        )
    }
}

/// Document mutations.
#[derive(Default, Debug)]
pub(crate) struct DocumentMutation;

#[Object]
impl DocumentMutation {
    /// Raises a document request on a checklist item; the client's portal users see it
    /// and are notified.
    async fn raise_document_request(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: RaiseDocumentRequestInput,
    ) -> Result<ProjectPayload> {
        let request_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(request_id),
            |actor, at| {
                DocumentCommand::RaiseDocumentRequest {
                    request_id,
                    stage: input.stage.into(),
                    item_key: input.item_key,
                    instructions: input.instructions,
                    due_on: input.due_on,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Accepts an upload: its checklist item becomes verified.
    async fn accept_upload(&self, ctx: &Context<'_>, upload_id: Uuid) -> Result<ProjectPayload> {
        review(ctx, upload_id, true, String::new()).await
    }

    /// Rejects an upload with a reason the customer sees; they may upload again.
    async fn reject_upload(
        &self,
        ctx: &Context<'_>,
        upload_id: Uuid,
        reason: String,
    ) -> Result<ProjectPayload> {
        review(ctx, upload_id, false, reason).await
    }
}
