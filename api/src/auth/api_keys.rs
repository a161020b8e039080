//! API keys: `zpk_<key id>_<secret>` tokens, shown once and kept as a hash, that stand
//! for an integration with the scopes they were given.

use chrono::Utc;
use domain::integration::Scope;
use rand::RngCore;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Auth, KeyViewer};

/// How every API key token starts: `zpk_<key id>_<secret>`.
pub const KEY_PREFIX: &str = "zpk_";

/// A new key's token (shown once) and the hash the write side keeps.
pub fn new_token(key_id: Uuid) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    let token = format!("{KEY_PREFIX}{}_{secret}", key_id.simple());
    (token, commands::users::token_hash(&secret))
}

/// The API key `token` names, if it is usable now.
pub async fn authenticate(pool: &PgPool, token: &str) -> Auth {
    let parsed = token
        .strip_prefix(KEY_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(id, secret)| Some((Uuid::try_parse(id).ok()?, secret)));
    let Some((key_id, secret)) = parsed else {
        return Auth::Invalid;
    };
    let hash = commands::users::token_hash(secret);
    match projections::integrations::usable_key(pool, key_id, &hash, Utc::now()).await {
        Ok(Some(key)) => {
            let scopes = key
                .scopes
                .iter()
                .filter_map(|s| serde_json::from_value::<Scope>(serde_json::json!(s)).ok());
            Auth::Key(KeyViewer::new(key_id, key.integration_id, scopes))
        }
        Ok(None) => Auth::Invalid,
        Err(e) if commands::unreachable(&e) => Auth::Unavailable,
        Err(e) => {
            tracing::warn!(error = %e, "API key lookup failed");
            Auth::Invalid
        }
    }
}
