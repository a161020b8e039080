//! ZippCRM read side: the projection runner, the read models and their queries.
//!
//! Projections are catch-up workers over the global event log, not cqrs-es `Query`
//! callbacks: each reads events in `(transaction_id, global_position)` order below the
//! `pg_snapshot_xmin` horizon, folds them into relational tables and moves its checkpoint
//! row in the same transaction (see `docs/adr/0001-event-ordering-and-projections.md`).
//!
//! Read-model table names and projection names are persisted identifiers.

/// Sets each listed field of `$target` from the row's column of that name (after
/// `$prefix`), found by position, if the query read one; a field whose column it did not
/// read keeps its value. For the rows of queries that read only the columns their reader
/// shows (see `page::Columns`): the derive's `#[sqlx(default)]` looks each field up by name
/// and builds an error for every one absent, which cost more than decoding the row did.
///
/// Values decode without sqlx's check of each value's type against the field's
/// (`try_get_unchecked`; the check compared type names and was 2.4% of a lead page's
/// instructions): these are the read models' own columns, typed by the migrations, and the
/// black-box tests read every field of these rows alone and together.
macro_rules! read_present_columns {
    ($row:expr, $target:expr, $prefix:literal, [$($field:ident),+ $(,)?]) => {
        for (index, column) in ::sqlx::Row::columns($row).iter().enumerate() {
            match ::sqlx::Column::name(column) {
                $(concat!($prefix, stringify!($field)) => {
                    $target.$field = ::sqlx::Row::try_get_unchecked($row, index)?;
                })+
                _ => {}
            }
        }
    };
}

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
