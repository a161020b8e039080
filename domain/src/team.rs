//! The firm's organisation: departments, and teams with their managers and members.
//!
//! A user may be in several teams. Whether someone manages a consultant is a question of
//! teams: a manager of any team the consultant is a member of ([`Team::manages`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{self, MAX_LINE};
use crate::{ErrorKind, Rejection, ValidationError};

/// The departments every installation starts with.
pub const SEEDED_DEPARTMENTS: [&str; 5] = [
    "Sales",
    "Support",
    "IT",
    "Client Services",
    "Administration",
];

/// The id of the seeded department `name`: the same on every installation.
pub fn seeded_department_id(name: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("zippcrm-department:{name}").as_bytes(),
    )
}

/// Why an organisation command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TeamError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

impl Rejection for TeamError {
    fn kind(&self) -> ErrorKind {
        match self {
            TeamError::Invalid(_) => ErrorKind::Invalid,
            TeamError::AlreadyExists(_) | TeamError::Conflict(_) => ErrorKind::Conflict,
            TeamError::NotFound(_) => ErrorKind::NotFound,
        }
    }
}

/// A department.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: Option<Uuid>,
    pub name: String,
}

/// Department commands.
#[derive(Debug, Clone, PartialEq)]
pub enum DepartmentCommand {
    Create {
        department_id: Uuid,
        name: String,
        at: DateTime<Utc>,
    },
    Rename {
        name: String,
        at: DateTime<Utc>,
    },
}

/// Department events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DepartmentEvent {
    DepartmentCreated {
        department_id: Uuid,
        name: String,
        at: DateTime<Utc>,
    },
    DepartmentRenamed {
        name: String,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for DepartmentEvent {
    fn event_type(&self) -> String {
        match self {
            DepartmentEvent::DepartmentCreated { .. } => "DepartmentCreated",
            DepartmentEvent::DepartmentRenamed { .. } => "DepartmentRenamed",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for DepartmentEvent {}

impl Department {
    /// Decides a command: the events to append.
    pub fn decide(&self, command: DepartmentCommand) -> Result<Vec<DepartmentEvent>, TeamError> {
        match command {
            DepartmentCommand::Create {
                department_id,
                name,
                at,
            } => {
                if self.id.is_some() {
                    return Err(TeamError::AlreadyExists("the department"));
                }
                let name = values::required_text("name", &name, MAX_LINE)?;
                Ok(vec![DepartmentEvent::DepartmentCreated {
                    department_id,
                    name,
                    at,
                }])
            }
            DepartmentCommand::Rename { name, at } => {
                if self.id.is_none() {
                    return Err(TeamError::NotFound("department not found".into()));
                }
                let name = values::required_text("name", &name, MAX_LINE)?;
                if name == self.name {
                    return Ok(Vec::new());
                }
                Ok(vec![DepartmentEvent::DepartmentRenamed { name, at }])
            }
        }
    }
}

impl Aggregate for Department {
    /// Persisted identifier.
    const TYPE: &'static str = "Department";
    type Command = DepartmentCommand;
    type Event = DepartmentEvent;
    type Error = TeamError;
    type Services = ();

    async fn handle(
        &mut self,
        command: DepartmentCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TeamError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: DepartmentEvent) {
        match event {
            DepartmentEvent::DepartmentCreated {
                department_id,
                name,
                ..
            } => {
                self.id = Some(department_id);
                self.name = name;
            }
            DepartmentEvent::DepartmentRenamed { name, .. } => self.name = name,
        }
    }
}

/// A team: its department, and each member with whether they manage it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: Option<Uuid>,
    pub name: String,
    pub department_id: Option<Uuid>,
    /// Member to whether they are one of the team's managers.
    pub members: BTreeMap<Uuid, bool>,
}

impl Team {
    /// Whether `manager` manages `member` through this team: a manager of the team, and
    /// `member` one of its members (never themself).
    pub fn manages(&self, manager: Uuid, member: Uuid) -> bool {
        manager != member
            && self.members.get(&manager) == Some(&true)
            && self.members.contains_key(&member)
    }
}

/// Team commands. Whether the department and the users exist, and whether a user may be
/// in a team (internal users only), is checked before a command is issued.
#[derive(Debug, Clone, PartialEq)]
pub enum TeamCommand {
    Create {
        team_id: Uuid,
        name: String,
        department_id: Uuid,
        at: DateTime<Utc>,
    },
    Rename {
        name: String,
        at: DateTime<Utc>,
    },
    MoveToDepartment {
        department_id: Uuid,
        at: DateTime<Utc>,
    },
    AddMember {
        user_id: Uuid,
        /// Whether they manage the team.
        manager: bool,
        at: DateTime<Utc>,
    },
    SetManager {
        user_id: Uuid,
        manager: bool,
        at: DateTime<Utc>,
    },
    RemoveMember {
        user_id: Uuid,
        at: DateTime<Utc>,
    },
}

/// Team events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TeamEvent {
    TeamCreated {
        team_id: Uuid,
        name: String,
        department_id: Uuid,
        at: DateTime<Utc>,
    },
    TeamRenamed {
        name: String,
        at: DateTime<Utc>,
    },
    TeamMovedToDepartment {
        department_id: Uuid,
        at: DateTime<Utc>,
    },
    TeamMemberAdded {
        user_id: Uuid,
        manager: bool,
        at: DateTime<Utc>,
    },
    /// A member became, or stopped being, one of the team's managers.
    TeamManagerChanged {
        user_id: Uuid,
        manager: bool,
        at: DateTime<Utc>,
    },
    TeamMemberRemoved {
        user_id: Uuid,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for TeamEvent {
    fn event_type(&self) -> String {
        match self {
            TeamEvent::TeamCreated { .. } => "TeamCreated",
            TeamEvent::TeamRenamed { .. } => "TeamRenamed",
            TeamEvent::TeamMovedToDepartment { .. } => "TeamMovedToDepartment",
            TeamEvent::TeamMemberAdded { .. } => "TeamMemberAdded",
            TeamEvent::TeamManagerChanged { .. } => "TeamManagerChanged",
            TeamEvent::TeamMemberRemoved { .. } => "TeamMemberRemoved",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for TeamEvent {}

/// At most this many members in a team.
pub const MAX_MEMBERS: usize = 500;

impl Team {
    fn member(&self, user_id: Uuid) -> Result<bool, TeamError> {
        self.members
            .get(&user_id)
            .copied()
            .ok_or_else(|| TeamError::NotFound("this user is not a member of the team".into()))
    }

    /// Decides a command: the events to append.
    pub fn decide(&self, command: TeamCommand) -> Result<Vec<TeamEvent>, TeamError> {
        use TeamCommand as C;
        match (&self.id, &command) {
            (Some(_), C::Create { .. }) => return Err(TeamError::AlreadyExists("the team")),
            (None, C::Create { .. }) => {}
            (None, _) => return Err(TeamError::NotFound("team not found".into())),
            (Some(_), _) => {}
        }
        let event = match command {
            C::Create {
                team_id,
                name,
                department_id,
                at,
            } => TeamEvent::TeamCreated {
                team_id,
                name: values::required_text("name", &name, MAX_LINE)?,
                department_id,
                at,
            },
            C::Rename { name, at } => {
                let name = values::required_text("name", &name, MAX_LINE)?;
                if name == self.name {
                    return Ok(Vec::new());
                }
                TeamEvent::TeamRenamed { name, at }
            }
            C::MoveToDepartment { department_id, at } => {
                if self.department_id == Some(department_id) {
                    return Ok(Vec::new());
                }
                TeamEvent::TeamMovedToDepartment { department_id, at }
            }
            C::AddMember {
                user_id,
                manager,
                at,
            } => {
                if self.members.contains_key(&user_id) {
                    return Err(TeamError::Conflict(
                        "this user is already a member of the team".into(),
                    ));
                }
                if self.members.len() >= MAX_MEMBERS {
                    return Err(
                        ValidationError::new("userId", "a team has at most 500 members").into(),
                    );
                }
                TeamEvent::TeamMemberAdded {
                    user_id,
                    manager,
                    at,
                }
            }
            C::SetManager {
                user_id,
                manager,
                at,
            } => {
                if self.member(user_id)? == manager {
                    return Ok(Vec::new());
                }
                TeamEvent::TeamManagerChanged {
                    user_id,
                    manager,
                    at,
                }
            }
            C::RemoveMember { user_id, at } => {
                self.member(user_id)?;
                TeamEvent::TeamMemberRemoved { user_id, at }
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for Team {
    /// Persisted identifier.
    const TYPE: &'static str = "Team";
    type Command = TeamCommand;
    type Event = TeamEvent;
    type Error = TeamError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TeamCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TeamError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: TeamEvent) {
        match event {
            TeamEvent::TeamCreated {
                team_id,
                name,
                department_id,
                ..
            } => {
                self.id = Some(team_id);
                self.name = name;
                self.department_id = Some(department_id);
            }
            TeamEvent::TeamRenamed { name, .. } => self.name = name,
            TeamEvent::TeamMovedToDepartment { department_id, .. } => {
                self.department_id = Some(department_id);
            }
            TeamEvent::TeamMemberAdded {
                user_id, manager, ..
            }
            | TeamEvent::TeamManagerChanged {
                user_id, manager, ..
            } => {
                self.members.insert(user_id, manager);
            }
            TeamEvent::TeamMemberRemoved { user_id, .. } => {
                self.members.remove(&user_id);
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

    const MANAGER: Uuid = Uuid::from_u128(1);
    const CONSULTANT: Uuid = Uuid::from_u128(2);

    /// Given `given`, when `command`: the events, folded into the state.
    fn when(state: &mut Team, command: TeamCommand) -> Result<Vec<TeamEvent>, TeamError> {
        let events = state.decide(command)?;
        for event in &events {
            state.apply(event.clone());
        }
        Ok(events)
    }

    fn team() -> Team {
        let mut team = Team::default();
        when(
            &mut team,
            TeamCommand::Create {
                team_id: Uuid::from_u128(9),
                name: " GST desk ".into(),
                department_id: seeded_department_id("Client Services"),
                at: at(),
            },
        )
        .expect("created");
        team
    }

    #[test]
    fn a_team_is_created_once_with_a_name() {
        let mut blank = Team::default();
        let refused = when(
            &mut blank,
            TeamCommand::Create {
                team_id: Uuid::from_u128(9),
                name: "  ".into(),
                department_id: Uuid::from_u128(3),
                at: at(),
            },
        );
        assert!(matches!(refused, Err(TeamError::Invalid(_))), "{refused:?}");
        let mut team = team();
        assert_eq!(team.name, "GST desk");
        let again = when(
            &mut team,
            TeamCommand::Create {
                team_id: Uuid::from_u128(9),
                name: "Other".into(),
                department_id: Uuid::from_u128(3),
                at: at(),
            },
        );
        assert_eq!(again, Err(TeamError::AlreadyExists("the team")));
        let missing = Team::default().decide(TeamCommand::Rename {
            name: "x".into(),
            at: at(),
        });
        assert!(matches!(missing, Err(TeamError::NotFound(_))));
    }

    #[test]
    fn a_manager_manages_the_members_of_their_team_and_no_one_else() {
        let mut team = team();
        let add = |user_id, manager| TeamCommand::AddMember {
            user_id,
            manager,
            at: at(),
        };
        when(&mut team, add(MANAGER, true)).expect("manager added");
        assert!(!team.manages(MANAGER, CONSULTANT), "not a member yet");
        when(&mut team, add(CONSULTANT, false)).expect("consultant added");
        assert!(team.manages(MANAGER, CONSULTANT));
        assert!(
            !team.manages(CONSULTANT, MANAGER),
            "a member manages no one"
        );
        assert!(!team.manages(MANAGER, MANAGER), "never themself");
        assert!(matches!(
            when(&mut team, add(CONSULTANT, true)),
            Err(TeamError::Conflict(_))
        ));

        // Demoted, the manager manages no one; an unchanged role is no event.
        let demote = TeamCommand::SetManager {
            user_id: MANAGER,
            manager: false,
            at: at(),
        };
        assert_eq!(when(&mut team, demote.clone()).expect("demoted").len(), 1);
        assert_eq!(when(&mut team, demote), Ok(Vec::new()));
        assert!(!team.manages(MANAGER, CONSULTANT));

        // Removed, they are no member; removing again is refused.
        let remove = TeamCommand::RemoveMember {
            user_id: CONSULTANT,
            at: at(),
        };
        when(&mut team, remove.clone()).expect("removed");
        assert!(matches!(
            when(&mut team, remove),
            Err(TeamError::NotFound(_))
        ));
    }

    #[test]
    fn departments_are_seeded_with_stable_ids_and_renamed_by_event() {
        let id = seeded_department_id("Support");
        assert_eq!(id, seeded_department_id("Support"));
        assert_ne!(id, seeded_department_id("Sales"));
        let mut department = Department::default();
        for event in department
            .decide(DepartmentCommand::Create {
                department_id: id,
                name: "Support".into(),
                at: at(),
            })
            .expect("created")
        {
            department.apply(event);
        }
        let same = department.decide(DepartmentCommand::Rename {
            name: "Support".into(),
            at: at(),
        });
        assert_eq!(same, Ok(Vec::new()));
        let renamed = department
            .decide(DepartmentCommand::Rename {
                name: "Customer Support".into(),
                at: at(),
            })
            .expect("renamed");
        assert_eq!(renamed.len(), 1);
    }
}
