//! The `webhook-fanout` reactor: each documented event becomes one delivery per endpoint
//! that receives it, its payload a versioned public shape per type (ADR 0013). An admin's
//! replay queues the same deliveries again for one endpoint.
//!
//! A delivery's id is derived from its endpoint and event ([`delivery_id`]): it is the
//! `webhook-id` receivers deduplicate on, the same on every attempt, redelivery and replay.
//! [`queue`] is the one writer of `webhook_deliveries`.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::ProjectEvent;
use domain::timesheet::TimesheetEvent;
use domain::webhook::EventType;
use projections::runner::decode;
use projections::StoredEvent;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::runner::{ReactionError, Reactor};

/// A stored event that becomes a documented one.
#[derive(Debug, Clone, Copy)]
pub struct Documented {
    /// Its aggregate type.
    pub aggregate_type: &'static str,
    /// Its stored event type.
    pub stored: &'static str,
    /// The documented type receivers get.
    pub event_type: EventType,
}

/// Every stored event that becomes a documented one: the fan-out reacts to these, a replay
/// reads these, and the API guide lists their documented types (a test holds the guide to
/// this table: `the_api_guide_lists_each_documented_type_once`).
pub const DOCUMENTED: [Documented; 6] = [
    Documented {
        aggregate_type: "Project",
        stored: "ProjectCreated",
        event_type: EventType::ProjectCreated,
    },
    Documented {
        aggregate_type: "Project",
        stored: "TaskAdded",
        event_type: EventType::TaskCreated,
    },
    Documented {
        aggregate_type: "Project",
        stored: "TaskAssigned",
        event_type: EventType::TaskAssigned,
    },
    Documented {
        aggregate_type: "Project",
        stored: "TaskStatusChanged",
        event_type: EventType::TaskStatusChanged,
    },
    Documented {
        aggregate_type: "Project",
        stored: "SubtaskStatusChanged",
        event_type: EventType::TaskStatusChanged,
    },
    Documented {
        aggregate_type: "Timesheet",
        stored: "TimesheetApproved",
        event_type: EventType::TimeEntriesApproved,
    },
];

/// The aggregate types of [`DOCUMENTED`], each once.
static FAN_OUT_TYPES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut types: Vec<&'static str> = DOCUMENTED.iter().map(|d| d.aggregate_type).collect();
    types.sort_unstable();
    types.dedup();
    types
});

/// The documented type `event` becomes, if it becomes one.
fn documented(event: &StoredEvent) -> Option<EventType> {
    DOCUMENTED
        .iter()
        .find(|d| d.aggregate_type == event.aggregate_type && d.stored == event.event_type)
        .map(|d| d.event_type)
}

/// The delivery of event `event_id` to endpoint `endpoint_id`: its `webhook-id` is
/// `msg_` followed by this id without dashes.
pub fn delivery_id(endpoint_id: Uuid, event_id: Uuid) -> Uuid {
    Uuid::new_v5(&endpoint_id, event_id.as_bytes())
}

/// The `webhook-id` header of a delivery.
pub fn webhook_id(delivery_id: Uuid) -> String {
    format!("msg_{}", delivery_id.simple())
}

/// A documented event: its type and the `data` of its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub event_type: EventType,
    pub data: Value,
}

impl Outgoing {
    /// The body receivers get: `{type, version, timestamp, data}`, the timestamp being
    /// when the event was recorded.
    pub fn payload(&self, recorded_at: DateTime<Utc>) -> Value {
        json!({
            "type": self.event_type.as_str(),
            "version": self.event_type.version(),
            "timestamp": recorded_at,
            "data": self.data,
        })
    }
}

/// An approved entry as `time_entries.approved` lists it.
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
struct ApprovedEntry {
    entry_id: Uuid,
    user_id: Uuid,
    date: NaiveDate,
    minutes: i32,
    billable: bool,
    description: String,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    service_item_id: Option<Uuid>,
}

/// The documented event `event` is, if it is one. Reads the effort read model for the
/// entries an approval names (the reactor runs after it).
pub async fn outgoing(
    pool: &PgPool,
    event: &StoredEvent,
) -> Result<Option<Outgoing>, ReactionError> {
    let Some(event_type) = documented(event) else {
        return Ok(None);
    };
    let Some(id) = event.aggregate_uuid() else {
        return Ok(None);
    };
    let data = match event.aggregate_type.as_str() {
        "Project" => match decode(event)? {
            ProjectEvent::ProjectCreated {
                client_id,
                name,
                template,
                ..
            } => json!({
                "project_id": id,
                "client_id": client_id,
                "name": name,
                "template_id": template.template_id,
                "template_version": template.version,
            }),
            ProjectEvent::TaskAdded {
                task_id,
                stage,
                title,
                assignee,
                priority,
                due_on,
                estimate_hours,
                ..
            } => json!({
                "project_id": id,
                "task_id": task_id,
                "stage": stage,
                "title": title,
                "assignee_id": assignee,
                "priority": priority,
                "due_on": due_on,
                "estimate_hours": estimate_hours,
            }),
            ProjectEvent::TaskAssigned {
                task_id,
                subtask_id,
                assignee,
                ..
            } => json!({
                "project_id": id,
                "task_id": task_id,
                "subtask_id": subtask_id,
                "assignee_id": assignee,
            }),
            ProjectEvent::TaskStatusChanged {
                task_id, status, ..
            } => {
                json!({"project_id": id, "task_id": task_id, "subtask_id": null, "status": status})
            }
            ProjectEvent::SubtaskStatusChanged {
                task_id,
                subtask_id,
                status,
                ..
            } => {
                json!({"project_id": id, "task_id": task_id, "subtask_id": subtask_id, "status": status})
            }
            _ => return Ok(None),
        },
        "Timesheet" => match decode(event)? {
            TimesheetEvent::TimesheetApproved { entry_ids, by, .. } => {
                let entries: Vec<ApprovedEntry> = sqlx::query_as(
                    "SELECT entry_id, user_id, date, minutes, billable, description, project_id, task_id, \
                            service_item_id FROM time_entries WHERE entry_id = ANY($1) ORDER BY date, entry_id",
                )
                .bind(&entry_ids)
                .fetch_all(pool)
                .await?;
                json!({"approved_by": by, "entries": entries})
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Outgoing { event_type, data }))
}

/// Who gets an event's deliveries.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Every enabled endpoint that receives its type and was registered before it; a
    /// delivery made before stays as it is.
    Subscribers,
    /// One endpoint replaying the log, if it receives the type: queued again if it was
    /// delivered before, under the same id.
    Replay(Uuid),
}

/// Queues the deliveries of `event` to `target`. Returns how many were queued.
pub async fn queue(
    pool: &PgPool,
    event: &StoredEvent,
    outgoing: &Outgoing,
    target: Target,
) -> Result<u64, sqlx::Error> {
    let (replay, endpoint) = match target {
        Target::Subscribers => (false, None),
        Target::Replay(endpoint) => (true, Some(endpoint)),
    };
    let endpoints: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM webhook_endpoints \
          WHERE enabled AND ($4 OR registered_position < $1) AND role = ANY($2) \
            AND (cardinality(event_types) = 0 OR $3 = ANY(event_types)) \
            AND ($5::uuid IS NULL OR id = $5)",
    )
    .bind(event.global_position)
    .bind(outgoing.event_type.roles())
    .bind(outgoing.event_type.as_str())
    .bind(replay)
    .bind(endpoint)
    .fetch_all(pool)
    .await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = endpoints
        .iter()
        .map(|endpoint| delivery_id(*endpoint, event.event_id))
        .collect();
    let on_conflict = if replay {
        "DO UPDATE SET status = 'queued', attempts = 0, next_attempt_at = now(), claimed_at = NULL, \
                       updated_at = now() WHERE webhook_deliveries.status <> 'sending'"
    } else {
        "DO NOTHING"
    };
    let queued = sqlx::query(&format!(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_position, event_type, payload, committed_at) \
         SELECT id, endpoint_id, $3, $4, $5, $6, $7 FROM UNNEST($1::uuid[], $2::uuid[]) AS d(id, endpoint_id) \
         ON CONFLICT (endpoint_id, event_id) {on_conflict}"
    ))
    .bind(&ids)
    .bind(&endpoints)
    .bind(event.event_id)
    .bind(event.global_position)
    .bind(outgoing.event_type.as_str())
    .bind(outgoing.payload(event.recorded_at))
    .bind(event.recorded_at)
    .execute(pool)
    .await?;
    Ok(queued.rows_affected())
}

/// Most events one replay call reads; the answer says where to go on.
pub const REPLAY_EVENTS: i64 = 5_000;

/// Where the log may be replayed from.
#[derive(Debug, Clone, Copy)]
pub enum Since {
    /// From this global position on (inclusive).
    Position(i64),
    /// Events recorded at or after this instant.
    Time(DateTime<Utc>),
}

/// What one replay call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Documented events read.
    pub events: u64,
    /// Deliveries queued for the endpoint.
    pub queued: u64,
    /// Where the next call goes on, when there is more to replay.
    pub next_position: Option<i64>,
}

/// Queues again, for `endpoint_id`, every event it receives since `since` that the fan-out
/// reactor has already passed, up to [`REPLAY_EVENTS`] documented events.
pub async fn replay(
    pool: &PgPool,
    endpoint_id: Uuid,
    since: Since,
) -> Result<Replayed, ReactionError> {
    let (position, time) = match since {
        Since::Position(position) => (position, None),
        Since::Time(time) => (0, Some(time)),
    };
    let events: Vec<StoredEvent> = sqlx::query_as(&format!(
        "SELECT {} FROM events \
          WHERE global_position >= $1 AND ($2::timestamptz IS NULL OR recorded_at >= $2) \
            AND aggregate_type = ANY($6) AND event_type = ANY($3) \
            AND global_position <= (SELECT last_position FROM projection_checkpoints WHERE name = $4) \
          ORDER BY global_position LIMIT $5",
        projections::event::EVENT_COLUMNS
    ))
    .bind(position)
    .bind(time)
    .bind(DOCUMENTED.iter().map(|d| d.stored).collect::<Vec<_>>())
    .bind(WebhookFanOut::NAME)
    .bind(REPLAY_EVENTS + 1)
    .bind(&FAN_OUT_TYPES[..])
    .fetch_all(pool)
    .await?;
    let more = events.len() > usize::try_from(REPLAY_EVENTS).unwrap_or(usize::MAX);
    let mut replayed = Replayed {
        events: 0,
        queued: 0,
        next_position: None,
    };
    for event in events
        .iter()
        .take(usize::try_from(REPLAY_EVENTS).unwrap_or(usize::MAX))
    {
        if let Some(outgoing) = outgoing(pool, event).await? {
            replayed.events += 1;
            replayed.queued += queue(pool, event, &outgoing, Target::Replay(endpoint_id)).await?;
        }
    }
    if more {
        replayed.next_position = events.last().map(|e| e.global_position);
    }
    crate::courier::wake(pool, &super::DELIVERIES).await?;
    Ok(replayed)
}

/// Turns each documented event into its deliveries, keyed by endpoint and event, so a
/// reaction run again queues nothing twice.
#[derive(Debug)]
pub struct WebhookFanOut {
    /// Where the endpoints and deliveries are.
    pub pool: PgPool,
}

impl WebhookFanOut {
    /// Persisted name.
    pub const NAME: &'static str = "webhook-fanout";
}

#[async_trait]
impl Reactor for WebhookFanOut {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &FAN_OUT_TYPES[..]
    }

    fn after(&self) -> &'static [&'static str] {
        &[projections::webhooks::NAME, projections::effort::NAME]
    }

    /// Receivers get no order across events (at-least-once, retries), so streams fan out
    /// side by side; one stream's deliveries are still queued in its order.
    fn partition(&self, event: &StoredEvent) -> u128 {
        event.aggregate_uuid().map_or(0, |id| id.as_u128())
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        if let Some(outgoing) = outgoing(&self.pool, event).await? {
            queue(&self.pool, event, &outgoing, Target::Subscribers).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented types of the API guide's payload table, in its order.
    fn guide_types() -> Vec<String> {
        let guide = include_str!("../../../docs/api.md");
        let table = guide
            .split("**Payloads**")
            .nth(1)
            .expect("the guide has a Payloads paragraph");
        table
            .lines()
            .skip_while(|line| !line.starts_with("| type |"))
            .skip(2)
            .take_while(|line| line.starts_with("| `"))
            .filter_map(|line| line.split('`').nth(1).map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_api_guide_lists_each_documented_type_once() {
        let mut documented: Vec<String> = Vec::new();
        for d in DOCUMENTED {
            let name = d.event_type.as_str().to_owned();
            if !documented.contains(&name) {
                documented.push(name);
            }
        }
        assert_eq!(guide_types(), documented);
    }
}
