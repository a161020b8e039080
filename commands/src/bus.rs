//! The command bus: one cqrs-es framework per aggregate over the shared postgres-es store.

use std::cell::Cell;
use std::time::Duration;

use cqrs_es::{Aggregate, AggregateContext, CqrsFramework, EventStore};
use domain::client::Client;
use domain::guidance::{Guidance, GuidanceCommand};
use domain::integration::{
    ApiKey, ApiKeyCommand, ExternalEntry, ExternalEntryCommand, MappingCommand, Mappings,
    MAPPINGS_ID,
};
use domain::lead::{CaptureLeadInput, Lead, LeadCommand};
use domain::project::{Project, ProjectCommand};
use domain::rate::{RateCard, RateCommand, RATE_CARD_ID};
use domain::reaction::{ParkedReactions, ReactionCommand};
use domain::rule_change::RuleChange;
use domain::service::{ServiceItem, ServiceItemCommand};
use domain::statement::{Month, Statement, StatementCommand};
use domain::team::{
    seeded_department_id, Department, DepartmentCommand, Team, TeamCommand, SEEDED_DEPARTMENTS,
};
use domain::template::{seeded_templates, TemplateCommand, WorkflowTemplate};
use domain::timesheet::{Timesheet, TimesheetCommand};
use domain::user::User;
use domain::webhook::{WebhookCommand, WebhookEndpoint};
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

use crate::snapshots::{SnapshotStore, APPENDED};
use crate::{Appended, CommandContext, CommandError};

/// How many times a command is retried after an optimistic-concurrency conflict. Every
/// command is re-decided against freshly loaded state, so a retry never repeats an effect.
const MAX_ATTEMPTS: u32 = 10;

/// Streams that grow long are snapshotted every this many events.
const SNAPSHOT_EVERY: usize = 100;

/// A cqrs-es framework over our store.
pub(crate) type Framework<A> = CqrsFramework<A, SnapshotStore<A>>;

fn framework<A>(pool: &PgPool, every: Option<usize>, services: A::Services) -> Framework<A>
where
    A: Aggregate,
    A::Event: domain::Consequence,
{
    CqrsFramework::new(SnapshotStore::new(pool.clone(), every), vec![], services)
}

/// Executes commands against the event store.
pub struct CommandBus {
    pub(crate) pool: PgPool,
    pub(crate) leads: Framework<Lead>,
    pub(crate) clients: Framework<Client>,
    pub(crate) projects: Framework<Project>,
    templates: Framework<WorkflowTemplate>,
    pub(crate) users: Framework<User>,
    reactions: Framework<ParkedReactions>,
    departments: Framework<Department>,
    teams: Framework<Team>,
    timesheets: Framework<Timesheet>,
    rates: Framework<RateCard>,
    statements: Framework<Statement>,
    service_items: Framework<ServiceItem>,
    api_keys: Framework<ApiKey>,
    external_entries: Framework<ExternalEntry>,
    mappings: Framework<Mappings>,
    guidance: Framework<Guidance>,
    pub(crate) rule_changes: Framework<RuleChange>,
    webhooks: Framework<WebhookEndpoint>,
}

impl std::fmt::Debug for CommandBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandBus").finish_non_exhaustive()
    }
}

impl CommandBus {
    /// The database the bus appends to (reactions read and queue beside it).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Builds the frameworks over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            leads: framework(&pool, Some(SNAPSHOT_EVERY), ()),
            clients: framework(&pool, None, ()),
            projects: framework(&pool, Some(SNAPSHOT_EVERY), ()),
            templates: framework(&pool, None, ()),
            users: framework(&pool, None, ()),
            reactions: framework(&pool, None, ()),
            departments: framework(&pool, None, ()),
            teams: framework(&pool, None, ()),
            timesheets: framework(&pool, None, ()),
            rates: framework(&pool, None, ()),
            statements: framework(&pool, None, ()),
            service_items: framework(&pool, None, ()),
            api_keys: framework(&pool, None, ()),
            external_entries: framework(&pool, None, ()),
            mappings: framework(&pool, None, ()),
            guidance: framework(&pool, None, ()),
            rule_changes: framework(&pool, None, ()),
            webhooks: framework(&pool, None, ()),
            pool,
        }
    }

    /// Runs `command` on aggregate `A` `id`, retrying conflicts, and returns the position of
    /// the stream's newest event.
    pub(crate) async fn execute<A>(
        &self,
        cqrs: &Framework<A>,
        id: Uuid,
        command: A::Command,
        ctx: &CommandContext,
    ) -> Result<Appended, CommandError>
    where
        A: Aggregate,
        A::Event: domain::Consequence,
        A::Command: Clone,
        A::Error: domain::Rejection,
    {
        let id_text = id.to_string();
        if let Some(reaction) = &ctx.reaction {
            // Landed before (the reactor stopped before its checkpoint moved, or another
            // replica's worker ran it): the effect is there, and decided again it could be
            // refused or different. The append's unique key settles a race past this check.
            if let Some(landed) = self.reaction_landed(reaction).await? {
                return Ok(landed);
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let attempted = APPENDED
                .scope(Cell::new(None), async {
                    cqrs.execute_with_metadata(&id_text, command.clone(), ctx.metadata())
                        .await
                        .map(|()| APPENDED.with(Cell::get))
                })
                .await
                .map_err(CommandError::from);
            match attempted {
                Ok(Some(appended)) => return Ok(appended),
                // Nothing appended (the command changed nothing): the stream's head.
                Ok(None) => break,
                Err(CommandError::Conflict) if attempt < MAX_ATTEMPTS => {
                    let jitter = rand::thread_rng().gen_range(1..=5 * u64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
                Err(error) => return Err(error),
            }
        }
        self.head(A::TYPE, &id_text).await
    }

    /// Where the first event of the reaction `key` landed, if it is in the log.
    pub(crate) async fn reaction_landed(
        &self,
        key: &str,
    ) -> Result<Option<Appended>, CommandError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position FROM events \
              WHERE metadata ? 'reaction' AND metadata->>'reaction' = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(tx, position)| Appended { tx, position }))
    }

    async fn head(&self, aggregate_type: &str, id: &str) -> Result<Appended, CommandError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position FROM events \
              WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence DESC LIMIT 1",
        )
        .bind(aggregate_type)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|(tx, position)| Appended { tx, position })
            .unwrap_or_default())
    }

    /// Loads the current state of an aggregate.
    pub async fn load<A>(&self, id: Uuid) -> Result<A, CommandError>
    where
        A: Aggregate,
        A::Event: domain::Consequence,
        A::Error: domain::Rejection,
    {
        let store = SnapshotStore::<A>::new(self.pool.clone(), Some(SNAPSHOT_EVERY));
        let mut context = store.load_aggregate(&id.to_string()).await?;
        Ok(std::mem::take(context.aggregate()))
    }

    /// Captures a new lead.
    pub async fn capture_lead(
        &self,
        ctx: &CommandContext,
        input: CaptureLeadInput,
    ) -> Result<(Uuid, Appended), CommandError> {
        let lead_id = Uuid::now_v7();
        let appended = self
            .execute(
                &self.leads,
                lead_id,
                LeadCommand::Capture {
                    lead_id,
                    input,
                    at: ctx.issued_at,
                },
                ctx,
            )
            .await?;
        Ok((lead_id, appended))
    }

    /// Any other lead command.
    pub async fn lead(
        &self,
        ctx: &CommandContext,
        lead_id: Uuid,
        command: LeadCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.leads, lead_id, command, ctx).await
    }

    /// Any project command.
    pub async fn project(
        &self,
        ctx: &CommandContext,
        project_id: Uuid,
        command: ProjectCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.projects, project_id, command, ctx).await
    }

    /// Runs a command on department `department_id`.
    pub async fn department(
        &self,
        ctx: &CommandContext,
        department_id: Uuid,
        command: DepartmentCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.departments, department_id, command, ctx)
            .await
    }

    /// Runs a command on team `team_id`.
    pub async fn team(
        &self,
        ctx: &CommandContext,
        team_id: Uuid,
        command: TeamCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.teams, team_id, command, ctx).await
    }

    /// Runs a command on `user_id`'s timesheet of `week`.
    pub async fn timesheet(
        &self,
        ctx: &CommandContext,
        user_id: Uuid,
        week: chrono::IsoWeek,
        command: TimesheetCommand,
    ) -> Result<Appended, CommandError> {
        let stream = domain::timesheet::stream_id(user_id, week);
        self.execute(&self.timesheets, stream, command, ctx).await
    }

    /// Runs a command on the firm's rate card.
    pub async fn rates(
        &self,
        ctx: &CommandContext,
        command: RateCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.rates, RATE_CARD_ID, command, ctx).await
    }

    /// Runs a command on `client_id`'s statement of `month`.
    pub async fn statement(
        &self,
        ctx: &CommandContext,
        client_id: Uuid,
        month: Month,
        command: StatementCommand,
    ) -> Result<Appended, CommandError> {
        let stream = domain::statement::stream_id(client_id, month);
        self.execute(&self.statements, stream, command, ctx).await
    }

    /// Runs a command on a service item.
    pub async fn service_item(
        &self,
        ctx: &CommandContext,
        service_item_id: Uuid,
        command: ServiceItemCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.service_items, service_item_id, command, ctx)
            .await
    }

    /// Runs a command on an API key.
    pub async fn api_key(
        &self,
        ctx: &CommandContext,
        key_id: Uuid,
        command: ApiKeyCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.api_keys, key_id, command, ctx).await
    }

    /// Runs a command on an entry from the productivity platform.
    pub async fn external_entry(
        &self,
        ctx: &CommandContext,
        external_entry_id: Uuid,
        command: ExternalEntryCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.external_entries, external_entry_id, command, ctx)
            .await
    }

    /// Runs a command on the saved mappings.
    pub async fn mappings(
        &self,
        ctx: &CommandContext,
        command: MappingCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.mappings, MAPPINGS_ID, command, ctx)
            .await
    }

    /// Runs a command on a workflow template.
    pub async fn template(
        &self,
        ctx: &CommandContext,
        template_id: Uuid,
        command: TemplateCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.templates, template_id, command, ctx)
            .await
    }

    /// Runs a command on a guidance item.
    pub async fn guidance(
        &self,
        ctx: &CommandContext,
        guidance_id: Uuid,
        command: GuidanceCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.guidance, guidance_id, command, ctx)
            .await
    }

    /// Runs a command on a webhook endpoint.
    pub async fn webhook_endpoint(
        &self,
        ctx: &CommandContext,
        endpoint_id: Uuid,
        command: WebhookCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.webhooks, endpoint_id, command, ctx)
            .await
    }

    /// Creates the seeded departments that do not exist yet; safe on every start and on
    /// several replicas at once (a concurrent creator makes ours a conflict, ignored).
    pub async fn seed_departments(&self) -> Result<(), CommandError> {
        let ctx = CommandContext::system();
        for name in SEEDED_DEPARTMENTS {
            let department_id = seeded_department_id(name);
            let current: Department = self.load(department_id).await?;
            if current.id.is_some() {
                continue;
            }
            let command = DepartmentCommand::Create {
                department_id,
                name: name.to_owned(),
                at: ctx.issued_at,
            };
            match self
                .execute(&self.departments, department_id, command, &ctx)
                .await
            {
                Ok(_) | Err(CommandError::Rejected { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Records an admin's decision on an event `reactor` parked.
    pub async fn decide_parked_reaction(
        &self,
        ctx: &CommandContext,
        reactor: &str,
        command: ReactionCommand,
    ) -> Result<Appended, CommandError> {
        let stream = domain::reaction::stream_id(reactor);
        self.execute(&self.reactions, stream, command, ctx).await
    }

    /// Publishes the seeded templates that do not exist yet. Safe on every start and on
    /// several replicas at once (a concurrent publisher makes ours a conflict, ignored).
    pub async fn seed_templates(&self) -> Result<(), CommandError> {
        let ctx = CommandContext::system();
        for seed in seeded_templates() {
            let current: WorkflowTemplate = self.load(seed.id).await?;
            if current.id.is_some() {
                continue;
            }
            let command = TemplateCommand::PublishVersion {
                template_id: seed.id,
                family: seed.family.into(),
                name: seed.name.into(),
                stages: seed.stages,
                publication: None,
                at: ctx.issued_at,
            };
            match self
                .templates
                .execute_with_metadata(&seed.id.to_string(), command, ctx.metadata())
                .await
            {
                Ok(()) | Err(cqrs_es::AggregateError::AggregateConflict) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}
