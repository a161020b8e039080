//! Time from outside: API keys for integrations, the entries a productivity platform sends,
//! and the saved mappings from its people and references to ours.
//!
//! An API key stands for an integration (a platform). Each external entry is one stream,
//! named by its integration and external id ([`external_entry_id`]): the event store's
//! one-stream-per-id is the idempotency key, so a repeat (also 32 at once)
//! lands nothing and is answered from the stream. An entry that maps to a known user and
//! matter on arrival is logged as that user's draft by the `external-time` reactor, under
//! an entry id derived from it ([`time_entry_id`]); one that does not waits for a reviewer,
//! who maps it (and may save the mapping, [`Mappings`]) or discards it with a reason.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod api_key;
mod external_entry;
mod mappings;
#[cfg(test)]
mod tests;

pub use api_key::{ApiKey, ApiKeyCommand, ApiKeyEvent};
pub use external_entry::{
    ExternalEntry, ExternalEntryCommand, ExternalEntryEvent, ExternalInput, ExternalStatus, Mapping,
};
pub use mappings::{MappingCommand, MappingEvent, Mappings};

/// The one stream of saved mappings.
pub const MAPPINGS_ID: Uuid = Uuid::from_u128(0x01925a7e_0000_7000_8000_000000000002);

/// Longest API key lifetime.
pub const MAX_KEY_DAYS: i64 = 730;

/// The integration of the keys created before keys named theirs: they share it, and the
/// entries they sent keep the streams they were stored under. (Its value is the namespace
/// the first streams of external entries were named in.)
pub const SHARED_INTEGRATION: Uuid = Uuid::NAMESPACE_OID;

/// The integration a key created with `integration_id` (as its `ApiKeyCreated` holds it)
/// stands for.
pub fn stands_for(integration_id: Option<Uuid>) -> Uuid {
    integration_id.unwrap_or(SHARED_INTEGRATION)
}

/// The stream of the entry that `integration` (a platform, one or more API keys) calls
/// `external_id`: an external id is unique within its integration only.
pub fn external_entry_id(integration: Uuid, external_id: &str) -> Uuid {
    Uuid::new_v5(
        &integration,
        format!("zippcrm-external-time:{external_id}").as_bytes(),
    )
}

/// The time entry an external entry becomes once mapped.
pub fn time_entry_id(external_entry_id: Uuid) -> Uuid {
    Uuid::new_v5(&external_entry_id, b"time-entry")
}

/// The form in which an external user or reference is matched: trimmed, lower case.
pub fn normalized(reference: &str) -> String {
    reference.trim().to_lowercase()
}

/// Why a command was refused.
pub type IntegrationError = crate::Refused;

/// What an API key may do. The serialized names are persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Send time entries (`POST /api/v1/time-entries`, `ingestTimeEntries`).
    #[serde(rename = "time:ingest")]
    TimeIngest,
}

impl Scope {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TimeIngest => "time:ingest",
        }
    }
}
