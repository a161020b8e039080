//! Safe retries: a mutation sent with an `Idempotency-Key` header runs once per key and
//! caller; a repeat answers the first outcome, byte for byte, and appends nothing, on any
//! replica and after restarts (the keys live in PostgreSQL, `idempotency_keys`).
//!
//! The key is claimed before the mutation runs and its answer stored after it. A repeat
//! while the first is still running, or after the server died between the two, finds a
//! claim without an answer and is refused with `CONFLICT` rather than run again: whether
//! the first run's events were stored is then for the caller to read, never to guess by
//! writing twice. An answer holding an `INTERNAL` error is not kept (nothing was stored
//! that the caller could see), so the key may be retried. Keys expire after 24 hours.
//!
//! No secret rests here: the authentication fields refuse the header (a credential is
//! checked on every call), and an answer that shows a secret once (an API key's token, a
//! webhook signing secret; [`crate::state::ShownOnce`]) is kept with the secret taken
//! out ([`withhold`]): a repeat answers the record and says the secret was shown once.

use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// Longest accepted key.
pub(crate) const MAX_KEY_LENGTH: usize = 255;

/// What a claim found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The key is new: run the mutation, then [`record`] its answer.
    New,
    /// The key has an answer: send it again.
    Answered(Answer),
    /// The key is claimed without an answer (running, or interrupted).
    Pending,
    /// The key was used for another request.
    Mismatch,
}

/// A stored answer: the HTTP status, the content type and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    pub content_type: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// Whether `key` is acceptable: 1 to 255 visible ASCII characters.
pub(crate) fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LENGTH).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The fingerprint of a request: its query, operation and variables.
pub(crate) fn fingerprint(request: &async_graphql::Request) -> String {
    let mut hasher = Sha256::new();
    hasher.update(request.query.as_bytes());
    hasher.update([0]);
    hasher.update(request.operation_name.as_deref().unwrap_or("").as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(&request.variables).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// The answer to keep for repeats when `answer` showed `secrets`: each value that is one of
/// them becomes null, with an error at its path saying it was shown once. `None` when there
/// is nothing to take out.
pub(crate) fn withhold(
    answer: &async_graphql::Response,
    secrets: &[String],
) -> Option<async_graphql::Response> {
    use async_graphql::{PathSegment, ServerError, Value};
    fn walk(
        value: &mut Value,
        secrets: &[String],
        path: &mut Vec<PathSegment>,
        found: &mut Vec<Vec<PathSegment>>,
    ) {
        match value {
            Value::String(text) if secrets.contains(text) => {
                *value = Value::Null;
                found.push(path.clone());
            }
            Value::List(items) => {
                for (at, item) in items.iter_mut().enumerate() {
                    path.push(PathSegment::Index(at));
                    walk(item, secrets, path, found);
                    path.pop();
                }
            }
            Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    path.push(PathSegment::Field(name.to_string()));
                    walk(field, secrets, path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    if secrets.is_empty() {
        return None;
    }
    let mut data = answer.data.clone();
    let mut found = Vec::new();
    walk(&mut data, secrets, &mut Vec::new(), &mut found);
    let mut kept = async_graphql::Response::new(data);
    kept.errors.clone_from(&answer.errors);
    kept.extensions.clone_from(&answer.extensions);
    for path in found {
        let mut error = ServerError::new(
            "this secret was shown once, in the first answer to this Idempotency-Key, and is kept nowhere: if it was lost, make a new one (rotateWebhookSecret, or createApiKey and revokeApiKey)",
            None,
        );
        error.path = path;
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "CONFLICT");
        error.extensions = Some(extensions);
        kept.errors.push(error);
    }
    Some(kept)
}

/// Claims `key` for `caller`'s request with `fingerprint`.
pub(crate) async fn claim(
    pool: &PgPool,
    caller: Uuid,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, sqlx::Error> {
    // A new key, or one expired: claimed in one statement, so two replicas cannot both win.
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys AS k (caller, key, fingerprint) VALUES ($1, $2, $3)
         ON CONFLICT (caller, key) DO UPDATE
             SET fingerprint = EXCLUDED.fingerprint, answer = NULL, claimed_at = now()
             WHERE k.claimed_at < now() - interval '24 hours'
         RETURNING true",
    )
    .bind(caller)
    .bind(key)
    .bind(fingerprint)
    .fetch_optional(pool)
    .await?;
    if claimed.is_some() {
        return Ok(Claim::New);
    }
    type Row = (String, Option<Vec<u8>>, Option<i16>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT fingerprint, answer, status, content_type FROM idempotency_keys \
          WHERE caller = $1 AND key = $2",
    )
    .bind(caller)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        // Released between the two statements (its run stored nothing): the next try runs.
        None => Claim::Pending,
        Some((known, ..)) if known != fingerprint => Claim::Mismatch,
        Some((_, Some(body), Some(status), Some(content_type))) => Claim::Answered(Answer {
            status: u16::try_from(status).unwrap_or(200),
            content_type,
            body,
        }),
        Some(_) => Claim::Pending,
    })
}

/// Stores the answer of a claimed key.
pub(crate) async fn record(
    pool: &PgPool,
    caller: Uuid,
    key: &str,
    answer: &Answer,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET answer = $3, status = $4, content_type = $5 \
          WHERE caller = $1 AND key = $2",
    )
    .bind(caller)
    .bind(key)
    .bind(&answer.body)
    .bind(i16::try_from(answer.status).unwrap_or(500))
    .bind(&answer.content_type)
    .execute(pool)
    .await?;
    Ok(())
}

/// Releases a claimed key whose mutation stored nothing, so a retry runs it.
pub(crate) async fn release(pool: &PgPool, caller: Uuid, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2")
        .bind(caller)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key("3f1c9a7e-0b5d-4c4e-9a3b-7d2e1f0a6b8c"));
        assert!(!valid_key(""));
        assert!(!valid_key("with space"));
        assert!(!valid_key("é"));
        assert!(!valid_key(&"k".repeat(MAX_KEY_LENGTH + 1)));
    }

    #[test]
    fn a_kept_answer_holds_no_secret_and_says_where_it_was() {
        let answer = async_graphql::Response::new(
            async_graphql::Value::from_json(serde_json::json!({
                "a": { "secret": "whsec_x", "endpoint": { "id": "e" } },
                "b": [{ "token": "zpk_y" }, { "token": "other" }]
            }))
            .expect("a value"),
        );
        assert!(withhold(&answer, &[]).is_none());
        let kept = withhold(&answer, &["whsec_x".into(), "zpk_y".into()]).expect("kept");
        let written = serde_json::to_string(&kept).expect("JSON");
        assert!(
            !written.contains("whsec_x") && !written.contains("zpk_y"),
            "{written}"
        );
        assert!(written.contains("\"other\""), "{written}");
        let paths: Vec<String> = kept
            .errors
            .iter()
            .map(|e| format!("{:?}", e.path))
            .collect();
        assert_eq!(paths.len(), 2);
        assert!(
            paths[0].contains("secret") && paths[1].contains("Index(0)"),
            "{paths:?}"
        );
    }

    #[test]
    fn the_fingerprint_changes_with_the_variables() {
        let a = async_graphql::Request::new(
            "mutation($n: String!) { addLeadNote(id: \"x\", body: $n) { caughtUp } }",
        );
        let b = async_graphql::Request::new(a.query.clone()).variables(
            async_graphql::Variables::from_json(serde_json::json!({ "n": "x" })),
        );
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(
            fingerprint(&a),
            fingerprint(&async_graphql::Request::new(a.query.clone()))
        );
    }
}
