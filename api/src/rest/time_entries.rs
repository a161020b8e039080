//! `POST /api/v1/time-entries`: the productivity platform's batches of time entries, run
//! through [`ingest`] like the `ingestTimeEntries` mutation.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commands::CommandContext;
use domain::integration::Scope;
use serde::Deserialize;

use crate::error::ApiError;
use crate::ingest::{ingest, IncomingEntry};
use crate::state::AppState;

/// The body of `POST /api/v1/time-entries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    entries: Vec<IncomingEntry>,
}

/// `POST /api/v1/time-entries` with an API key holding `time:ingest`: 200 with one outcome
/// per entry, in order.
pub(crate) async fn time_entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let key = match state
        .authenticate_headers(&headers)
        .await
        .key(Scope::TimeIngest)
    {
        Ok(key) => key,
        Err(e) => return e.response(None),
    };
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            let message = format!("the body is not a batch of time entries: {e}");
            return ApiError::bad_input(message).response(Some(StatusCode::BAD_REQUEST));
        }
    };
    let ctx = CommandContext::integration(key.key_id);
    match ingest(&state, &ctx, key, batch.entries).await {
        Ok((results, _)) => Json(serde_json::json!({ "results": results })).into_response(),
        Err(e) => e.response(None),
    }
}
