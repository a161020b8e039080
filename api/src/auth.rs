//! Authentication: argon2id passwords, JWT access tokens, rotating refresh tokens, and the
//! [`Viewer`] every resolver authorizes against.

pub mod jwt;
pub mod password;
pub mod refresh;
pub mod sessions;
pub mod throttle;

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

/// The authentication state of a request.
#[derive(Debug, Clone, Copy)]
pub enum Auth {
    /// No token was sent.
    Anonymous,
    /// A token was sent but is invalid or expired.
    Invalid,
    /// A valid token.
    User(Viewer),
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
