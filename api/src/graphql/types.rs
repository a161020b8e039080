//! GraphQL enums mirroring the domain's, and small shared object types.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, Enum, Json, Name, OutputType, Positioned, ServerResult, Value,
};
use async_graphql_value::RAW_VALUE_TOKEN;
use projections::audit::StoredJson;

/// Lead pipeline stage.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::lead::LeadStage")]
pub enum LeadStage {
    /// Newly captured.
    Prospect,
    /// Need and budget confirmed.
    Qualified,
    /// Proposal sent.
    Proposal,
    /// Terms under discussion.
    Negotiation,
    /// Closed, won.
    Won,
    /// Closed, lost.
    Lost,
}

/// Where a lead came from.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::lead::LeadSource")]
pub enum LeadSource {
    Website,
    Referral,
    Event,
    Partner,
    Outbound,
    Other,
}

/// A user's role.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Role")]
pub enum Role {
    /// Everything.
    Admin,
    /// Leads and clients.
    Sales,
    /// Clients, projects, document requests.
    Support,
    /// Routes work, approves.
    Manager,
    /// Works tasks.
    Consultant,
    /// Reviews and approves.
    Reviewer,
    /// Reads everything, changes nothing.
    Auditor,
    /// Customer portal user.
    Client,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::project::ProjectStatus")]
pub enum ProjectStatus {
    Active,
    OnHold,
    Closed,
    /// Closed; only liaison entries and the licence (each approved by a second person) and
    /// evidence may still change.
    ClosedPendingUpdates,
}

/// Stage of the stage-gate frame.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::template::StageKey")]
pub enum StageKey {
    Onboarding,
    Documentation,
    Filing,
    Liaison,
    Issue,
}

/// Checklist item state.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::project::ItemStatus")]
pub enum ItemStatus {
    /// Nothing yet.
    Pending,
    /// Evidence uploaded.
    EvidenceSubmitted,
    Verified,
    Rejected,
    Waived,
}

/// Status of a task or subtask.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::project::TaskStatus")]
pub enum TaskStatus {
    /// Not started.
    ToDo,
    /// Being worked.
    InProgress,
    /// Done, awaiting review.
    Review,
    /// Done.
    Completed,
    /// Cannot proceed.
    Blocked,
}

/// Task priority.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::project::Priority")]
pub enum Priority {
    Low,
    /// Normal.
    Medium,
    High,
    Urgent,
}

/// Direction of regulator correspondence.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::project::Direction")]
pub enum Direction {
    /// From the regulator.
    Inbound,
    /// To the regulator.
    Outbound,
}

/// Review state of an upload.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::project::UploadState")]
pub enum UploadState {
    /// Waiting for review.
    Submitted,
    /// Accepted: the checklist item is verified.
    Accepted,
    /// Rejected with a reason: upload again.
    Rejected,
}

/// State of a document request.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Nothing uploaded yet.
    Open,
    /// An upload waits for review.
    Submitted,
    /// The upload was accepted.
    Accepted,
    /// The last upload was rejected: upload again.
    Rejected,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    #[default]
    Desc,
}

/// Kinds of records with a history.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AggregateType {
    /// Leads.
    Lead,
    /// Clients.
    Client,
    /// Projects.
    Project,
    /// Users.
    User,
    /// Workflow templates.
    WorkflowTemplate,
    /// A reactor's admin decisions on parked events (its id is the reactor's `streamId` in
    /// `reactorStatus`).
    Reactor,
    Department,
    Team,
    /// A person's timesheet of one week.
    Timesheet,
    /// The firm's hourly rates (one stream: `01925a7e-0000-7000-8000-000000000001`).
    RateCard,
    /// A client's effort statement of one month.
    Statement,
    /// A service desk item.
    ServiceItem,
    /// An integration's API key.
    ApiKey,
    /// A time entry sent by the productivity platform.
    ExternalEntry,
    /// The saved mappings of the platform's users and matters (one stream:
    /// `01925a7e-0000-7000-8000-000000000002`).
    ExternalMappings,
    /// A regulator's guidance item.
    Guidance,
    /// A draft of a workflow template's next version, through review to publication.
    RuleChange,
    /// An outbound webhook endpoint.
    WebhookEndpoint,
}

impl AggregateType {
    /// The persisted aggregate type.
    pub fn persisted(self) -> &'static str {
        match self {
            AggregateType::Lead => "Lead",
            AggregateType::Client => "Client",
            AggregateType::Project => "Project",
            AggregateType::User => "User",
            AggregateType::WorkflowTemplate => "WorkflowTemplate",
            AggregateType::Reactor => "Reactor",
            AggregateType::Department => "Department",
            AggregateType::Team => "Team",
            AggregateType::Timesheet => "Timesheet",
            AggregateType::RateCard => "RateCard",
            AggregateType::Statement => "Statement",
            AggregateType::ServiceItem => "ServiceItem",
            AggregateType::ApiKey => "ApiKey",
            AggregateType::ExternalEntry => "ExternalEntry",
            AggregateType::ExternalMappings => "ExternalMappings",
            AggregateType::Guidance => "Guidance",
            AggregateType::RuleChange => "RuleChange",
            AggregateType::WebhookEndpoint => "WebhookEndpoint",
        }
    }
}

/// Parses a persisted snake_case enum name from a read model.
pub(super) fn parse_persisted<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// The persisted name of a domain enum.
pub(super) fn persisted_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A JSON document served as the `JSON` scalar and written into the response as the text it
/// was stored as: it resolves to async-graphql's raw value (an object whose one key is
/// serde_json's raw-value token), which the response serialiser writes out verbatim instead
/// of parsing the document into a tree and escaping it back. The text comes from a `jsonb`
/// column, so it is JSON; the answer writer (`http::body`) relies on that and does not
/// check it again. It wraps [`StoredJson`], which only a read from the store constructs.
#[derive(Debug)]
pub(super) struct JsonText(pub StoredJson);

impl OutputType for JsonText {
    fn type_name() -> Cow<'static, str> {
        <Json<serde_json::Value> as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Json<serde_json::Value> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(raw_value(self.0.as_str().to_owned()))
    }
}

/// JSON text as async-graphql's raw value: an object whose one key is serde_json's raw-value
/// token, which the answer writer (`http::body`) copies into the answer as it is. Only for
/// text that is JSON and that the store produced (see `JsonText`).
pub(super) fn raw_value(text: String) -> Value {
    let raw = [(Name::new(RAW_VALUE_TOKEN), Value::String(text))];
    Value::Object(raw.into_iter().collect())
}

/// The validator of every date and time a caller gives: within
/// [`domain::values::STORABLE_YEARS`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Storable;

fn storable_year<T: async_graphql::InputType>(
    year: i32,
) -> Result<(), async_graphql::InputValueError<T>> {
    domain::values::storable_year(year).map_err(async_graphql::InputValueError::custom)
}

impl async_graphql::CustomValidator<chrono::NaiveDate> for Storable {
    fn check(
        &self,
        value: &chrono::NaiveDate,
    ) -> Result<(), async_graphql::InputValueError<chrono::NaiveDate>> {
        use chrono::Datelike as _;
        storable_year(value.year())
    }
}

impl async_graphql::CustomValidator<chrono::DateTime<chrono::Utc>> for Storable {
    fn check(
        &self,
        value: &chrono::DateTime<chrono::Utc>,
    ) -> Result<(), async_graphql::InputValueError<chrono::DateTime<chrono::Utc>>> {
        use chrono::Datelike as _;
        storable_year(value.year())
    }
}

/// Where a time entry stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::timesheet::EntryState")]
pub enum TimeEntryState {
    /// Logged, not yet submitted: its owner may change or delete it.
    Draft,
    /// Submitted with its week: immutable until decided.
    Submitted,
    /// Approved: locked (a correction is a reversing entry).
    Approved,
    /// Sent back with a reason: editable, and submitted again with the week.
    Rejected,
}
