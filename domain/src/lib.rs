//! ZippCRM domain: aggregates, commands, events, errors and pure policies.
//!
//! Nothing here performs IO, reads the clock or generates ids: every id and instant arrives in
//! the command, so every decision is a pure function of (state, command) and every fold is a
//! pure function of (state, event). The write side (`commands`) wraps these aggregates in the
//! cqrs-es framework over postgres-es; the read side (`projections`) decodes the same event
//! enums from the log.
//!
//! `Aggregate::TYPE` values and event type names (the enum variant names) are **persisted
//! identifiers**: they are stored in every row of the `events` table. Never rename them.

pub mod client;
pub mod error;
pub mod guidance;
pub mod integration;
pub mod lead;
pub mod project;
pub mod rate;
pub mod reaction;
pub mod role;
pub mod rule_change;
pub mod service;
pub mod statement;
pub mod team;
pub mod template;
pub mod timesheet;
pub mod user;
pub mod values;
pub mod webhook;

pub use error::{ErrorKind, Refused, Rejection, ValidationError};
pub use role::{Permission, Role};

pub use cqrs_es::Aggregate;

/// Implemented by every event enum: whether an event is a consequence of the event just
/// before it in the same append (the store then records that event as its cause).
pub trait Consequence {
    /// True for derived events (roll-ups, moves caused by approvals).
    fn is_consequence(&self) -> bool {
        false
    }
}

impl Consequence for lead::LeadEvent {}
impl Consequence for client::ClientEvent {}
impl Consequence for template::TemplateEvent {}
impl Consequence for user::UserEvent {}

/// Folds `events` from the empty state: the state of an aggregate after them.
pub fn replay<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> A {
    let mut state = A::default();
    for event in events {
        state.apply(event);
    }
    state
}
