//! ZippCRM read side: the projection runner, the read models and their queries.
//!
//! Projections are catch-up workers over the global event log, not cqrs-es `Query`
//! callbacks: each reads events in `(transaction_id, global_position)` order below the
//! `pg_snapshot_xmin` horizon, folds them into relational tables and moves its checkpoint
//! row in the same transaction (see `docs/adr/0001-event-ordering-and-projections.md`).
//!
//! Read-model table names and projection names are persisted identifiers.

pub mod audit;
pub mod clients;
pub mod event;
pub mod lag;
pub mod leads;
pub mod notices;
pub mod notifications;
pub mod page;
pub mod projects;
pub mod rebuild;
pub mod runner;
pub mod status;
pub mod templates;
pub mod users;
pub mod wait;

pub use event::{Position, StoredEvent};
pub use notices::{Notice, Notices};
pub use runner::{Projection, ProjectionError};

/// All migrations of the service (event store, write side and read models).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Every projection the service runs, in a fixed order.
pub fn all() -> Vec<std::sync::Arc<dyn Projection>> {
    vec![
        std::sync::Arc::new(leads::LeadsProjection),
        std::sync::Arc::new(clients::ClientsProjection),
        std::sync::Arc::new(projects::ProjectsProjection),
        std::sync::Arc::new(users::UsersProjection),
        std::sync::Arc::new(templates::TemplatesProjection),
        std::sync::Arc::new(notifications::NotificationsProjection),
    ]
}

/// Finds a projection by name.
pub fn by_name(name: &str) -> Option<std::sync::Arc<dyn Projection>> {
    all().into_iter().find(|p| p.name() == name)
}
