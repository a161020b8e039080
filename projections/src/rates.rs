//! The `rates` read model: `rate_card`, one row per rate scope.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::rate::{Money, RateCard, RateEvent, RateScope};
use sqlx::{PgConnection, PgPool};

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "rates";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct RatesProjection;

fn scope_json(scope: &RateScope) -> serde_json::Value {
    serde_json::to_value(scope).unwrap_or_default()
}

/// One statement per event.
#[async_trait]
impl FoldEach for RatesProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["rate_card"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["RateCard"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        match decode(event)? {
            RateEvent::RateSet { scope, hourly, at } => {
                sqlx::query(
                    "INSERT INTO rate_card (scope, hourly_minor, currency, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (scope) DO UPDATE SET hourly_minor = $2, currency = $3, updated_at = $4",
                )
                .bind(scope_json(&scope))
                .bind(hourly.minor)
                .bind(hourly.currency)
                .bind(at)
                .execute(conn)
                .await?;
            }
            RateEvent::RateCleared { scope, .. } => {
                sqlx::query("DELETE FROM rate_card WHERE scope = $1")
                    .bind(scope_json(&scope))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }
}

/// A rate as the read model holds it.
#[derive(Debug, Clone)]
pub struct RateRow {
    pub scope: RateScope,
    pub hourly: Money,
    pub updated_at: DateTime<Utc>,
}

/// Every rate.
pub async fn rates(pool: &PgPool) -> Result<Vec<RateRow>, sqlx::Error> {
    let rows: Vec<(serde_json::Value, i64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT scope, hourly_minor, currency, updated_at FROM rate_card ORDER BY updated_at, scope::text",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(scope, minor, currency, updated_at)| {
            Some(RateRow {
                scope: serde_json::from_value(scope).ok()?,
                hourly: Money { minor, currency },
                updated_at,
            })
        })
        .collect())
}

/// The rate card as of the read model, for the domain's rules ([`RateCard::rate_for`]).
pub async fn card(pool: &PgPool) -> Result<RateCard, sqlx::Error> {
    Ok(RateCard {
        rates: rates(pool)
            .await?
            .into_iter()
            .map(|r| (r.scope, r.hourly))
            .collect(),
    })
}
