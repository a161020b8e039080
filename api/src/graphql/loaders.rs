//! Batch loaders: the nested `owner` and `client` of a page of records are fetched in one
//! query each instead of one per record (N+1). No cache: each load reads the read model, and
//! a batch only gathers the loads issued within the same millisecond.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use projections::clients::ClientRow;
use projections::users::UserRow;
use sqlx::PgPool;
use uuid::Uuid;

/// Users by id.
#[derive(Debug)]
pub(super) struct Users(pub PgPool);

impl Loader<Uuid> for Users {
    type Value = UserRow;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, UserRow>, Self::Error> {
        Ok(projections::users::find_many(&self.0, keys)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect())
    }
}

/// Clients by id.
#[derive(Debug)]
pub(super) struct Clients(pub PgPool);

impl Loader<Uuid> for Clients {
    type Value = ClientRow;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, ClientRow>, Self::Error> {
        Ok(projections::clients::find_many(&self.0, keys)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect())
    }
}

/// The loaders a schema serves with.
pub(super) fn register<Query, Mutation, Subscription>(
    builder: async_graphql::SchemaBuilder<Query, Mutation, Subscription>,
    pool: &PgPool,
) -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    builder
        .data(DataLoader::new(Users(pool.clone()), tokio::spawn))
        .data(DataLoader::new(Clients(pool.clone()), tokio::spawn))
}
