//! Black-box tests: the real server on port 0 against real PostgreSQL.

mod auth;
mod delivery;
mod hostile;
mod isolation;
mod pipeline;
mod projections_tests;
mod schema;
mod snapshots;
mod subscriptions;
