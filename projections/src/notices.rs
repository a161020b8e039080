//! Cross-replica notifications: PostgreSQL LISTEN/NOTIFY fanned out in-process.
//!
//! Four channels: `zippcrm_events` (a trigger fires it when events commit, naming the
//! aggregate types appended; wakes the workers that fold them), `zippcrm_checkpoint` (a
//! worker moved a checkpoint, to the position in the payload; settles read-your-writes
//! waiters), `zippcrm_changes` (a read-model row changed; feeds GraphQL subscriptions) and
//! `zippcrm_sessions` (a user's access tokens were ended; keeps every replica's token
//! versions current).
//! Notifications are sent inside the writing transaction, so they are delivered only if it
//! commits, and a checkpoint notice's position is therefore committed. A lost notification
//! only costs latency: workers also poll, and waiters re-query after a lag or on their
//! 250 ms fallback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
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
    /// A user's sessions ended: access tokens issued under an older version are refused
    /// (sent on `zippcrm_sessions`).
    SessionsEnded {
        user_id: Uuid,
        /// Their token version from now on.
        version: i64,
    },
}

/// The in-process fan-out of notifications.
///
/// Checkpoint notices also update one watch per projection, holding the newest committed
/// position heard for it (`None`: nothing heard yet, or a notice without a position).
/// Read-your-writes waiters watch only the projections they wait for, and a waiter whose
/// position was already heard needs no query at all; on the broadcast they would wake for
/// every notice of every projection and every changed row.
#[derive(Debug, Clone)]
pub struct Notices {
    sender: broadcast::Sender<Notice>,
    checkpoints: Arc<Mutex<HashMap<String, watch::Sender<Option<Position>>>>>,
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
            checkpoints: Arc::default(),
        }
    }

    /// Watches projection `name`'s checkpoint from now on.
    pub fn checkpoint(&self, name: &str) -> watch::Receiver<Option<Position>> {
        self.checkpoint_sender(name).subscribe()
    }

    fn checkpoint_sender(&self, name: &str) -> watch::Sender<Option<Position>> {
        let mut checkpoints = self
            .checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        checkpoints
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(None).0)
            .clone()
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
        if let Notice::Checkpoint { name, position } = &notice {
            let position = *position;
            self.checkpoint_sender(name).send_if_modified(|heard| {
                // Positions only move forward; a notice without one says "moved, ask".
                let newer = match (position, *heard) {
                    (Some(at), Some(was)) => at > was,
                    _ => true,
                };
                if newer {
                    *heard = position;
                }
                newer
            });
        }
        let _ = self.sender.send(notice);
    }

    /// Starts listening on the database channels, and returns once the server has accepted
    /// the `LISTEN`: whatever commits afterwards is heard. The returned future forwards
    /// notifications until it is dropped, reconnecting on error.
    pub async fn listen(
        self,
        pool: PgPool,
    ) -> Result<impl std::future::Future<Output = ()> + Send + 'static, sqlx::Error> {
        let first = connect(&pool).await?;
        Ok(async move {
            let mut listener = Some(first);
            loop {
                let result = match listener.take() {
                    Some(connected) => self.forward(connected).await,
                    None => match connect(&pool).await {
                        Ok(connected) => {
                            // Anything may have happened while we were not listening.
                            self.publish(Notice::EventsAppended { types: Vec::new() });
                            self.forward(connected).await
                        }
                        Err(error) => Err(error),
                    },
                };
                if let Err(error) = result {
                    tracing::warn!(%error, "notification listener lost its connection; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
    }

    async fn forward(&self, mut listener: PgListener) -> Result<(), sqlx::Error> {
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

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([
            "zippcrm_events",
            "zippcrm_checkpoint",
            "zippcrm_changes",
            "zippcrm_sessions",
        ])
        .await?;
    Ok(listener)
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
    notify_changes(conn, kind, &[(id, client_id)]).await
}

/// Sends one change notice per `(id, client)` in one statement, from inside a read-model
/// transaction.
pub async fn notify_changes(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    changed: &[(Uuid, Option<Uuid>)],
) -> Result<(), sqlx::Error> {
    if changed.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = changed
        .iter()
        .map(|&(id, client_id)| {
            serde_json::to_string(&Notice::Changed {
                kind: kind.to_owned(),
                id,
                client_id,
            })
            .unwrap_or_default()
        })
        .collect();
    sqlx::query("SELECT pg_notify('zippcrm_changes', payload) FROM unnest($1::text[]) AS payload")
        .bind(payloads)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod checkpoint_watch_tests {
    use super::*;

    fn at(position: i64) -> Option<Position> {
        Some(Position { tx: 1, position })
    }

    #[test]
    fn a_watch_keeps_the_newest_position_and_a_bare_notice_asks_to_look() {
        let notices = Notices::new();
        let mut leads = notices.checkpoint("leads");
        let checkpoint = |name: &str, position| Notice::Checkpoint {
            name: name.to_owned(),
            position,
        };
        notices.publish(checkpoint("leads", at(5)));
        assert!(leads.has_changed().unwrap_or(false));
        assert_eq!(*leads.borrow_and_update(), at(5));
        // An older position (a notice overtaken by a newer one) changes nothing.
        notices.publish(checkpoint("leads", at(3)));
        assert!(!leads.has_changed().unwrap_or(true));
        // Other projections do not wake this watch.
        notices.publish(checkpoint("clients", at(9)));
        assert!(!leads.has_changed().unwrap_or(true));
        assert_eq!(*notices.checkpoint("clients").borrow(), at(9));
        notices.publish(checkpoint("leads", None));
        assert!(leads.has_changed().unwrap_or(false));
        assert_eq!(*leads.borrow_and_update(), None);
        notices.publish(checkpoint("leads", at(4)));
        assert_eq!(*leads.borrow_and_update(), at(4));
    }
}
