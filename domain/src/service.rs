//! The service desk: standalone work for a client outside any project (a GST filing, a
//! board resolution, a question from a regulator).
//!
//! An item is owned by a team first; a manager of that team routes it to named consultants,
//! each optionally with a budget of minutes, and may route it again (every routing is an
//! event, so the history stays). Its assignees and the team's managers move it through
//! In progress, Waiting on client and Done; a manager cancels it with a reason. Whether
//! someone manages the owning team is a fact the caller looks up
//! ([`crate::team::Team::manages`]'s read side), passed in as [`Actor::manages_team`].

/// Days before its due date at which an item's assignees are told it is due soon.
pub const DUE_SOON_DAYS: i64 = 2;

/// Most minutes a routing may budget for one consultant (a thousand hours).
pub const MAX_BUDGET_MINUTES: i32 = 60_000;

mod aggregate;
mod command;
mod event;
mod model;

pub use aggregate::ServiceError;
pub use command::{ServiceItemChanges, ServiceItemCommand, ServiceItemInput};
pub use event::ServiceItemEvent;
pub use model::{Actor, Assignment, Category, Priority, ServiceItem, ServiceStatus};

#[cfg(test)]
mod tests;
