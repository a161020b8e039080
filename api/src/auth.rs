//! Authentication: argon2id passwords, JWT access tokens, rotating refresh tokens, and the
//! [`Viewer`] every resolver authorizes against.

pub mod api_keys;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod sessions;
pub mod throttle;

use domain::integration::Scope;
use domain::{Permission, Role};
use uuid::Uuid;

use crate::error::{ApiError, Code};

/// Who is asking, from a verified access token.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: Uuid,
    pub role: Role,
    /// Client of a portal user.
    pub client_id: Option<Uuid>,
    /// The login (refresh-token family) the access token belongs to.
    pub session: Option<Uuid>,
}

/// An integration calling with an API key: which key, the integration it stands for, and
/// its scopes.
#[derive(Debug, Clone, Copy)]
pub struct KeyViewer {
    pub key_id: Uuid,
    /// The integration (platform) the key stands for: its external ids are its own.
    pub integration_id: Uuid,
    /// One bit per [`Scope`] (`1 << scope as u8`).
    scopes: u8,
}

impl KeyViewer {
    pub fn new(
        key_id: Uuid,
        integration_id: Uuid,
        scopes: impl IntoIterator<Item = Scope>,
    ) -> Self {
        let scopes = scopes.into_iter().fold(0, |bits, s| bits | 1 << s as u8);
        KeyViewer {
            key_id,
            integration_id,
            scopes,
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes & (1 << scope as u8) != 0
    }
}

/// The authentication state of a request.
#[derive(Debug, Clone, Copy)]
pub enum Auth {
    /// No token was sent.
    Anonymous,
    /// A token was sent but is invalid or expired.
    Invalid,
    /// A valid token.
    User(Viewer),
    /// A valid API key (`zpk_...`): it may do what its scopes allow and nothing else.
    Key(KeyViewer),
    /// A credential that could not be checked: the database was out of reach.
    Unavailable,
}

impl Auth {
    /// The viewer, or `UNAUTHENTICATED`.
    pub fn viewer(&self) -> Result<Viewer, ApiError> {
        match self {
            Auth::User(viewer) => Ok(*viewer),
            Auth::Anonymous => Err(ApiError::new(
                Code::Unauthenticated,
                "log in first: send 'Authorization: Bearer <access token>'",
            )),
            Auth::Invalid => Err(ApiError::new(
                Code::Unauthenticated,
                "the access token is invalid or expired; refresh it or log in again",
            )),
            Auth::Key(_) => Err(ApiError::new(
                Code::Forbidden,
                "an API key may only do what its scopes allow (time:ingest: send time entries)",
            )),
            Auth::Unavailable => Err(ApiError::unavailable("checking an API key")),
        }
    }

    /// The API key if it holds `scope`; a user session instead is `FORBIDDEN`.
    pub fn key(&self, scope: Scope) -> Result<KeyViewer, ApiError> {
        match self {
            Auth::Key(key) if key.has(scope) => Ok(*key),
            Auth::Key(_) => Err(ApiError::new(
                Code::Forbidden,
                format!("this API key lacks the scope {}", scope.as_str()),
            )),
            Auth::User(_) => Err(ApiError::new(
                Code::Forbidden,
                format!("this needs an API key with the scope {}", scope.as_str()),
            )),
            Auth::Anonymous => Err(ApiError::new(
                Code::Unauthenticated,
                "send an API key: 'Authorization: Bearer zpk_...'",
            )),
            Auth::Invalid => Err(ApiError::new(
                Code::Unauthenticated,
                "the API key is invalid, expired or revoked",
            )),
            Auth::Unavailable => Err(ApiError::unavailable("checking an API key")),
        }
    }

    /// The viewer if they hold `permission`, else `UNAUTHENTICATED` / `FORBIDDEN`.
    pub fn require(&self, permission: Permission) -> Result<Viewer, ApiError> {
        let viewer = self.viewer()?;
        if viewer.role.may(permission) {
            Ok(viewer)
        } else {
            Err(ApiError::new(
                Code::Forbidden,
                format!("the {} role may not do this", viewer.role.as_str()),
            ))
        }
    }
}

impl Viewer {
    /// Whether this viewer may see records of `client_id`.
    pub fn sees_client(&self, client_id: Uuid) -> bool {
        !self.role.is_portal() || self.client_id == Some(client_id)
    }
}
