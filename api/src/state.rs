//! The state every surface shares (GraphQL, the REST handlers, the router), and what a
//! request carries: who is asking, from where, and the secrets its answer shows once. It
//! imports none of the surfaces, so each of them can import it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use commands::{Appended, CommandBus};
use projections::{Notices, Position};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::jwt::JwtKeys;
use crate::auth::{api_keys, Auth};

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
    pub reactors: std::sync::Arc<[std::sync::Arc<dyn reactions::runner::Reactor>]>,
    /// Where webhook endpoints may point (checked at registration; the deliverers check
    /// again at every connection).
    pub webhook_addresses: reactions::webhooks::AddressPolicy,
    /// Where links in messages point (`PORTAL_URL`).
    pub portal_url: String,
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

    /// Records `secret` as shown by this request's answer.
    pub fn record(&self, secret: &str) {
        if let Ok(mut secrets) = self.0.lock() {
            secrets.push(secret.to_owned());
        }
    }
}

impl AppState {
    /// Who a bearer token (a session's JWT or an API key) stands for.
    pub async fn authenticate(&self, token: Option<&str>) -> Auth {
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => Auth::Anonymous,
            Some(token) if token.starts_with(api_keys::KEY_PREFIX) => {
                api_keys::authenticate(&self.pool, token).await
            }
            Some(token) => match self.jwt.verify(token) {
                Some((viewer, version)) if self.sessions.accepts(viewer.user_id, version) => {
                    Auth::User(viewer)
                }
                _ => Auth::Invalid,
            },
        }
    }

    /// Who a plain HTTP request's `Authorization: Bearer` header stands for.
    pub async fn authenticate_headers(&self, headers: &HeaderMap) -> Auth {
        let bearer = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        self.authenticate(bearer).await
    }

    /// The caller's address: from the trusted proxy's header when one is configured (the
    /// last address in it, the one the proxy itself saw), else the connection's peer.
    pub fn client_address(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
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

/// What a mutation answers after its append: the record read back once its read models
/// have folded the append, and whether they had within the bound (`caughtUp`).
#[derive(Debug)]
pub struct ReadBack<T> {
    pub record: Option<T>,
    pub caught_up: bool,
}

impl<T> ReadBack<T> {
    /// The record as the answer shows it.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> ReadBack<U> {
        ReadBack {
            record: self.record.map(f),
            caught_up: self.caught_up,
        }
    }
}

impl AppState {
    /// The protocol of every mutation after its append: wait until `read_models` have
    /// folded `appended`, then `read` the record back. The events are stored by then, so
    /// nothing here fails the mutation: a wait that timed out or failed, or a read that
    /// failed, answers `caught_up: false` (and no record, for a failed read).
    pub async fn after_append<T, E: std::fmt::Display>(
        &self,
        read_models: &[&str],
        appended: Appended,
        read: impl std::future::Future<Output = Result<Option<T>, E>>,
    ) -> ReadBack<T> {
        let mut caught_up = self.caught_up(read_models, appended).await;
        let record = read_back(read.await, &mut caught_up);
        ReadBack { record, caught_up }
    }
}

/// A read made after an append: its error cannot fail the mutation (the events are stored),
/// so it is logged and answered as "not caught up" with nothing read.
pub fn read_back<T, E: std::fmt::Display>(
    read: Result<Option<T>, E>,
    caught_up: &mut bool,
) -> Option<T> {
    read.unwrap_or_else(|error| {
        tracing::warn!(%error, "reading the answer back after the append failed");
        *caught_up = false;
        None
    })
}
