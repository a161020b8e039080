//! Rotating refresh tokens (7 days), stored hashed.
//!
//! Each login starts a family; each use marks the presented token rotated and issues its
//! successor in the same family. Presenting a rotated token again means it was stolen or
//! replayed: the whole family is revoked, and the holder must log in again.

use chrono::{Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, Code};

/// Refresh token lifetime.
pub const REFRESH_TTL_DAYS: i64 = 7;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a new refresh token for `user_id` in `family` (a new family when `None`); returns
/// the token and its family.
pub async fn issue(
    pool: &PgPool,
    user_id: Uuid,
    family: Option<Uuid>,
) -> Result<(String, Uuid), ApiError> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let family = family.unwrap_or_else(Uuid::now_v7);
    sqlx::query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(Uuid::now_v7())
        .bind(family)
        .bind(user_id)
        .bind(hash(&token))
        .bind(Utc::now() + Duration::days(REFRESH_TTL_DAYS))
        .execute(pool)
        .await?;
    Ok((token, family))
}

fn refused(message: &str) -> ApiError {
    ApiError::new(Code::Unauthenticated, message)
}

/// Rotates `token`: returns its user and family, marking it used. Reuse revokes the family.
pub async fn rotate(pool: &PgPool, token: &str) -> Result<(Uuid, Uuid), ApiError> {
    let mut tx = pool.begin().await?;
    let row: Option<(Uuid, Uuid, bool, bool, bool)> = sqlx::query_as(
        "SELECT user_id, family_id, rotated_at IS NOT NULL, revoked_at IS NOT NULL, expires_at < now() \
           FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, family, rotated, revoked, expired)) = row else {
        return Err(refused("unknown refresh token; log in again"));
    };
    if revoked {
        return Err(refused("this refresh token was revoked; log in again"));
    }
    if rotated {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
            .bind(family)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(%user_id, %family, "refresh token reused after rotation; family revoked");
        return Err(refused("this refresh token was already used; every session of this login is revoked, log in again"));
    }
    if expired {
        return Err(refused("the refresh token has expired; log in again"));
    }
    sqlx::query("UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1")
        .bind(hash(token))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((user_id, family))
}

/// The user and family of `token`, used or not (logout ends its login).
pub async fn owner(pool: &PgPool, token: &str) -> Result<Option<(Uuid, Uuid)>, ApiError> {
    Ok(
        sqlx::query_as("SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash(token))
            .fetch_optional(pool)
            .await?,
    )
}
