//! The Lead aggregate: a prospective client moving through the sales pipeline.
//!
//! Stages: Prospect, Qualified, Proposal, Negotiation (open), then Won or Lost (closed).
//! Open stages may move freely among themselves; a lead is won only from Proposal or
//! Negotiation; it may be lost from any open stage with a reason; a won lead converts into a
//! client exactly once.

mod aggregate;
mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use aggregate::{Lead, LeadActivity, LeadNote};
pub use command::{ActivityInput, CaptureLeadInput, LeadCommand};
pub use error::LeadError;
pub use event::{LeadEvent, LeadSource, LeadStage};
