//! The command error: rejected by a rule, conflicting with a concurrent change, the database
//! out of reach, or internal.

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
    /// The database could not be reached, or ended the session before the change was
    /// stored: nothing was written, and the same command may be sent again.
    #[error("the database is out of reach: {0}")]
    Unavailable(String),
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
            AggregateError::DatabaseConnectionError(error) => {
                CommandError::Unavailable(error.to_string())
            }
            AggregateError::UnexpectedError(error)
                if error.downcast_ref::<sqlx::Error>().is_some_and(unreachable) =>
            {
                CommandError::Unavailable(error.to_string())
            }
            other => CommandError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(error: sqlx::Error) -> Self {
        if unreachable(&error) {
            CommandError::Unavailable(error.to_string())
        } else {
            CommandError::Internal(error.to_string())
        }
    }
}

/// Whether `error` says the database was out of reach, so that the statement stored
/// nothing: no connection could be had (the pool timed out or is closed), or the server
/// ended or refused the session (SQLSTATE class 08, and 57P01 to 57P03: shutdown, crash,
/// starting up), which aborts the statement's transaction. A connection that broke while
/// a statement was on its way (`Io`) is out of reach too, for a read; the append, which
/// cannot tell from it whether its events landed, asks the store again
/// (`snapshots::SnapshotStore::append`).
pub fn unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}
