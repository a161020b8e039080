//! The GraphQL schema: queries, mutations, subscriptions and their types.

mod audit;
mod connection;
mod context;
mod delivery;
mod leads;
mod loaders;
mod mutation;
mod projects;
mod query;
mod records;
mod subscription;
mod types;
mod written;

pub use context::{AppState, RequestContext};
pub use projects::PROJECT_READ_MODELS;

use async_graphql::Schema;

/// The schema type.
pub type ZippSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Maximum query depth.
pub const MAX_DEPTH: usize = 12;
/// Maximum query complexity: one per field selected, counted once whatever a list's length
/// (async-graphql's default: no field declares its own; `first` is capped at
/// `connection::MAX_FIRST`).
pub const MAX_COMPLEXITY: usize = 2_000;

/// Builds the schema over the shared state.
pub fn schema(state: AppState) -> ZippSchema {
    let builder = Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        subscription::Subscription,
    );
    loaders::register(builder, &state.pool)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(20)
        .finish()
}

/// The SDL as served (checked in as `docs/schema.graphql`).
pub fn sdl() -> String {
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        subscription::Subscription,
    )
    .finish()
    .sdl()
}
