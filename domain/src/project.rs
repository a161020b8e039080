//! The Project aggregate: a regulated matter run through the five stage gates.
//!
//! A project is created from a workflow template version and keeps a copy of that version's
//! stages and checklists, so later template versions never change a running project.

mod aggregate;
#[cfg(test)]
mod tests;

pub use aggregate::{
    ChecklistItem, ItemStatus, Project, ProjectCommand, ProjectError, ProjectEvent, ProjectStage,
    ProjectStatus, TemplateRef,
};
