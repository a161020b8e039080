//! The saved mappings from the platform's people and references to ours (one stream).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{normalized, IntegrationError};
use crate::timesheet::WorkRef;
use crate::values::{self, MAX_LINE};

/// Saved mappings: the platform's users (by their normalized reference) to ours, and its
/// matter references to ours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mappings {
    pub users: BTreeMap<String, Uuid>,
    pub matters: BTreeMap<String, WorkRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MappingCommand {
    SaveUser {
        external: String,
        user_id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    },
    SaveMatter {
        external: String,
        work: WorkRef,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MappingEvent {
    ExternalUserMapped {
        external: String,
        user_id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ExternalMatterMapped {
        external: String,
        work: WorkRef,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for MappingEvent {
    fn event_type(&self) -> String {
        match self {
            MappingEvent::ExternalUserMapped { .. } => "ExternalUserMapped",
            MappingEvent::ExternalMatterMapped { .. } => "ExternalMatterMapped",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for MappingEvent {}

impl Mappings {
    /// What `reference` maps to, if saved: a user and a matter.
    pub fn lookup(&self, user_ref: &str, matter_ref: &str) -> (Option<Uuid>, Option<WorkRef>) {
        (
            self.users.get(&normalized(user_ref)).copied(),
            self.matters.get(&normalized(matter_ref)).copied(),
        )
    }

    pub fn decide(&self, command: MappingCommand) -> Result<Vec<MappingEvent>, IntegrationError> {
        let key = |external: &str| -> Result<String, IntegrationError> {
            let text = values::required_text("external", external, MAX_LINE)?;
            Ok(normalized(&text))
        };
        Ok(match command {
            MappingCommand::SaveUser {
                external,
                user_id,
                by,
                at,
            } => {
                let external = key(&external)?;
                if self.users.get(&external) == Some(&user_id) {
                    return Ok(Vec::new());
                }
                vec![MappingEvent::ExternalUserMapped {
                    external,
                    user_id,
                    by,
                    at,
                }]
            }
            MappingCommand::SaveMatter {
                external,
                work,
                by,
                at,
            } => {
                let external = key(&external)?;
                if self.matters.get(&external) == Some(&work) {
                    return Ok(Vec::new());
                }
                vec![MappingEvent::ExternalMatterMapped {
                    external,
                    work,
                    by,
                    at,
                }]
            }
        })
    }
}

impl Aggregate for Mappings {
    /// Persisted identifier.
    const TYPE: &'static str = "ExternalMappings";
    type Command = MappingCommand;
    type Event = MappingEvent;
    type Error = IntegrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: MappingCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), IntegrationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: MappingEvent) {
        match event {
            MappingEvent::ExternalUserMapped {
                external, user_id, ..
            } => {
                self.users.insert(external, user_id);
            }
            MappingEvent::ExternalMatterMapped { external, work, .. } => {
                self.matters.insert(external, work);
            }
        }
    }
}
