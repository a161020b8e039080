//! The User aggregate: an internal team member or a customer's portal user.
//!
//! Credentials are deliberately **not** in the event log: the password hash lives in the
//! write-side `user_credentials` table, and the log records only that it changed.

mod aggregate;
#[cfg(test)]
mod tests;

pub use aggregate::{phone_number, NotificationKind, User, UserCommand, UserError, UserEvent};
