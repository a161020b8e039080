//! Cross-replica notifications: PostgreSQL LISTEN/NOTIFY fanned out in-process.
//!
//! Three channels: `zippcrm_events` (a trigger fires it when events commit; wakes the
//! projection workers), `zippcrm_checkpoint` (a worker moved a checkpoint; wakes
//! read-your-writes waiters) and `zippcrm_changes` (a read-model row changed; feeds
//! GraphQL subscriptions). Notifications are sent inside the writing transaction, so they
//! are delivered only if it commits. Everything here is a hint: waiters re-check the
//! database, and workers also poll, so a lost notification only costs latency.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::event::Position;

/// A notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// Events were appended: of these aggregate types (empty: unknown, possibly any).
    EventsAppended {
        /// Aggregate types.
        types: Vec<String>,
    },
    /// A projection's checkpoint moved.
    Checkpoint {
        /// Projection name.
        name: String,
        /// Where it moved to (sent as `name tx position`; absent in a bare name).
        position: Option<Position>,
    },
    /// A read-model record changed.
    Changed {
        /// `lead`, `client`, `project`, ...
        kind: String,
        /// Record id.
        id: Uuid,
        /// Owning client, for portal filtering.
        client_id: Option<Uuid>,
    },
}

/// The in-process fan-out of notifications.
#[derive(Debug, Clone)]
pub struct Notices {
    sender: broadcast::Sender<Notice>,
}

impl Default for Notices {
    fn default() -> Self {
        Self::new()
    }
}

impl Notices {
    /// A new, unconnected bus.
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(4096).0,
        }
    }

    /// Subscribe to every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }

    /// How many receivers are subscribed (live subscriptions and waiters).
    pub fn receiver_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Publish locally (used by the listener, and by tests).
    pub fn publish(&self, notice: Notice) {
        let _ = self.sender.send(notice);
    }

    /// Listens on the database channels until the task is dropped, reconnecting on error.
    pub async fn listen(self, pool: PgPool) {
        loop {
            if let Err(error) = self.listen_once(&pool).await {
                tracing::warn!(%error, "notification listener lost its connection; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn listen_once(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener
            .listen_all(["zippcrm_events", "zippcrm_checkpoint", "zippcrm_changes"])
            .await?;
        // Anything may have happened while we were not listening.
        self.publish(Notice::EventsAppended { types: Vec::new() });
        loop {
            let notification = listener.recv().await?;
            let notice = match notification.channel() {
                "zippcrm_events" => Some(Notice::EventsAppended {
                    types: notification
                        .payload()
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                }),
                "zippcrm_checkpoint" => Some(checkpoint_notice(notification.payload())),
                _ => serde_json::from_str(notification.payload()).ok(),
            };
            if let Some(notice) = notice {
                self.publish(notice);
            }
        }
    }
}

/// The payload of a checkpoint notice: `name tx position`.
pub fn checkpoint_payload(name: &str, at: Position) -> String {
    format!("{name} {} {}", at.tx, at.position)
}

fn checkpoint_notice(payload: &str) -> Notice {
    let mut parts = payload.split(' ');
    let name = parts.next().unwrap_or_default().to_owned();
    let position = match (
        parts.next().and_then(|p| p.parse().ok()),
        parts.next().and_then(|p| p.parse().ok()),
    ) {
        (Some(tx), Some(position)) => Some(Position { tx, position }),
        _ => None,
    };
    Notice::Checkpoint { name, position }
}

/// Sends a change notice from inside a read-model transaction.
pub async fn notify_change(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    id: Uuid,
    client_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(&Notice::Changed {
        kind: kind.to_owned(),
        id,
        client_id,
    })
    .unwrap_or_default();
    sqlx::query("SELECT pg_notify('zippcrm_changes', $1)")
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}
