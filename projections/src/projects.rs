//! The `projects` read model: projects with their stages, checklists, stage-advance
//! requests, tasks, document requests and uploads, liaison log, milestones and alerts.

mod batch;
mod fold;
mod queries;

pub use fold::ProjectsProjection;
pub use queries::*;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "projects";
