//! The `leads` read model: `lead_view`, `lead_notes`, `lead_activities`.

mod fold;
mod queries;

pub use fold::LeadsProjection;
pub use queries::{activities, count, find, list, list_with_owner_and_client, notes};
pub use queries::{
    ActivityRow, LeadFilter, LeadRow, LeadSelection, LeadSortField, ListedLead, NoteRow,
};
pub use queries::{CLIENT_COLUMNS, LEAD_COLUMNS, OWNER_COLUMNS};

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "leads";
