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
    /// The user's token version when issued (see `sessions`).
    #[serde(default)]
    pub ver: i64,
    /// The login (refresh-token family) the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
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

    /// Signs an access token for `viewer` under token version `version`.
    pub fn issue(
        &self,
        viewer: &Viewer,
        version: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: viewer.user_id,
            role: viewer.role.as_str().to_owned(),
            client_id: viewer.client_id,
            ver: version,
            sid: viewer.session,
            iat: now,
            exp: now + ACCESS_TTL_SECONDS,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies a token's signature and expiry; returns its viewer and token version.
    pub fn verify(&self, token: &str) -> Option<(Viewer, i64)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let claims = decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        let viewer = Viewer {
            user_id: claims.sub,
            role: Role::parse(&claims.role)?,
            client_id: claims.client_id,
            session: claims.sid,
        };
        Some((viewer, claims.ver))
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
            session: Some(Uuid::new_v4()),
        };
        let token = keys.issue(&viewer, 3).expect("sign");
        let (back, version) = keys.verify(&token).expect("verify");
        assert_eq!(
            (
                back.user_id,
                back.role,
                back.client_id,
                back.session,
                version
            ),
            (
                viewer.user_id,
                viewer.role,
                viewer.client_id,
                viewer.session,
                3
            )
        );
        assert!(JwtKeys::new("another-secret-another-secret-xx")
            .verify(&token)
            .is_none());
        assert!(keys.verify("not.a.token").is_none());
    }
}
