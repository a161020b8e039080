//! Login throttling: after `MAX_FAILURES` wrong passwords for one email within `WINDOW`,
//! further attempts for that email are refused with `RATE_LIMITED` until the oldest failure
//! leaves the window. A successful login clears the count. The failures live in the database
//! so that every replica enforces the same limit.

use sqlx::PgPool;

use crate::error::{ApiError, Code};

/// Failed attempts allowed per email within the window.
pub const MAX_FAILURES: i64 = 5;
/// The window, in minutes.
pub const WINDOW_MINUTES: i64 = 15;

fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Refuses with `RATE_LIMITED` when `email` has used up its attempts.
pub async fn check(pool: &PgPool, email: &str) -> Result<(), ApiError> {
    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM login_failures
         WHERE email_key = $1 AND failed_at > now() - make_interval(mins => $2::int)",
    )
    .bind(key(email))
    .bind(WINDOW_MINUTES as i32)
    .fetch_one(pool)
    .await?;
    if failures >= MAX_FAILURES {
        return Err(ApiError::new(
            Code::RateLimited,
            format!("too many failed logins for this email; try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    Ok(())
}

/// Records a failed attempt (and forgets those older than the window).
pub async fn record_failure(pool: &PgPool, email: &str) -> Result<(), ApiError> {
    let email_key = key(email);
    sqlx::query(
        "DELETE FROM login_failures
         WHERE email_key = $1 AND failed_at <= now() - make_interval(mins => $2::int)",
    )
    .bind(&email_key)
    .bind(WINDOW_MINUTES as i32)
    .execute(pool)
    .await?;
    sqlx::query("INSERT INTO login_failures (email_key) VALUES ($1)")
        .bind(&email_key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Clears the failures of `email` after a successful login.
pub async fn clear(pool: &PgPool, email: &str) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM login_failures WHERE email_key = $1")
        .bind(key(email))
        .execute(pool)
        .await?;
    Ok(())
}
