//! What resolvers take from their `Context`: the shared state, the request, the caller.

use std::net::IpAddr;

use async_graphql::{Context, ContextBase};
use commands::CommandContext;
use uuid::Uuid;

use crate::auth::{Auth, Viewer};
use crate::error::{ApiError, Code};
use crate::state::{AppState, RequestContext, ShownOnce};

/// Records `secret` as shown once by this request's answer, and hands it back.
pub(crate) fn shown_once(ctx: &Context<'_>, secret: String) -> String {
    if let Some(shown) = ctx.data_opt::<ShownOnce>() {
        shown.record(&secret);
    }
    secret
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

/// The caller if they are a customer (a portal user). Customers see the firm's people and
/// organisation only in the narrow view that `User`, `Team` and `Department` give them on
/// every path: a person's id and display name, a team's id and name, a department's id and
/// name, and nothing of roles, membership or the rest of the tree.
pub(crate) fn customer<T>(ctx: &ContextBase<'_, T>) -> Option<Viewer> {
    match request_of(ctx).auth {
        Auth::User(viewer) if viewer.role.is_portal() => Some(viewer),
        _ => None,
    }
}

/// The caller if they are one of the firm's people (any internal role); a customer is
/// refused with `FORBIDDEN`, an anonymous caller with `UNAUTHENTICATED`.
pub(crate) fn staff<T>(ctx: &ContextBase<'_, T>) -> Result<Viewer, ApiError> {
    let viewer = request_of(ctx).auth.viewer()?;
    if viewer.role.is_portal() {
        return Err(ApiError::new(
            Code::Forbidden,
            format!("the {} role may not do this", viewer.role.as_str()),
        ));
    }
    Ok(viewer)
}

/// The request's context from any resolver context (anonymous when there is none).
pub(crate) fn request_of<T>(ctx: &ContextBase<'_, T>) -> RequestContext {
    ctx.data_opt::<RequestContext>()
        .copied()
        .unwrap_or(RequestContext {
            auth: Auth::Anonymous,
            request_id: Uuid::nil(),
            client: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        })
}
