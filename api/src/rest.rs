//! The REST handlers: evidence uploads and downloads, guidance documents, statement files
//! and the time-entry ingestion of integrations. Each takes the shared [`AppState`] and
//! answers errors in the GraphQL error shape (`error::error_response`).
//!
//! [`AppState`]: crate::state::AppState

pub(crate) mod statements;
pub(crate) mod time_entries;
pub(crate) mod uploads;
