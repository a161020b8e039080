//! Shared state and per-request context of resolvers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ContextBase};
use commands::{Appended, CommandBus, CommandContext};
use projections::{Notices, Position};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::jwt::JwtKeys;
use crate::auth::{Auth, Viewer};

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
    /// Token versions (ended sessions).
    pub sessions: crate::auth::sessions::Sessions,
    /// Read-your-writes bound.
    pub ryw_timeout: Duration,
    /// Evidence files.
    pub files: crate::files::FileStore,
    /// Whether anonymous and portal callers may introspect (outside production).
    pub public_introspection: bool,
    /// `ZIPPCRM_CLIENT_IP_HEADER`: the header a trusted proxy puts the caller's address in.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// The reactors this server runs (an admin's retry runs one in the request).
    pub reactors: std::sync::Arc<[std::sync::Arc<dyn projections::reactor::Reactor>]>,
    /// Where webhook endpoints may point (checked at registration; the deliverers check
    /// again at every connection).
    pub webhook_addresses: crate::webhooks::AddressPolicy,
    /// Whether WhatsApp messages are sent (people may opt in).
    pub whatsapp_enabled: bool,
}

/// Per-request data: authentication and the request id.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext {
    /// Who is asking.
    pub auth: Auth,
    /// Request id (also the correlation id of its commands).
    pub request_id: Uuid,
    /// The caller's address (throttling counts per address too).
    pub client: IpAddr,
}

/// The secrets a request's answer shows once (an API key's token, a webhook signing
/// secret), recorded by their resolvers when the request runs under an `Idempotency-Key`,
/// so that the answer kept for repeats keeps none of them.
#[derive(Debug, Clone, Default)]
pub struct ShownOnce(Arc<std::sync::Mutex<Vec<String>>>);

impl ShownOnce {
    /// The secrets recorded.
    pub fn secrets(&self) -> Vec<String> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Records `secret` as shown once by this request's answer, and hands it back.
pub(crate) fn shown_once(ctx: &Context<'_>, secret: String) -> String {
    if let Some(shown) = ctx.data_opt::<ShownOnce>() {
        if let Ok(mut secrets) = shown.0.lock() {
            secrets.push(secret.clone());
        }
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

impl AppState {
    /// The caller's address: from the trusted proxy's header when one is configured (the
    /// last address in it, the one the proxy itself saw), else the connection's peer.
    pub fn client_address(&self, headers: &axum::http::HeaderMap, peer: SocketAddr) -> IpAddr {
        self.client_ip_header
            .as_ref()
            .and_then(|name| headers.get(name)?.to_str().ok())
            .and_then(|value| value.rsplit(',').next()?.trim().parse().ok())
            .unwrap_or(peer.ip())
    }

    /// Waits until `projections` have folded `appended`; `false` if the bound passed first.
    /// The events are stored by then, so nothing here may fail the mutation: a database
    /// error while waiting (a connection lost in a PostgreSQL restart, say) is logged and
    /// answered as not caught up.
    pub async fn caught_up(&self, projections: &[&str], appended: Appended) -> bool {
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
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "read-your-writes wait failed after the append");
            false
        })
    }
}

/// A read made after an append: its error cannot fail the mutation (the events are stored),
/// so it is logged and answered as "not caught up" with nothing read.
pub fn read_back<T>(read: Result<Option<T>, sqlx::Error>, caught_up: &mut bool) -> Option<T> {
    read.unwrap_or_else(|error| {
        tracing::warn!(%error, "reading the answer back after the append failed");
        *caught_up = false;
        None
    })
}
