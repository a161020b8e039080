//! Roles and the permission matrix.
//!
//! Roles are data (stored on the user as their persisted name); what each may do is this one
//! matrix, checked by the API before any command or query runs.

use serde::{Deserialize, Serialize};

/// A user's role. The serialized names are persisted identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including user management and settings.
    Admin,
    /// Leads and clients.
    Sales,
    /// Clients, projects and document requests.
    Support,
    /// Routes work, approves gates and effort.
    Manager,
    /// Works assigned tasks and logs time.
    Consultant,
    /// Reviews uploads, approves effort and rule changes.
    Reviewer,
    /// Reads everything including event history; changes nothing.
    Auditor,
    /// A customer's portal user: their own client's records only.
    Client,
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadLeads,
    /// Capture and work leads.
    WriteLeads,
    /// Convert a won lead into a client.
    ConvertLeads,
    /// Read clients (portal users: only their own).
    ReadClients,
    /// Read projects (portal users: only their own client's).
    ReadProjects,
    /// Read the event history and past states.
    ReadHistory,
    /// Create users and change roles.
    ManageUsers,
    /// Create departments and teams and choose their managers and members.
    ManageTeams,
    /// Set the hourly rates.
    ManageRates,
    /// Create and revoke integrations' API keys.
    ManageApiKeys,
    /// Record regulators' guidance and assess its impact.
    AssessGuidance,
    /// Issue monthly effort statements and reopen their months.
    IssueStatements,
    /// Open service desk items, work them and add internal notes (routing and cancelling
    /// are for the owning team's managers, a fact the ServiceItem aggregate checks).
    WorkService,
    /// Log one's own time on projects.
    LogTime,
    /// Approve or reject others' submitted time (never one's own).
    ApproveEffort,
    /// Read projection status and operate the system.
    Operate,
    /// List users (internal directory).
    ReadUsers,
    /// Work projects: tasks, checklist items, liaison log, milestones, stage requests,
    /// document requests (manager-only actions are refused by the Project aggregate).
    WorkProjects,
    /// Accept or reject uploaded evidence.
    ReviewEvidence,
    /// Approve or refuse stage advances (never one's own: maker-checker).
    ApproveGates,
    /// Upload evidence for a document request (portal users: their own client's).
    UploadEvidence,
}

impl Role {
    /// Every role, for listings and tests.
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Sales,
        Role::Support,
        Role::Manager,
        Role::Consultant,
        Role::Reviewer,
        Role::Auditor,
        Role::Client,
    ];

    /// Whether this role holds `permission`.
    pub fn may(self, permission: Permission) -> bool {
        use Permission as P;
        use Role as R;
        match (self, permission) {
            (R::Admin, _) => true,
            (R::Client, P::ReadClients | P::ReadProjects | P::UploadEvidence) => true,
            (R::Client, _) => false,
            (
                R::Auditor,
                P::ReadLeads | P::ReadClients | P::ReadProjects | P::ReadHistory | P::ReadUsers,
            ) => true,
            (R::Auditor, _) => false,
            (R::Sales | R::Manager, P::ReadLeads | P::WriteLeads | P::ConvertLeads) => true,
            (R::Support, P::ReadLeads) => true,
            (
                R::Support | R::Manager | R::Consultant,
                P::WorkProjects | P::UploadEvidence | P::WorkService,
            ) => true,
            (R::Manager, P::IssueStatements) => true,
            (R::Manager | R::Reviewer, P::AssessGuidance) => true,
            (R::Manager | R::Reviewer, P::ReviewEvidence | P::ApproveGates | P::ApproveEffort) => {
                true
            }
            (R::Support | R::Manager | R::Consultant | R::Reviewer, P::LogTime) => true,
            (_, P::ReadClients | P::ReadProjects | P::ReadUsers) => true,
            _ => false,
        }
    }

    /// Whether this is a customer portal role.
    pub fn is_portal(self) -> bool {
        self == Role::Client
    }

    /// The persisted name (`"admin"`, `"client"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Sales => "sales",
            Role::Support => "support",
            Role::Manager => "manager",
            Role::Consultant => "consultant",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Client => "client",
        }
    }

    /// Parses a persisted name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_never_read_leads_or_history() {
        assert!(!Role::Client.may(Permission::ReadLeads));
        assert!(!Role::Client.may(Permission::ReadHistory));
        assert!(Role::Client.may(Permission::ReadProjects));
    }

    #[test]
    fn auditors_read_but_never_write() {
        assert!(Role::Auditor.may(Permission::ReadHistory));
        assert!(!Role::Auditor.may(Permission::WriteLeads));
        assert!(!Role::Auditor.may(Permission::ManageUsers));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
