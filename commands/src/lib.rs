//! ZippCRM write side: the cqrs-es framework over postgres-es, command metadata, and the
//! multi-aggregate operations (lead conversion, user registration) that need more than one
//! stream or a uniqueness reservation.
//!
//! Every command is decided by a domain aggregate; this crate only loads, retries on
//! optimistic-concurrency conflicts, attaches metadata and reports where the resulting
//! events landed in the global order so the API can wait for its read models. What is done
//! *because* an event happened (reactors, queues, couriers, the scheduler) is the
//! `reactions` crate's.

mod bus;
mod context;
mod convert;
mod error;
mod rule_changes;
mod snapshots;
pub mod users;

pub use bus::CommandBus;
pub use context::CommandContext;
pub use convert::{ConvertLead, ConvertedLead, ProjectRequest};
pub use error::{unreachable, CommandError};
pub use users::{NewUser, PortalInvitation};

/// Where an appended event sits in the global order (`transaction_id`, `global_position`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Appended {
    /// Transaction id.
    pub tx: i64,
    /// Global position.
    pub position: i64,
}
