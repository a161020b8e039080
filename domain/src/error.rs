//! Shared error vocabulary of the domain.
//!
//! Aggregates with refusals of their own have their own error enum (`LeadError`, ...); the
//! rest share [`Refused`] under their own name. All of them can say which [`ErrorKind`]
//! they are so the API maps them to one `extensions.code` without knowing every
//! variant.

/// The broad class of a refused command, used by the API to choose an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input or the requested transition is not acceptable (`BAD_USER_INPUT`).
    Invalid,
    /// The record the command addresses does not exist (`NOT_FOUND`).
    NotFound,
    /// The command is valid but the record's state has moved on (`CONFLICT`).
    Conflict,
    /// The actor may not do this here (maker-checker, manager-only actions; `FORBIDDEN`).
    Forbidden,
}

/// Implemented by every aggregate error so callers can classify it.
pub trait Rejection: std::error::Error {
    /// The class of this refusal.
    fn kind(&self) -> ErrorKind;
}

/// Why a command was refused, for the aggregates whose refusals are these five (each names
/// it after itself: `TimesheetError`, `ServiceError`, ...).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    NotFound(String),
    /// The record's state does not allow it (`BAD_USER_INPUT`).
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
}

impl Rejection for Refused {
    fn kind(&self) -> ErrorKind {
        match self {
            Refused::Invalid(_) | Refused::NotAllowed(_) => ErrorKind::Invalid,
            Refused::NotFound(_) => ErrorKind::NotFound,
            Refused::Forbidden(_) => ErrorKind::Forbidden,
            Refused::Conflict(_) => ErrorKind::Conflict,
        }
    }
}

/// A field of a command failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// Name of the offending input field, as the API spells it (camelCase).
    pub field: &'static str,
    /// What is wrong, phrased for a person.
    pub message: String,
}

impl ValidationError {
    /// Builds a validation error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
