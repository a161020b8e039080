//! The `notifications` read model: in-app notifications per user (read or unread), and
//! each recipient's preferences (kinds not emailed, daily digest, kinds opted into by
//! WhatsApp and the number). Their messages are queued by the `NotificationMessages`
//! reactors of the `reactions` crate, which read this model: email skips muted kinds and
//! digest takers (the scheduler sends the digest), WhatsApp sends only the kinds opted into.
//!
//! Recipients: a client's portal users for requests raised, uploads reviewed, stages advanced
//! and licence expiry alerts; the person who raised a request for uploads received; the
//! assignee for tasks assigned; a service item's new assignees when it is routed, and its
//! assignees when it is due soon or overdue; a project's owners when a newer version of its
//! template is published. The projection keeps its own list of recipients and request
//! owners (from `User` and `Project` events) so it never reads another projection's tables.
//!
//! A notification's id is derived from (event id, user, kind), so a rebuild recreates the
//! same ids, and read marks (themselves `NotificationsRead` events) re-apply.

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "notifications";

mod fold;
mod notes;
mod queries;

pub use fold::NotificationsProjection;
pub use queries::{list, preferences, unread, NotificationFilter, NotificationRow, Preferences};
