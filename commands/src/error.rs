//! The command error: rejected by a rule, conflicting with a concurrent change, or internal.

use cqrs_es::AggregateError;
use domain::{ErrorKind, Rejection};

/// Why a command did not take effect. Nothing was written in every case.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A business rule or validation refused it.
    #[error("{message}")]
    Rejected {
        /// Class of refusal.
        kind: ErrorKind,
        /// For a person.
        message: String,
    },
    /// Concurrent changes kept winning; retrying later may succeed.
    #[error("the record was changed by someone else at the same time; please retry")]
    Conflict,
    /// Infrastructure failure (logged; never shown in detail to users).
    #[error("internal error: {0}")]
    Internal(String),
}

impl CommandError {
    /// A rejection of kind `Invalid`.
    pub fn invalid(message: impl Into<String>) -> Self {
        CommandError::Rejected {
            kind: ErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// A rejection of kind `NotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        CommandError::Rejected {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }
}

impl<E: Rejection> From<AggregateError<E>> for CommandError {
    fn from(error: AggregateError<E>) -> Self {
        match error {
            AggregateError::UserError(e) => CommandError::Rejected {
                kind: e.kind(),
                message: e.to_string(),
            },
            AggregateError::AggregateConflict => CommandError::Conflict,
            other => CommandError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(error: sqlx::Error) -> Self {
        CommandError::Internal(error.to_string())
    }
}
