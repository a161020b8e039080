//! The one API error type: an `extensions.code` from the brief's list and a message for a
//! person. Internal errors are logged once, here, and reach the client only as
//! "internal error" with a reference.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commands::CommandError;
use domain::ErrorKind;

/// Error codes of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// No or bad credentials.
    Unauthenticated,
    /// Authenticated but not allowed.
    Forbidden,
    /// No such record (or not visible to you).
    NotFound,
    /// The input is wrong.
    BadUserInput,
    /// A concurrent change or a state conflict.
    Conflict,
    /// Too many attempts.
    RateLimited,
    /// The database is out of reach: nothing was changed, and the request may be sent
    /// again after a moment (HTTP 503 with `Retry-After`).
    Unavailable,
    /// Our fault.
    Internal,
}

impl Code {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Conflict => "CONFLICT",
            Code::RateLimited => "RATE_LIMITED",
            Code::Unavailable => "UNAVAILABLE",
            Code::Internal => "INTERNAL",
        }
    }

    /// The HTTP status of an answer that is this error alone (outside GraphQL execution).
    pub fn status(self) -> StatusCode {
        match self {
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::BadUserInput => StatusCode::BAD_REQUEST,
            Code::Conflict => StatusCode::CONFLICT,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An answer outside GraphQL's execution (a refused body, an upload, a download, an
/// idempotency key) in the GraphQL error shape:
/// `{"errors":[{"message","extensions":{"code"}}]}`.
pub(crate) fn error_response(status: StatusCode, code: Code, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] });
    let mut response = (status, Json(body)).into_response();
    if code == Code::Unavailable {
        retry_after(&mut response);
    }
    response
}

/// Seconds a client is asked to wait before sending again a request answered
/// `UNAVAILABLE`: about what a PostgreSQL restart or failover takes.
pub(crate) const RETRY_AFTER_SECONDS: u32 = 2;

/// Marks `response` as "the database is out of reach": 503 with `Retry-After`.
pub(crate) fn retry_after(response: &mut Response) {
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
}

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    /// Builds an error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `BAD_USER_INPUT`.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Code::BadUserInput, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    /// `UNAVAILABLE`: the database is out of reach (logged as a warning, once).
    pub fn unavailable(error: impl std::fmt::Display) -> Self {
        tracing::warn!(%error, "the database is out of reach");
        Self::new(
            Code::Unavailable,
            "the database is out of reach for a moment; nothing was changed: send the request again shortly",
        )
    }

    /// The error as a whole HTTP answer, with `status` or the code's own.
    pub(crate) fn response(self, status: Option<StatusCode>) -> Response {
        error_response(
            status.unwrap_or_else(|| self.code.status()),
            self.code,
            &self.message,
        )
    }

    /// Logs `error` and returns an opaque `INTERNAL`.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4();
        tracing::error!(%error, %reference, "internal error");
        Self::new(
            Code::Internal,
            format!("internal error (reference {reference})"),
        )
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected {
                kind: ErrorKind::Invalid,
                message,
            } => ApiError::new(Code::BadUserInput, message),
            CommandError::Rejected {
                kind: ErrorKind::NotFound,
                message,
            } => ApiError::new(Code::NotFound, message),
            CommandError::Rejected {
                kind: ErrorKind::Conflict,
                message,
            } => ApiError::new(Code::Conflict, message),
            CommandError::Rejected {
                kind: ErrorKind::Forbidden,
                message,
            } => ApiError::new(Code::Forbidden, message),
            CommandError::Conflict => {
                ApiError::new(Code::Conflict, CommandError::Conflict.to_string())
            }
            CommandError::Unavailable(detail) => ApiError::unavailable(detail),
            CommandError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl From<domain::ValidationError> for ApiError {
    fn from(error: domain::ValidationError) -> Self {
        ApiError::bad_input(error.to_string())
    }
}

/// A database error: `UNAVAILABLE` when the database was out of reach, else `INTERNAL`.
fn database(error: &sqlx::Error) -> ApiError {
    if commands::unreachable(error) {
        ApiError::unavailable(error)
    } else {
        ApiError::internal(error)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        database(&error)
    }
}

/// A batch loader's error, shared by every record of the batch.
impl From<std::sync::Arc<sqlx::Error>> for ApiError {
    fn from(error: std::sync::Arc<sqlx::Error>) -> Self {
        database(&error)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let code = error.code.as_str();
        use async_graphql::ErrorExtensions;
        async_graphql::Error::new(error.message).extend_with(|_, ext| ext.set("code", code))
    }
}

/// `ApiError` results in resolvers.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
