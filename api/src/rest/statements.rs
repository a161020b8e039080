//! `GET /files/statements/{client_id}/{month}.csv|.pdf`: an issued statement, as a file.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use domain::statement::Month;
use domain::Permission;
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::exports::StatementExport;
use crate::state::AppState;

/// `GET /files/statements/{client_id}/{month}.csv|.pdf`: an issued statement of a client the
/// viewer may see (portal users: their own).
pub(crate) async fn download(
    State(state): State<AppState>,
    Path((client_id, file)): Path<(Uuid, String)>,
    headers: HeaderMap,
) -> Response {
    let viewer = match state
        .authenticate_headers(&headers)
        .await
        .require(Permission::ReadClients)
    {
        Ok(viewer) => viewer,
        Err(e) => return e.response(None),
    };
    let not_found = || ApiError::new(Code::NotFound, "statement not found").response(None);
    if !viewer.sees_client(client_id) {
        return not_found();
    }
    let Some((month, format)) = file.rsplit_once('.') else {
        return not_found();
    };
    let Ok(month) = Month::parse("month", month) else {
        return not_found();
    };
    let export = async {
        let Some(row) = projections::statements::statement(&state.pool, client_id, month).await?
        else {
            return Ok::<_, ApiError>(None);
        };
        let lines = projections::statements::lines(&state.pool, row.id).await?;
        StatementExport::load(&state.pool, row, lines)
            .await
            .map(Some)
    };
    let export = match export.await {
        Ok(Some(export)) => export,
        Ok(None) => return not_found(),
        Err(e) => return e.response(None),
    };
    let (media_type, bytes) = match format {
        "csv" => ("text/csv; charset=utf-8", export.csv().into_bytes()),
        "pdf" => match export.pdf() {
            Ok(bytes) => ("application/pdf", bytes),
            Err(e) => return e.response(None),
        },
        _ => return not_found(),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, media_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"statement-{month}.{format}\""),
        )
        .header("x-content-type-options", "nosniff")
        .body(axum::body::Body::from(bytes))
        .unwrap_or_else(|_| ApiError::internal("response").response(None))
}
