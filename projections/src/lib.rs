//! ZippCRM read side: the projection runner, the read models and their queries.
//!
//! Projections are catch-up workers over the global event log, not cqrs-es `Query`
//! callbacks: each reads events in `(transaction_id, global_position)` order below the
//! `pg_snapshot_xmin` horizon, folds them into relational tables and moves its checkpoint
//! row in the same transaction (see `docs/adr/0001-event-ordering-and-projections.md`).
//!
//! Read-model table names and projection names are persisted identifiers.

/// Declares `$name`, an enum of the listed fields of `$target`, implementing
/// [`columns::Fields`]: which field a column of that name fills, and how to read it.
///
/// For the rows of queries that read only the columns their reader shows (see
/// `page::Columns`): a field whose column the query did not read keeps its default. The
/// columns are matched to fields by name once per result ([`columns::read_all`]), then
/// each row is read by position: matching every column's name against every field's, row
/// after row, was a measurable share of a lead page (ADR 0006), and sqlx's derive with
/// `#[sqlx(default)]` cost more still (it builds an error for each absent column).
///
/// Values decode without sqlx's check of each value's type against the field's
/// (`try_get_unchecked`; the check compares type names): these are the read models' own columns, typed by the migrations, and the
/// black-box tests read every field of these rows alone and together.
macro_rules! column_fields {
    ($name:ident for $target:ty { $($field:ident),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[expect(non_camel_case_types, reason = "one variant per field, named as the field")]
        pub(crate) enum $name {
            $($field),+
        }

        impl $crate::columns::Fields<$target> for $name {
            fn named(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($field) => Some(Self::$field),)+
                    _ => None,
                }
            }

            fn read(
                self,
                target: &mut $target,
                row: &::sqlx::postgres::PgRow,
                index: usize,
            ) -> Result<(), ::sqlx::Error> {
                match self {
                    $(Self::$field => {
                        target.$field = ::sqlx::Row::try_get_unchecked(row, index)?;
                    })+
                }
                Ok(())
            }
        }
    };
}

pub mod audit;
pub mod clients;
pub(crate) mod columns;
pub mod effort;
pub mod event;
pub mod guidance;
pub mod integrations;
pub mod lag;
pub mod leads;
pub mod notices;
pub mod notifications;
pub mod page;
pub mod projects;
pub mod rates;
pub mod rebuild;
pub mod rule_changes;
pub mod runner;
pub mod service;
pub mod statements;
pub mod status;
pub mod teams;
pub mod templates;
mod unnest;
pub mod users;
pub mod wait;
pub mod webhooks;

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
        std::sync::Arc::new(teams::TeamsProjection),
        std::sync::Arc::new(effort::EffortProjection),
        std::sync::Arc::new(rates::RatesProjection),
        std::sync::Arc::new(statements::StatementsProjection),
        std::sync::Arc::new(service::ServiceDeskProjection),
        std::sync::Arc::new(integrations::IntegrationsProjection),
        std::sync::Arc::new(guidance::GuidanceProjection),
        std::sync::Arc::new(rule_changes::RuleChangesProjection),
        std::sync::Arc::new(webhooks::WebhookEndpointsProjection),
    ]
}

/// Finds a projection by name.
pub fn by_name(name: &str) -> Option<std::sync::Arc<dyn Projection>> {
    all().into_iter().find(|p| p.name() == name)
}
