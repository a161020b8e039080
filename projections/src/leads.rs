//! The `leads` read model: `lead_view`, `lead_notes`, `lead_activities`.

mod fold;
mod queries;

pub use fold::LeadsProjection;
pub use queries::{activities, count, find, list, notes};
pub use queries::{ActivityRow, LeadFilter, LeadRow, LeadSortField, NoteRow};
