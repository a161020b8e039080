//! The ZippCRM server: configuration, auth, the GraphQL API and the composition root.
//!
//! [`startup::Server::build`] wires the database, the command bus, the projection workers,
//! the reactions and the HTTP routes; [`startup::Server::serve`] takes its listener and a
//! shutdown signal as arguments so tests run it on port 0.
//!
//! The public modules are what the binary, the black-box tests and the bench use; the
//! surfaces themselves (`http`, `rest`, the GraphQL features) and their helpers are the
//! crate's own. The workspace's `unreachable_pub` lint keeps every item that no other crate
//! can reach `pub(crate)`.

pub mod auth;
pub mod config;
mod error;
mod exports;
mod files;
pub mod graphql;
mod http;
mod ingest;
mod rest;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use startup::Server;
