//! Shared state and per-request context of resolvers.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ContextBase};
use commands::{Appended, CommandBus, CommandContext};
use projections::{Notices, Position};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::jwt::JwtKeys;
use crate::auth::{Auth, Viewer};
use crate::error::{ApiError, ApiResult};

/// Process-wide state shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: PgPool,
    /// Write side.
    pub bus: Arc<CommandBus>,
    /// Notifications.
    pub notices: Notices,
    /// JWT keys.
    pub jwt: JwtKeys,
    /// Read-your-writes bound.
    pub ryw_timeout: Duration,
    /// Evidence files.
    pub files: crate::files::FileStore,
}

/// Per-request data: authentication and the request id.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext {
    /// Who is asking.
    pub auth: Auth,
    /// Request id (also the correlation id of its commands).
    pub request_id: Uuid,
}

/// Resolver helpers over `Context`.
pub(crate) trait Ctx {
    fn state(&self) -> &AppState;
    fn request(&self) -> RequestContext;
    fn command_context(&self, viewer: &Viewer) -> CommandContext {
        CommandContext::user(viewer.user_id, viewer.role, self.request().request_id)
    }
}

impl Ctx for Context<'_> {
    fn state(&self) -> &AppState {
        self.data_unchecked::<AppState>()
    }

    fn request(&self) -> RequestContext {
        request_of(self)
    }
}

/// The request's context from any resolver context (anonymous when there is none).
pub(crate) fn request_of<T>(ctx: &ContextBase<'_, T>) -> RequestContext {
    ctx.data_opt::<RequestContext>()
        .copied()
        .unwrap_or(RequestContext {
            auth: Auth::Anonymous,
            request_id: Uuid::nil(),
        })
}

impl AppState {
    /// Waits until `projections` have folded `appended`; `false` if the bound passed first.
    pub async fn caught_up(&self, projections: &[&str], appended: Appended) -> ApiResult<bool> {
        let target = Position {
            tx: appended.tx,
            position: appended.position,
        };
        projections::wait::wait_for(
            &self.pool,
            &self.notices,
            projections,
            target,
            self.ryw_timeout,
        )
        .await
        .map_err(ApiError::from)
    }
}
