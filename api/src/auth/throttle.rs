//! Throttling of the anonymous credential fields, in counters that live in the database so
//! every replica enforces the same limits. A window starts at its first attempt and lasts
//! `WINDOW_MINUTES`.
//!
//! Logins are counted per account and per client address before the password is checked,
//! in one statement that bumps and returns both counters, so parallel guesses are
//! serialised by the counters' row locks and the sixth of forty parallel wrong passwords is
//! already refused; a successful login clears the account's count and takes its own
//! attempt back from the address's. Password-reset requests are counted per address, the
//! same way for an address with an account and one without.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::error::{ApiError, Code};

/// Failed attempts allowed per account (email, known or not) within the window.
pub const MAX_FAILURES: i32 = 5;
/// Failed attempts allowed per client address within the window (many accounts, one caller).
pub const MAX_ADDRESS_FAILURES: i32 = 50;
/// Password-reset requests allowed per client address within the window.
pub const MAX_RESET_REQUESTS: i32 = 20;
/// The window, in minutes.
pub const WINDOW_MINUTES: i32 = 15;

fn account_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

fn address_key(client: IpAddr) -> String {
    format!("address:{client}")
}

/// Counts one attempt against each of `keys`, in one statement; returns each key's count in
/// its window.
async fn count(pool: &PgPool, keys: &[&str]) -> Result<Vec<(String, i32)>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO login_attempts AS a (key, window_start, attempts)
         SELECT key, now(), 1 FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n) ORDER BY n
         ON CONFLICT (key) DO UPDATE SET
             window_start = CASE WHEN a.window_start <= now() - make_interval(mins => $2)
                                 THEN now() ELSE a.window_start END,
             attempts = CASE WHEN a.window_start <= now() - make_interval(mins => $2)
                             THEN 1 ELSE a.attempts + 1 END
         RETURNING key, attempts",
    )
    .bind(keys)
    .bind(WINDOW_MINUTES)
    .fetch_all(pool)
    .await
}

/// Counts an attempt for `email` from `client`; `RATE_LIMITED` when either has used up its
/// attempts (the password is then not checked at all).
pub async fn attempt(pool: &PgPool, email: &str, client: IpAddr) -> Result<(), ApiError> {
    let (account, address) = (account_key(email), address_key(client));
    let counts = count(pool, &[&account, &address]).await?;
    let limited = counts.iter().any(|(key, attempts)| {
        let limit = if *key == account {
            MAX_FAILURES
        } else {
            MAX_ADDRESS_FAILURES
        };
        *attempts > limit
    });
    if limited {
        return Err(ApiError::new(
            Code::RateLimited,
            format!("too many failed logins; try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    Ok(())
}

/// Counts a password-reset request from `client`; `RATE_LIMITED` past
/// [`MAX_RESET_REQUESTS`] in the window.
pub async fn reset_requested(pool: &PgPool, client: IpAddr) -> Result<(), ApiError> {
    let key = format!("reset:{}", address_key(client));
    let counts = count(pool, &[&key]).await?;
    if counts.iter().any(|(_, n)| *n > MAX_RESET_REQUESTS) {
        return Err(ApiError::new(
            Code::RateLimited,
            format!("too many password-reset requests from your address; try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    Ok(())
}

/// After a successful login: the account starts over, the address gets its attempt back.
pub async fn succeeded(pool: &PgPool, email: &str, client: IpAddr) -> Result<(), ApiError> {
    sqlx::query(
        "WITH gone AS (DELETE FROM login_attempts WHERE key = $1)
         UPDATE login_attempts SET attempts = greatest(attempts - 1, 0) WHERE key = $2",
    )
    .bind(account_key(email))
    .bind(address_key(client))
    .execute(pool)
    .await?;
    Ok(())
}
