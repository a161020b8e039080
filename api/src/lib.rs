//! The ZippCRM server: configuration, auth, the GraphQL API and the composition root.
//!
//! [`startup::Server::build`] wires the database, the command bus, the projection workers
//! and the HTTP routes; [`startup::Server::serve`] takes its listener and a shutdown signal
//! as arguments so tests run it on port 0.

pub mod auth;
pub mod config;
pub mod error;
pub mod exports;
pub mod files;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod rest;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use startup::Server;
