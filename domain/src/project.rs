//! The Project aggregate: a regulated matter run through the five stage gates, with its
//! tasks, document requests, liaison log, milestones and licence.
//!
//! A project is created from a workflow template version and keeps a copy of that version's
//! stages and checklists, so later template versions never change a running project.

mod aggregate;
mod billing;
mod changes;
mod clock;
mod command;
mod documents;
mod dry_run;
mod event;
mod gates;
mod model;
pub mod rollup;
mod tasks;
#[cfg(test)]
mod tests;
mod versions;

pub use aggregate::ProjectError;
pub use billing::{ALERT_DAYS, ALERT_HORIZON_DAYS};
pub use clock::StageClock;
pub use command::{
    Actor, BillingCommand, ChangeCommand, DocumentCommand, GateCommand, NewLiaisonEntry, NewTask,
    ProjectCommand, TaskCommand,
};
pub use dry_run::{dry_run, BreachedClock, DryRun, RefusedGate};
pub use event::{Direction, FileMeta, ItemRef, ProjectEvent};
pub use model::*;
pub use rollup::TaskStatus;
