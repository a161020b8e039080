//! Why a Lead refused a command.

use crate::{ErrorKind, Rejection, ValidationError};

use super::LeadStage;

/// A refused lead command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LeadError {
    /// An input field is invalid.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// No lead has this id.
    #[error("lead not found")]
    NotFound,
    /// A lead with this id already exists.
    #[error("a lead with this id already exists")]
    AlreadyCaptured,
    /// The stage change is not allowed.
    #[error("a lead cannot move from {from} to {to}: {why}")]
    InvalidTransition {
        /// Current stage.
        from: LeadStage,
        /// Requested stage.
        to: LeadStage,
        /// The rule that forbids it.
        why: &'static str,
    },
    /// Only a won lead converts.
    #[error("only a won lead can be converted; this lead is {0}")]
    NotWon(LeadStage),
    /// Conversion happens once.
    #[error("this lead has already been converted into a client")]
    AlreadyConverted,
}

impl Rejection for LeadError {
    fn kind(&self) -> ErrorKind {
        match self {
            LeadError::NotFound => ErrorKind::NotFound,
            LeadError::AlreadyCaptured | LeadError::AlreadyConverted => ErrorKind::Conflict,
            _ => ErrorKind::Invalid,
        }
    }
}
