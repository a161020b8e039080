//! The WorkflowTemplate aggregate: a family's stage-gate frame, published in versions.
//!
//! Every family shares the five stages (Onboarding, Documentation, Filing, Liaison, Issue);
//! a version fixes each stage's checklist and optional service-level clock. Projects are
//! pinned to the version they start with.

mod aggregate;
mod diff;
mod seeds;
#[cfg(test)]
mod tests;

pub use aggregate::{
    validate_stages, ChecklistItemSpec, MilestoneSpec, Publication, RequestTemplate, StageKey,
    StageSpec, TemplateCommand, TemplateError, TemplateEvent, TemplateVersion, WorkflowTemplate,
};
pub use diff::{diff, Change};
pub use seeds::{seeded_templates, SeedTemplate};
