//! Small typed values that cannot hold invalid data.
//!
//! Each `parse` trims its input and refuses what a person would call wrong, with a message
//! that names the field. Length limits keep hostile input out of the log.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Longest accepted single-line text (names, companies, subjects).
pub const MAX_LINE: usize = 200;
/// Longest accepted free text (notes, activity summaries, reasons).
pub const MAX_TEXT: usize = 10_000;

/// Trimmed, non-empty text of at most `max` characters.
pub fn required_text(
    field: &'static str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// Optional text: empty means absent, otherwise as [`required_text`].
pub fn optional_text(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => required_text(field, text, max).map(Some),
    }
}

/// A syntactically valid email address, stored lower-cased so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses `raw` as an email address (`local@domain.tld`, no spaces, at most 254 chars).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim().to_lowercase();
        let invalid = || {
            ValidationError::new(
                field,
                format!(
                    "'{}' is not a valid email address",
                    truncate(raw.trim(), 60)
                ),
            )
        };
        if email.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if email.len() > 254 {
            return Err(ValidationError::new(
                field,
                "must be at most 254 characters",
            ));
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        if !domain_ok || !local_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number: digits with optional `+`, spaces, dashes, dots and parentheses; 6 to 20 digits.
pub fn phone(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let text = raw.trim();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || !(6..=20).contains(&digits) || text.len() > 40 {
        return Err(ValidationError::new(
            field,
            "must be a phone number of 6 to 20 digits (spaces, +, -, . and parentheses allowed)",
        ));
    }
    Ok(text.to_owned())
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A currency as its ISO 4217 code (`INR`), upper-cased.
pub fn currency(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let code = raw.trim().to_uppercase();
    if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ValidationError::new(
            field,
            "must be a three-letter ISO 4217 code such as INR",
        ));
    }
    Ok(code)
}

/// Years a date given by a caller may fall in: what PostgreSQL stores. chrono parses years
/// far outside it (`-262143-01-01`), and such a date would fail the query that reads with
/// it, or the fold of the event that carries it.
pub const STORABLE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Refuses a year outside [`STORABLE_YEARS`], saying which years are allowed.
pub fn storable_year(year: i32) -> Result<(), String> {
    if STORABLE_YEARS.contains(&year) {
        Ok(())
    } else {
        Err(format!(
            "must be between the years {} and {}",
            STORABLE_YEARS.start(),
            STORABLE_YEARS.end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_emails_are_normalised_to_lower_case() {
        let email = EmailAddress::parse("email", "  Asha.Rao@Example.COM ").map(|e| e.0);
        assert_eq!(email, Ok("asha.rao@example.com".to_owned()));
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "plain",
            "a@b",
            "a@.com",
            "a b@c.com",
            "@c.com",
            "a@c..com",
            "a@c.com.",
        ] {
            assert!(EmailAddress::parse("email", raw).is_err(), "{raw} accepted");
        }
    }

    #[test]
    fn text_limits_are_enforced() {
        assert!(required_text("name", "   ", 10).is_err());
        assert!(required_text("name", &"x".repeat(11), 10).is_err());
        assert!(required_text("name", "bell\u{7}", 10).is_err());
        assert_eq!(required_text("name", " ok ", 10), Ok("ok".to_owned()));
    }

    #[test]
    fn phones_need_enough_digits() {
        assert!(phone("phone", "+91 98200 12345").is_ok());
        assert!(phone("phone", "123").is_err());
        assert!(phone("phone", "call me").is_err());
    }
}
