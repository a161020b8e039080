//! The GraphQL schema: queries, mutations, subscriptions and their types.
//!
//! One file per feature, each with its object types, queries and mutations (`leads`,
//! `clients`, `users`, `teams`, `effort`, `rates`, `statements`, `reports`, `projects` and
//! its areas, `templates`, `guidance`, `rule_changes`, `service`, `integrations`,
//! `webhooks`, `notifications`, `outbox`, `ops`, `audit`, `operations`), and the
//! `subscription` root, over shared parts that import no feature: `context` (what a
//! resolver takes from its context), `connection` (paging), `types` (enums and scalars),
//! `written` (objects written straight into the answer), `loaders`, `guard` and `parsed`
//! (checks before execution), `errors` (codes on every error). The state they share is
//! [`crate::state`].

mod audit;
mod clients;
mod connection;
mod context;
mod effort;
mod errors;
mod guard;
mod guidance;
mod integrations;
mod leads;
mod loaders;
mod notifications;
mod operations;
mod ops;
pub(crate) mod outbox;
mod parsed;
mod projects;
mod rates;
mod reports;
mod rule_changes;
mod service;
mod statements;
mod subscription;
mod teams;
mod templates;
mod types;
mod users;
mod webhooks;
mod written;

pub use parsed::ParsedQueries;
pub use projects::PROJECT_READ_MODELS;

use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt as _};
use async_graphql::{Data, Executor, MergedObject, Request, Response, Schema, ServerError};

use crate::auth::Auth;
use crate::state::{AppState, RequestContext};

/// The root query.
#[derive(MergedObject, Default, Debug)]
pub struct Query(
    users::UserQuery,
    leads::LeadQuery,
    clients::ClientQuery,
    projects::ProjectQuery,
    projects::GateQuery,
    projects::DocumentQuery,
    projects::TaskQuery,
    projects::ChangeQuery,
    templates::TemplateQuery,
    teams::TeamQuery,
    effort::EffortQuery,
    rates::RateQuery,
    statements::StatementQuery,
    service::ServiceQuery,
    integrations::IntegrationQuery,
    guidance::GuidanceQuery,
    rule_changes::RuleChangeQuery,
    reports::ReportQuery,
    notifications::NotificationQuery,
    audit::AuditQuery,
    operations::OperationsQuery,
    outbox::OutboxQuery,
    webhooks::WebhookQuery,
    ops::OpsQuery,
);

/// The root mutation.
#[derive(MergedObject, Default, Debug)]
pub struct Mutation(
    users::UserMutation,
    leads::LeadMutation,
    projects::ProjectMutation,
    projects::GateMutation,
    projects::ChangeMutation,
    projects::BillingMutation,
    projects::TaskMutation,
    projects::DocumentMutation,
    notifications::NotificationMutation,
    teams::TeamMutation,
    effort::EffortMutation,
    rates::RateMutation,
    statements::StatementMutation,
    service::ServiceMutation,
    integrations::IntegrationMutation,
    guidance::GuidanceMutation,
    rule_changes::RuleChangeMutation,
    operations::OperationsMutation,
    outbox::OutboxMutation,
    webhooks::WebhookMutation,
    ops::OpsMutation,
);

/// The schema type.
pub type ZippSchema = Schema<Query, Mutation, subscription::Subscription>;

pub use guard::{Checked, MAX_DEPTH};
/// Maximum query complexity: one per field selected, counted once whatever a list's length
/// (async-graphql's default: no field declares its own; `first` is capped at
/// `connection::MAX_FIRST`).
pub const MAX_COMPLEXITY: usize = 2_000;

/// Builds the schema over the shared state.
pub fn schema(state: AppState) -> ZippSchema {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    );
    loaders::register(builder, &state.pool)
        .data(state)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(20)
        .finish()
}

/// The schema as served, on every entry point: each request passes [`guard::check`] (which
/// also parses it, through a cache of documents) before it executes, and every error of every
/// answer, and of every item of a subscription's stream, gets its code
/// ([`errors::classified`]). A wrapper rather than schema extensions: with any extension
/// registered, async-graphql sends every field of every answer through the extensions' hooks.
#[derive(Clone)]
pub struct Served {
    schema: ZippSchema,
    parsed: Arc<ParsedQueries>,
    public_introspection: bool,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").finish_non_exhaustive()
    }
}

impl Served {
    /// The schema over `state`.
    pub fn new(state: AppState) -> Self {
        Self {
            public_introspection: state.public_introspection,
            schema: schema(state),
            parsed: Arc::default(),
        }
    }

    /// Checks and parses `request` for a caller with `auth`; the refusal (with its code) is
    /// the answer to send.
    pub fn prepare(
        &self,
        request: &mut Request,
        auth: &Auth,
    ) -> Result<guard::Checked, ServerError> {
        let internal = matches!(auth, Auth::User(viewer) if !viewer.role.is_portal());
        guard::check(request, &self.parsed, internal, self.public_introspection).map_err(
            |mut error| {
                errors::classify(&mut error);
                error
            },
        )
    }

    /// Executes a prepared request.
    pub async fn run(&self, request: Request) -> Response {
        errors::classified(self.schema.execute(request).await)
    }
}

/// The caller's authentication, from the data of a request or of its connection.
fn auth_of(data: Option<&Data>) -> Auth {
    data.and_then(|data| data.get(&std::any::TypeId::of::<RequestContext>()))
        .and_then(|value| value.downcast_ref::<RequestContext>())
        .map_or(Auth::Anonymous, |context| context.auth)
}

impl Executor for Served {
    async fn execute(&self, mut request: Request) -> Response {
        let auth = auth_of(Some(&request.data));
        match self.prepare(&mut request, &auth) {
            Ok(_) => self.run(request).await,
            Err(refusal) => Response::from_errors(vec![refusal]),
        }
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let auth = match auth_of(session_data.as_deref()) {
            Auth::Anonymous => auth_of(Some(&request.data)),
            known => known,
        };
        match self.prepare(&mut request, &auth) {
            Ok(_) => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                .map(errors::classified)
                .boxed(),
            Err(refusal) => {
                stream::once(async move { Response::from_errors(vec![refusal]) }).boxed()
            }
        }
    }
}

/// The SDL as served (checked in as `docs/schema.graphql`).
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .finish()
    .sdl()
}
