//! Files over plain HTTP. Evidence: `POST /files/requests/{requestId}` (multipart/form-data
//! with one `file` part) uploads a new version for a document request; `GET
//! /files/uploads/{uploadId}` downloads one. Both take the same bearer token as GraphQL and
//! are authorized like reads: a portal user only ever reaches their own client's requests
//! and files; anything else is `NOT_FOUND`. Guidance source documents: `POST
//! /files/guidance/{guidanceId}` attaches one (those who assess guidance), `GET
//! /files/guidance-documents/{documentId}` downloads one (internal users).
//!
//! A refused upload stores nothing: the file streams to storage part by part (memory stays
//! at a few parts whatever its size), counted, hashed and checked on the way (size, the
//! name's extension against the type, the content against the type), and becomes visible
//! only once it passed; it is removed again if the event cannot be appended. Downloads go
//! out as attachments with the detected type, `nosniff` and a sandboxing CSP, so no upload
//! (a CSV holding HTML, say) is ever rendered by the browser.

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commands::CommandContext;
use domain::guidance::GuidanceCommand;
use domain::project::{Actor, DocumentCommand, FileMeta};
use domain::Permission;
use serde_json::json;

use crate::state::ReadBack;
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::files;
use crate::state::AppState;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::BadUserInput, message)
}

/// A file name fit to store and to send back in a header.
fn clean_name(raw: &str) -> Result<String, ApiError> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." {
        return Err(bad("the file part needs a file name"));
    }
    if base.chars().count() > 200 || base.chars().any(char::is_control) {
        return Err(bad(
            "the file name must be at most 200 characters, without control characters",
        ));
    }
    // Bidirectional and invisible formatting characters make `exe.pdf` read as `fdp.exe`.
    let invisible = |c: char| matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    if base.chars().any(invisible) {
        return Err(bad(
            "the file name must not contain bidirectional or invisible formatting characters",
        ));
    }
    Ok(base.to_owned())
}

/// `POST /files/requests/{requestId}`.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(request_id): Path<Uuid>,
    headers: HeaderMap,
    multipart: Parts,
) -> Response {
    created(receive(&state, request_id, &headers, multipart).await)
}

/// A multipart body as axum gives it (a refused one answers 400 with the reason).
type Parts = Result<Multipart, axum::extract::multipart::MultipartRejection>;

/// An error answer, with the status when it is not the code's own.
type Failure = (Option<StatusCode>, ApiError);

/// `201 Created` with `body`, or the failure.
fn created(result: Result<serde_json::Value, Failure>) -> Response {
    match result {
        Ok(body) => (StatusCode::CREATED, Json(body)).into_response(),
        Err((status, e)) => e.response(status),
    }
}

fn fail(e: ApiError) -> Failure {
    (None, e)
}

/// The caller, when their bearer token stands for someone holding `permission`.
async fn allowed(
    state: &AppState,
    headers: &HeaderMap,
    permission: Permission,
) -> Result<crate::auth::Viewer, Failure> {
    let auth = state.authenticate_headers(headers).await;
    auth.require(permission).map_err(fail)
}

async fn receive(
    state: &AppState,
    request_id: Uuid,
    headers: &HeaderMap,
    multipart: Parts,
) -> Result<serde_json::Value, Failure> {
    let viewer = allowed(state, headers, Permission::UploadEvidence).await?;
    let request = projections::projects::request(&state.pool, request_id)
        .await
        .map_err(|e| fail(e.into()))?
        .filter(|r| viewer.sees_client(r.client_id))
        .ok_or_else(|| fail(ApiError::new(Code::NotFound, "document request not found")))?;
    let (upload_id, file) = receive_file(state, multipart, |upload_id| {
        format!(
            "clients/{}/requests/{}/{upload_id}",
            request.client_id, request.id
        )
    })
    .await?;
    let ctx = CommandContext::user(viewer.user_id, viewer.role, Uuid::now_v7());
    let appended = state
        .bus
        .project(
            &ctx,
            request.project_id,
            DocumentCommand::RecordUpload {
                request_id,
                upload_id,
                file: file.clone(),
                actor: Actor {
                    user_id: viewer.user_id,
                    role: viewer.role,
                },
                at: ctx.issued_at,
            }
            .into(),
        )
        .await;
    let appended = kept(state, &file, appended).await?;
    let ReadBack {
        record: version,
        caught_up,
    } = state
        .after_append(
            &crate::graphql::PROJECT_READ_MODELS,
            appended,
            projections::projects::upload(&state.pool, upload_id),
        )
        .await
        .map(|u| u.version);
    Ok(json!({
        "uploadId": upload_id,
        "requestId": request_id,
        "version": version,
        "fileName": file.name,
        "sizeBytes": file.size,
        "mediaType": file.media_type,
        "sha256": file.sha256,
        "caughtUp": caught_up,
    }))
}

/// The part named `file` of `multipart`, streamed to storage under `key(file id)`, counted,
/// hashed and checked on the way; refused (with nothing left stored) when it is missing,
/// too large, badly named or not the type it claims.
async fn receive_file(
    state: &AppState,
    multipart: Parts,
    key: impl FnOnce(Uuid) -> String,
) -> Result<(Uuid, FileMeta), Failure> {
    let mut multipart =
        multipart.map_err(|_| fail(bad("send multipart/form-data with one part named 'file'")))?;
    let limit = state.files.max_bytes;
    let too_large = || {
        (
            Some(StatusCode::PAYLOAD_TOO_LARGE),
            bad(format!(
                "the file is larger than the limit of {limit} bytes"
            )),
        )
    };
    let field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            Ok(Some(_)) => continue,
            Ok(None) => return Err(fail(bad("no part named 'file' in the multipart body"))),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(fail(bad("the multipart body is malformed"))),
        }
    };
    let name = clean_name(field.file_name().unwrap_or("")).map_err(fail)?;
    let media_type = files::claimed_type(&name, field.content_type())
        .map_err(|message| (Some(StatusCode::UNSUPPORTED_MEDIA_TYPE), bad(message)))?;
    let file_id = Uuid::now_v7();
    let key = key(file_id);
    // The file streams to storage as it arrives, counted and hashed on the way; nothing is
    // visible under its key until it has passed every check.
    let (size, sha256) = stream(&state.files, &key, field, media_type, limit, too_large).await?;
    let file = FileMeta {
        name,
        size: size as u64,
        media_type: media_type.to_owned(),
        sha256,
        storage_key: key,
    };
    Ok((file_id, file))
}

/// Where the event recording `file` landed; when it was refused, the stored file is removed
/// again and the refusal returned.
async fn kept(
    state: &AppState,
    file: &FileMeta,
    appended: Result<commands::Appended, commands::CommandError>,
) -> Result<commands::Appended, Failure> {
    match appended {
        Ok(appended) => Ok(appended),
        Err(e) => {
            let key = &file.storage_key;
            if let Err(cleanup) = state.files.delete(key).await {
                tracing::warn!(%cleanup, %key, "could not remove the file of a refused upload");
            }
            Err(fail(e.into()))
        }
    }
}

/// Streams the part `field` to `key`, refusing it (and leaving nothing stored) when it grows
/// past `limit` or its content is not `media_type`; returns its size and SHA-256.
async fn stream(
    files: &files::FileStore,
    key: &str,
    mut field: axum::extract::multipart::Field<'_>,
    media_type: &str,
    limit: usize,
    too_large: impl Fn() -> Failure,
) -> Result<(usize, String), Failure> {
    let mut writer = files
        .writer(key)
        .await
        .map_err(|e| fail(ApiError::internal(e)))?;
    let mut inspector = files::Inspector::default();
    let refusal = loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break None,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => break Some(too_large()),
            Err(_) => break Some(fail(bad("the multipart body is malformed"))),
        };
        if inspector.size() + chunk.len() > limit {
            break Some(too_large());
        }
        inspector.feed(&chunk);
        if let Err(e) = writer.write(chunk).await {
            break Some(fail(ApiError::internal(e)));
        }
    };
    let checked = match refusal {
        Some(refusal) => Err(refusal),
        None => inspector
            .finish(media_type)
            .map_err(|message| (Some(StatusCode::UNSUPPORTED_MEDIA_TYPE), bad(message))),
    };
    match checked {
        Ok(done) => {
            writer
                .finish()
                .await
                .map_err(|e| fail(ApiError::internal(e)))?;
            Ok(done)
        }
        Err(refusal) => {
            writer.abort().await;
            Err(refusal)
        }
    }
}

/// `GET /files/uploads/{uploadId}`.
pub(crate) async fn download(
    State(state): State<AppState>,
    Path(upload_id): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    let viewer = match state
        .authenticate_headers(&headers)
        .await
        .require(Permission::ReadProjects)
    {
        Ok(viewer) => viewer,
        Err(e) => return e.response(None),
    };
    let row = match projections::projects::upload(&state.pool, upload_id).await {
        Ok(row) => row.filter(|u| viewer.sees_client(u.client_id)),
        Err(e) => return ApiError::from(e).response(None),
    };
    let Some(row) = row else {
        return ApiError::new(Code::NotFound, "file not found").response(None);
    };
    send_file(
        &state,
        &row.storage_key,
        &row.file_name,
        &row.media_type,
        &row.sha256,
    )
    .await
}

/// A stored file as an attachment with its detected type, never rendered by the browser.
async fn send_file(
    state: &AppState,
    storage_key: &str,
    file_name: &str,
    media_type: &str,
    sha256: &str,
) -> Response {
    let bytes = match state.files.get(storage_key).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::internal(e).response(None),
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name.replace(['"', '\\'], "_")
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, media_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(header::CONTENT_DISPOSITION, disposition)
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", "sandbox; default-src 'none'")
        .header("x-content-sha256", sha256)
        .body(Body::from(bytes))
        .unwrap_or_else(|_| ApiError::new(Code::Internal, "internal error").response(None))
}

/// `POST /files/guidance/{guidanceId}`: attaches a source document to a guidance item.
pub(crate) async fn attach_guidance_document(
    State(state): State<AppState>,
    Path(guidance_id): Path<Uuid>,
    headers: HeaderMap,
    multipart: Parts,
) -> Response {
    created(attach(&state, guidance_id, &headers, multipart).await)
}

async fn attach(
    state: &AppState,
    guidance_id: Uuid,
    headers: &HeaderMap,
    multipart: Parts,
) -> Result<serde_json::Value, Failure> {
    let viewer = allowed(state, headers, Permission::AssessGuidance).await?;
    projections::guidance::find(&state.pool, guidance_id)
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| fail(ApiError::new(Code::NotFound, "guidance not found")))?;
    let (document_id, file) = receive_file(state, multipart, |document_id| {
        format!("guidance/{guidance_id}/{document_id}")
    })
    .await?;
    let ctx = CommandContext::user(viewer.user_id, viewer.role, Uuid::now_v7());
    let command = GuidanceCommand::AttachDocument {
        document_id,
        file: file.clone(),
        by: viewer.user_id,
        at: ctx.issued_at,
    };
    let appended = state.bus.guidance(&ctx, guidance_id, command).await;
    let appended = kept(state, &file, appended).await?;
    let caught_up = state
        .caught_up(&[projections::guidance::NAME], appended)
        .await;
    Ok(json!({
        "documentId": document_id,
        "guidanceId": guidance_id,
        "fileName": file.name,
        "sizeBytes": file.size,
        "mediaType": file.media_type,
        "sha256": file.sha256,
        "caughtUp": caught_up,
    }))
}

/// `GET /files/guidance-documents/{documentId}` (internal users).
pub(crate) async fn guidance_document(
    State(state): State<AppState>,
    Path(document_id): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = state
        .authenticate_headers(&headers)
        .await
        .require(Permission::ReadUsers)
    {
        return e.response(None);
    }
    match projections::guidance::document(&state.pool, document_id).await {
        Ok(Some(row)) => {
            send_file(
                &state,
                &row.storage_key,
                &row.file_name,
                &row.media_type,
                &row.sha256,
            )
            .await
        }
        Ok(None) => ApiError::new(Code::NotFound, "file not found").response(None),
        Err(e) => ApiError::from(e).response(None),
    }
}
