//! Admins' decisions on the events a reactor parked: retried, or skipped with a reason.
//!
//! Which events are parked is the reactor's bookkeeping (`reactor_parked`); what an admin
//! decided about one is history, kept here, one stream per reactor.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, MAX_TEXT};
use crate::{ErrorKind, Rejection, ValidationError};

/// The stream of `reactor`'s decisions.
pub fn stream_id(reactor: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("zippcrm-reactor:{reactor}").as_bytes(),
    )
}

/// The decisions on one reactor's parked events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParkedReactions {
    /// Events settled: retried successfully, or skipped.
    pub settled: BTreeSet<Uuid>,
}

/// Decisions on a parked event.
#[derive(Debug, Clone, PartialEq)]
pub enum ReactionCommand {
    /// Record a retry an admin asked for, and how it went.
    RecordRetry {
        reactor: String,
        event_id: Uuid,
        /// The retry's error, if it failed again.
        error: Option<String>,
        at: DateTime<Utc>,
    },
    /// Give up on the event.
    Skip {
        reactor: String,
        event_id: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
}

/// What was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReactionEvent {
    /// An admin retried a parked event.
    ParkedReactionRetried {
        reactor: String,
        event_id: Uuid,
        /// Its error when it failed again; `None`: it succeeded.
        error: Option<String>,
        at: DateTime<Utc>,
    },
    /// An admin skipped a parked event: it will not be reacted to.
    ParkedReactionSkipped {
        reactor: String,
        event_id: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for ReactionEvent {
    fn event_type(&self) -> String {
        match self {
            ReactionEvent::ParkedReactionRetried { .. } => "ParkedReactionRetried",
            ReactionEvent::ParkedReactionSkipped { .. } => "ParkedReactionSkipped",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for ReactionEvent {}

/// Why a decision was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReactionError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Retried successfully or skipped before.
    #[error("this event was already settled: retried successfully or skipped")]
    Settled,
}

impl Rejection for ReactionError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReactionError::Settled => ErrorKind::Conflict,
            ReactionError::Invalid(_) => ErrorKind::Invalid,
        }
    }
}

impl ParkedReactions {
    /// Decides a command: the events to append.
    pub fn decide(&self, command: ReactionCommand) -> Result<Vec<ReactionEvent>, ReactionError> {
        let event = match command {
            ReactionCommand::RecordRetry {
                reactor,
                event_id,
                error,
                at,
            } => {
                if self.settled.contains(&event_id) {
                    return Err(ReactionError::Settled);
                }
                ReactionEvent::ParkedReactionRetried {
                    reactor,
                    event_id,
                    error,
                    at,
                }
            }
            ReactionCommand::Skip {
                reactor,
                event_id,
                reason,
                at,
            } => {
                if self.settled.contains(&event_id) {
                    return Err(ReactionError::Settled);
                }
                ReactionEvent::ParkedReactionSkipped {
                    reactor,
                    event_id,
                    reason: values::required_text("reason", &reason, MAX_TEXT)?,
                    at,
                }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for ParkedReactions {
    /// Persisted identifier.
    const TYPE: &'static str = "Reactor";
    type Command = ReactionCommand;
    type Event = ReactionEvent;
    type Error = ReactionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ReactionCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ReactionError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ReactionEvent) {
        match event {
            ReactionEvent::ParkedReactionRetried {
                event_id, error, ..
            } => {
                if error.is_none() {
                    self.settled.insert(event_id);
                }
            }
            ReactionEvent::ParkedReactionSkipped { event_id, .. } => {
                self.settled.insert(event_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("time")
    }

    #[test]
    fn a_failed_retry_leaves_the_event_open_and_a_skip_settles_it() {
        let event_id = Uuid::from_u128(7);
        let mut state = ParkedReactions::default();
        let retried = state
            .decide(ReactionCommand::RecordRetry {
                reactor: "r".into(),
                event_id,
                error: Some("down".into()),
                at: at(),
            })
            .expect("recorded");
        retried.into_iter().for_each(|e| state.apply(e));
        assert!(state.settled.is_empty());
        let blank = state.decide(ReactionCommand::Skip {
            reactor: "r".into(),
            event_id,
            reason: "  ".into(),
            at: at(),
        });
        assert!(matches!(blank, Err(ReactionError::Invalid(_))), "{blank:?}");
        let skipped = state
            .decide(ReactionCommand::Skip {
                reactor: "r".into(),
                event_id,
                reason: "customer left".into(),
                at: at(),
            })
            .expect("skipped");
        skipped.into_iter().for_each(|e| state.apply(e));
        assert_eq!(
            state.decide(ReactionCommand::Skip {
                reactor: "r".into(),
                event_id,
                reason: "again".into(),
                at: at(),
            }),
            Err(ReactionError::Settled)
        );
    }
}
