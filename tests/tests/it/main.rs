//! Black-box tests: the real server on port 0 against real PostgreSQL.

mod auth;
mod delivery;
mod effort;
mod email;
mod fuzz;
mod guidance;
mod hardening;
mod hostile;
mod ingestion;
mod isolation;
mod limits;
mod over_http;
mod pipeline;
mod projections_tests;
mod rates;
mod reactors;
mod retries;
mod rule_changes;
mod schema;
mod service;
mod snapshots;
mod statements;
mod subscriptions;
mod teams;
mod webhooks;
mod whatsapp;
