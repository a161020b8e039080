//! Short-lived JWT access tokens (HS256, 15 minutes).

use chrono::Utc;
use domain::Role;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Viewer;

/// Access token lifetime.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Role name.
    pub role: String,
    /// Client of a portal user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
}

/// Signing and verification keys.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    /// Keys from the shared secret.
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// Signs an access token for `viewer`.
    pub fn issue(&self, viewer: &Viewer) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: viewer.user_id,
            role: viewer.role.as_str().to_owned(),
            client_id: viewer.client_id,
            iat: now,
            exp: now + ACCESS_TTL_SECONDS,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies a token and returns its viewer.
    pub fn verify(&self, token: &str) -> Option<Viewer> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let claims = decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        Some(Viewer {
            user_id: claims.sub,
            role: Role::parse(&claims.role)?,
            client_id: claims.client_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_a_foreign_one_is_refused() {
        let keys = JwtKeys::new("k3J9x!q2Lm8#Vb7&Pz4@Wd6^Rt1*Yh5%");
        let viewer = Viewer {
            user_id: Uuid::new_v4(),
            role: Role::Client,
            client_id: Some(Uuid::new_v4()),
        };
        let token = keys.issue(&viewer).expect("sign");
        let back = keys.verify(&token).expect("verify");
        assert_eq!(
            (back.user_id, back.role, back.client_id),
            (viewer.user_id, viewer.role, viewer.client_id)
        );
        assert!(JwtKeys::new("another-secret-another-secret-xx")
            .verify(&token)
            .is_none());
        assert!(keys.verify("not.a.token").is_none());
    }
}
