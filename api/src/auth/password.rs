//! argon2id password hashing, off the async runtime, and the rule for new passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;

/// Shortest accepted password.
pub const MIN_LENGTH: usize = 10;
/// Longest accepted password (hashing cost is bounded).
pub const MAX_LENGTH: usize = 256;

/// Checks a new password of the account `email`: its length, and that it is not easy to
/// guess. zxcvbn (Dropbox's estimator, with its bundled lists of common passwords, names and
/// words) scores it, counting repeats (`aaaaaaaaaa`), sequences, keyboard walks and the
/// account's own email and name parts as cheap; a score below 2 (fewer than 10^6 guesses)
/// is refused, as is the email itself.
pub fn validate(password: &str, email: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ApiError::bad_input(format!(
            "password: must be at least {MIN_LENGTH} characters"
        )));
    }
    if length > MAX_LENGTH {
        return Err(ApiError::bad_input(format!(
            "password: must be at most {MAX_LENGTH} characters"
        )));
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let lowered = password.to_lowercase();
    if !email.is_empty() && (lowered.contains(&email) || lowered == local) {
        return Err(ApiError::bad_input(
            "password: must not be your email address",
        ));
    }
    let joined: String = local.chars().filter(char::is_ascii_alphanumeric).collect();
    let inputs: Vec<&str> = [email.as_str(), local, joined.as_str()]
        .into_iter()
        .chain(local.split(['.', '_', '-', '+']))
        .filter(|part| part.len() >= 3)
        .collect();
    if zxcvbn::zxcvbn(password, &inputs).score() < zxcvbn::Score::Two {
        return Err(ApiError::bad_input(
            "password: too easy to guess (a common password, a repeated or sequential pattern, or your name or email); try a longer passphrase of unrelated words",
        ));
    }
    Ok(())
}

/// Hashes with argon2id and a random salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Verifies `password` against a stored hash.
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// Verifies against a throw-away hash, so an unknown email costs the same time as a wrong
/// password and response times do not reveal which emails have accounts.
pub async fn verify_nothing(password: String) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let _ = tokio::task::spawn_blocking(move || {
        let stored = DUMMY.get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(b"no password matches this", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        if let Ok(parsed) = PasswordHash::new(stored) {
            let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_repeated_and_personal_passwords_are_refused() {
        let email = "asha.rao@acme.example";
        for weak in [
            "aaaaaaaaaa",
            "password12",
            "1234567890",
            "qwertyuiop",
            "asha.rao@acme.example",
            "ASHA.RAO@acme.example!",
            "asharao123",
            "short",
        ] {
            assert!(validate(weak, email).is_err(), "{weak} was accepted");
        }
        for fine in ["a-long-password-1", "violet tractor lagoon", "k3J9x!q2Lm8#"] {
            assert!(validate(fine, email).is_ok(), "{fine} was refused");
        }
    }
}
