//! Ending sessions at once: per-user token versions.
//!
//! An access token is a signed claim that lives 15 minutes, so revoking refresh tokens alone
//! left a demoted, deactivated or logged-out user's access token working until it expired.
//! Each token now carries the version of its user's sessions when it was issued
//! (`ver`); ending a user's sessions bumps the version in `token_versions` and notifies
//! `zippcrm_sessions`, and a token of an older version is refused. Every replica holds the
//! versions in memory ([`Sessions`]), so checking a token costs no query: the bumping
//! replica updates its copy before answering, the others on the notification, and all of
//! them reload the table whenever the listener reconnected or fell behind (a notification
//! may have been missed then).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use projections::{Notice, Notices};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

/// Which refresh tokens an ending revokes besides bumping the version.
#[derive(Debug, Clone, Copy)]
pub enum Revoke {
    /// None: the user's access tokens end, a refresh gives a new one (a role change: the
    /// refresh reads the new role).
    Nothing,
    /// One login (logout).
    Family(Uuid),
    /// Every login but the given one (the caller's own, on a password change), or all.
    AllBut(Option<Uuid>),
}

/// The token versions of every user whose sessions were ever ended (others are at 0).
#[derive(Debug, Clone, Default)]
pub struct Sessions(Arc<RwLock<HashMap<Uuid, i64>>>);

impl Sessions {
    /// Loads the versions; the future returned keeps them current from `notices` until it
    /// is dropped.
    pub async fn start(
        pool: &PgPool,
        notices: &Notices,
    ) -> Result<(Self, impl std::future::Future<Output = ()> + Send + 'static), sqlx::Error> {
        let sessions = Self::default();
        // Subscribed before loading, so a bump committed in between is heard.
        let mut heard = notices.subscribe();
        sessions.reload(pool).await?;
        let (copy, pool) = (sessions.clone(), pool.clone());
        let follow = async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let reload = match heard.recv().await {
                    Ok(Notice::SessionsEnded { user_id, version }) => {
                        copy.raise(user_id, version);
                        false
                    }
                    // Sent after the listener reconnected: anything may have been missed.
                    Ok(Notice::EventsAppended { types }) => types.is_empty(),
                    Ok(_) => false,
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                };
                if reload {
                    if let Err(error) = copy.reload(&pool).await {
                        tracing::warn!(%error, "could not reload token versions");
                    }
                }
            }
        };
        Ok((sessions, follow))
    }

    async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let rows: Vec<(Uuid, i64)> = sqlx::query_as("SELECT user_id, version FROM token_versions")
            .fetch_all(pool)
            .await?;
        for (user_id, version) in rows {
            self.raise(user_id, version);
        }
        Ok(())
    }

    /// Versions only move forward, whatever order notifications and reloads arrive in.
    fn raise(&self, user_id: Uuid, version: i64) {
        let mut versions = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let known = versions.entry(user_id).or_insert(version);
        *known = (*known).max(version);
    }

    /// Whether a token of `user_id` issued under `version` is still valid.
    pub fn accepts(&self, user_id: Uuid, version: i64) -> bool {
        let versions = self.0.read().unwrap_or_else(PoisonError::into_inner);
        version >= versions.get(&user_id).copied().unwrap_or(0)
    }

    /// The version a token issued now carries (read from the table, not the copy, so a
    /// replica that has not heard of a bump yet cannot issue a token that is already old).
    pub async fn current(pool: &PgPool, user_id: Uuid) -> Result<i64, ApiError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM token_versions WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// Ends `user_id`'s access tokens and revokes the refresh tokens `revoke` names, in one
    /// transaction; this replica refuses the old tokens before this returns.
    pub async fn end(&self, pool: &PgPool, user_id: Uuid, revoke: Revoke) -> Result<(), ApiError> {
        let mut tx = pool.begin().await?;
        let revoked = match revoke {
            Revoke::Nothing => None,
            Revoke::Family(family) => Some(
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = now() \
                      WHERE family_id = $1 AND revoked_at IS NULL",
                )
                .bind(family),
            ),
            Revoke::AllBut(keep) => Some(
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = now() \
                      WHERE user_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2",
                )
                .bind(user_id)
                .bind(keep),
            ),
        };
        if let Some(statement) = revoked {
            statement.execute(&mut *tx).await?;
        }
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO token_versions (user_id, version) VALUES ($1, 1) \
             ON CONFLICT (user_id) DO UPDATE SET version = token_versions.version + 1 \
             RETURNING version",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let notice = Notice::SessionsEnded { user_id, version };
        sqlx::query("SELECT pg_notify('zippcrm_sessions', $1)")
            .bind(serde_json::to_string(&notice).map_err(ApiError::internal)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.raise(user_id, version);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_only_moves_forward_and_refuses_older_tokens() {
        let sessions = Sessions::default();
        let user = Uuid::new_v4();
        assert!(sessions.accepts(user, 0));
        sessions.raise(user, 2);
        sessions.raise(user, 1);
        assert!(!sessions.accepts(user, 1));
        assert!(sessions.accepts(user, 2));
        assert!(sessions.accepts(Uuid::new_v4(), 0));
    }
}
