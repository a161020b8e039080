//! Integrations: API keys (admins), time entries sent by the productivity platform, and the
//! review queue of those that did not map.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::integration::{ApiKeyCommand, ExternalEntryCommand, Mapping, MappingCommand, Scope};
use domain::timesheet::WorkRef;
use domain::Permission;
use projections::integrations::{ApiKeyRow, ExternalRow, MappingRow};
use uuid::Uuid;

use crate::auth::api_keys::new_token;
use crate::error::{ApiError, Code};
use crate::graphql::context::{shown_once, Ctx};
use crate::graphql::types::parse_persisted;
use crate::ingest::{ingest, IncomingEntry, Outcome};
use crate::state::ReadBack;

/// Read models an integration mutation answers from.
const INTEGRATION_READ_MODELS: [&str; 1] = [projections::integrations::NAME];

/// What an API key may do.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::integration::Scope")]
pub enum ApiScope {
    /// `time:ingest`: send time entries.
    TimeIngest,
}

/// An integration's API key (its secret is shown once, when created).
#[derive(Debug)]
pub(super) struct ApiKey(ApiKeyRow);

#[Object]
impl ApiKey {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The integration (platform) it stands for: external ids are unique within an
    /// integration, and the keys of one share them.
    async fn integration_id(&self) -> Uuid {
        self.0.integration_id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn scopes(&self) -> Vec<ApiScope> {
        self.0
            .scopes
            .iter()
            .filter_map(|s| parse_persisted::<Scope>(s))
            .map(ApiScope::from)
            .collect()
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// Neither revoked nor expired.
    async fn active(&self) -> bool {
        self.0.revoked_at.is_none() && self.0.expires_at > Utc::now()
    }
    async fn created_by(&self) -> Uuid {
        self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An entry the platform sent, as received and as decided.
#[derive(Debug)]
pub(super) struct ExternalTimeEntry(ExternalRow);

#[Object]
impl ExternalTimeEntry {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    /// The API key it came with.
    async fn key_id(&self) -> Option<Uuid> {
        self.0.key_id
    }
    /// The platform's user, as sent.
    async fn user_ref(&self) -> &str {
        &self.0.user_ref
    }
    /// The platform's matter reference, as sent.
    async fn matter_ref(&self) -> &str {
        &self.0.matter_ref
    }
    async fn date(&self) -> NaiveDate {
        self.0.date
    }
    async fn minutes(&self) -> i32 {
        self.0.minutes
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn billable(&self) -> bool {
        self.0.billable
    }
    /// `mapped`, `unmapped`, `refused` or `discarded`.
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// Why it is unmapped, refused or discarded.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn user_id(&self) -> Option<Uuid> {
        self.0.user_id
    }
    async fn project_id(&self) -> Option<Uuid> {
        self.0.project_id
    }
    async fn task_id(&self) -> Option<Uuid> {
        self.0.task_id
    }
    async fn service_item_id(&self) -> Option<Uuid> {
        self.0.service_item_id
    }
    /// The time entry it is, once mapped.
    async fn entry_id(&self) -> Option<Uuid> {
        (self.0.status == "mapped").then(|| domain::integration::time_entry_id(self.0.id))
    }
    /// The reviewer who mapped or discarded it.
    async fn decided_by(&self) -> Option<Uuid> {
        self.0.decided_by
    }
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A saved mapping: the platform's user or matter reference to ours.
#[derive(SimpleObject, Debug)]
pub(super) struct ExternalMapping {
    /// `user` or `matter`.
    kind: String,
    /// The platform's reference (lower case).
    external: String,
    user_id: Option<Uuid>,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    service_item_id: Option<Uuid>,
    updated_by: Uuid,
    updated_at: DateTime<Utc>,
}

impl From<MappingRow> for ExternalMapping {
    fn from(row: MappingRow) -> Self {
        ExternalMapping {
            kind: row.kind,
            external: row.external,
            user_id: row.user_id,
            project_id: row.project_id,
            task_id: row.task_id,
            service_item_id: row.service_item_id,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        }
    }
}

/// Integration queries.
#[derive(Default, Debug)]
pub(super) struct IntegrationQuery;

#[Object]
impl IntegrationQuery {
    /// Every API key, newest first (admins).
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        ctx.request().auth.require(Permission::ManageApiKeys)?;
        let rows = projections::integrations::api_keys(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ApiKey).collect())
    }

    /// The review queue: entries from the platform that did not map, or that a timesheet
    /// refused, oldest first; `after` is the id of the previous page's last entry
    /// (reviewers, managers and admins).
    async fn external_time_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<ExternalTimeEntry>> {
        ctx.request().auth.require(Permission::ApproveEffort)?;
        let rows = projections::integrations::review_queue(&ctx.state().pool, first, after)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ExternalTimeEntry).collect())
    }

    /// One entry from the platform, whatever became of it.
    async fn external_time_entry(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<Option<ExternalTimeEntry>> {
        ctx.request().auth.require(Permission::ApproveEffort)?;
        let row = projections::integrations::external_entry(&ctx.state().pool, id)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(ExternalTimeEntry))
    }

    /// The saved mappings.
    async fn external_mappings(&self, ctx: &Context<'_>) -> Result<Vec<ExternalMapping>> {
        ctx.request().auth.require(Permission::ApproveEffort)?;
        let rows = projections::integrations::mappings(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ExternalMapping::from).collect())
    }
}

/// A new API key.
#[derive(InputObject, Debug)]
pub(super) struct CreateApiKeyInput {
    name: String,
    scopes: Vec<ApiScope>,
    /// At most 730 days away.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    expires_at: DateTime<Utc>,
    /// The integration the key stands for: the `integrationId` of an earlier key of the
    /// same platform (a key replacing one), so that an entry the platform sends again with
    /// the new key is known as a repeat. By default a new integration, named by this key.
    integration_id: Option<Uuid>,
}

/// A created key: its token is shown here once and never again.
#[derive(SimpleObject, Debug)]
pub(super) struct CreatedApiKey {
    api_key: Option<ApiKey>,
    /// Send it as `Authorization: Bearer <token>`. Null only in the repeat of a request
    /// sent with an `Idempotency-Key`: the token was shown once, in the first answer.
    token: Option<String>,
    caught_up: bool,
}

#[derive(SimpleObject, Debug)]
pub(super) struct ApiKeyPayload {
    api_key: Option<ApiKey>,
    caught_up: bool,
}

/// Whom and what a reviewer maps an entry to.
#[derive(InputObject, Debug)]
pub(super) struct MapExternalTimeEntryInput {
    user_id: Uuid,
    /// The project (or give `serviceItemId`).
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    service_item_id: Option<Uuid>,
    /// Save the entry's user and matter references, so later entries map on arrival.
    #[graphql(default)]
    save_mapping: bool,
}

/// Result of a batch.
#[derive(SimpleObject, Debug)]
pub(super) struct IngestPayload {
    /// One per entry, in order.
    results: Vec<Outcome>,
    /// False when the review queue had not caught up within the wait bound.
    caught_up: bool,
}

#[derive(SimpleObject, Debug)]
pub(super) struct ExternalTimeEntryPayload {
    entry: Option<ExternalTimeEntry>,
    caught_up: bool,
}

/// Integration mutations.
#[derive(Default, Debug)]
pub(super) struct IntegrationMutation;

async fn entry_payload(
    ctx: &Context<'_>,
    id: Uuid,
    appended: commands::Appended,
) -> Result<ExternalTimeEntryPayload> {
    let state = ctx.state();
    let ReadBack {
        record: entry,
        caught_up,
    } = state
        .after_append(
            &INTEGRATION_READ_MODELS,
            appended,
            projections::integrations::external_entry(&state.pool, id),
        )
        .await
        .map(ExternalTimeEntry);
    Ok(ExternalTimeEntryPayload { entry, caught_up })
}

async fn key_payload(
    ctx: &Context<'_>,
    id: Uuid,
    appended: commands::Appended,
) -> Result<(Option<ApiKey>, bool)> {
    let state = ctx.state();
    let ReadBack {
        record: key,
        caught_up,
    } = state
        .after_append(
            &INTEGRATION_READ_MODELS,
            appended,
            projections::integrations::api_key(&state.pool, id),
        )
        .await
        .map(ApiKey);
    Ok((key, caught_up))
}

/// The matter a reviewer names: a project (and task) or a service item.
async fn matter(
    ctx: &Context<'_>,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    service_item_id: Option<Uuid>,
) -> Result<WorkRef, ApiError> {
    let pool = &ctx.state().pool;
    match (project_id, service_item_id) {
        (Some(project_id), None) => {
            if projections::projects::find(pool, project_id)
                .await?
                .is_none()
            {
                return Err(ApiError::new(Code::NotFound, "project not found"));
            }
            if let Some(task_id) = task_id {
                let tasks = projections::projects::tasks(pool, project_id).await?;
                if !tasks.iter().any(|t| t.id == task_id) {
                    return Err(ApiError::new(
                        Code::NotFound,
                        "task not found on this project",
                    ));
                }
            }
            Ok(WorkRef::Project {
                project_id,
                task_id,
            })
        }
        (None, Some(service_item_id)) if task_id.is_none() => {
            if projections::service::item(pool, service_item_id)
                .await?
                .is_none()
            {
                return Err(ApiError::new(Code::NotFound, "service item not found"));
            }
            Ok(WorkRef::Service { service_item_id })
        }
        _ => Err(ApiError::bad_input(
            "projectId, serviceItemId: name exactly one (a task only with a project)",
        )),
    }
}

/// An active internal user time may be mapped to.
async fn worker(ctx: &Context<'_>, user_id: Uuid) -> Result<(), ApiError> {
    match projections::users::find(&ctx.state().pool, user_id).await? {
        Some(u) if u.active && domain::Role::parse(&u.role).is_some_and(|r| !r.is_portal()) => {
            Ok(())
        }
        _ => Err(ApiError::bad_input(
            "userId: no active internal user has this id",
        )),
    }
}

#[Object]
impl IntegrationMutation {
    /// Creates an API key (admins); its token is in this answer only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreatedApiKey> {
        let viewer = ctx.request().auth.require(Permission::ManageApiKeys)?;
        let state = ctx.state();
        let command_ctx = ctx.command_context(&viewer);
        let key_id = Uuid::now_v7();
        let integration_id = match input.integration_id {
            None => key_id,
            Some(integration_id) => {
                let known =
                    projections::integrations::integration_exists(&state.pool, integration_id)
                        .await
                        .map_err(ApiError::from)?;
                if !known {
                    return Err(ApiError::bad_input(
                        "integrationId: no API key stands for this integration",
                    )
                    .into());
                }
                integration_id
            }
        };
        let command = ApiKeyCommand::Create {
            key_id,
            integration_id,
            name: input.name,
            scopes: input.scopes.into_iter().map(Scope::from).collect(),
            expires_at: input.expires_at,
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        // Decided before the secret is stored, so a refused key leaves nothing behind.
        domain::integration::ApiKey::default()
            .decide(command.clone())
            .map_err(|e| ApiError::bad_input(e.to_string()))?;
        let (token, hash) = new_token(key_id);
        sqlx::query("INSERT INTO api_key_secrets (key_id, secret_hash) VALUES ($1, $2)")
            .bind(key_id)
            .bind(hash)
            .execute(&state.pool)
            .await
            .map_err(ApiError::from)?;
        let appended = state
            .bus
            .api_key(&command_ctx, key_id, command)
            .await
            .map_err(ApiError::from)?;
        let (api_key, caught_up) = key_payload(ctx, key_id, appended).await?;
        Ok(CreatedApiKey {
            api_key,
            token: Some(shown_once(ctx, token)),
            caught_up,
        })
    }

    /// Revokes an API key (admins): it stops working at once.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: Uuid) -> Result<ApiKeyPayload> {
        let viewer = ctx.request().auth.require(Permission::ManageApiKeys)?;
        let state = ctx.state();
        let command_ctx = ctx.command_context(&viewer);
        let command = ApiKeyCommand::Revoke {
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        let appended = state
            .bus
            .api_key(&command_ctx, id, command)
            .await
            .map_err(ApiError::from)?;
        // The revocation is stored: nothing fails the mutation any more. A secret left
        // behind stops working all the same once the read model has the revocation
        // (`usable_key` reads `revoked_at`), which the answer waits for.
        if let Err(error) = sqlx::query("DELETE FROM api_key_secrets WHERE key_id = $1")
            .bind(id)
            .execute(&state.pool)
            .await
        {
            tracing::warn!(%error, key_id = %id, "a revoked key's secret was not deleted");
        }
        let (api_key, caught_up) = key_payload(ctx, id, appended).await?;
        Ok(ApiKeyPayload { api_key, caught_up })
    }

    /// Receives a batch of up to 500 time entries from the productivity platform (an API
    /// key with `time:ingest`); as `POST /api/v1/time-entries`.
    async fn ingest_time_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_items = 500))] entries: Vec<IncomingEntry>,
    ) -> Result<IngestPayload> {
        let key = ctx.request().auth.key(Scope::TimeIngest)?;
        let state = ctx.state();
        let command_ctx = commands::CommandContext::integration(key.key_id);
        let (results, last) = ingest(state, &command_ctx, key, entries).await?;
        let caught_up = match last {
            Some(appended) => state.caught_up(&INTEGRATION_READ_MODELS, appended).await,
            None => true,
        };
        Ok(IngestPayload { results, caught_up })
    }

    /// Maps an entry in review to a user and a matter (it becomes their draft); with
    /// `saveMapping`, later entries with the same user and matter references map on arrival.
    async fn map_external_time_entry(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: MapExternalTimeEntryInput,
    ) -> Result<ExternalTimeEntryPayload> {
        let viewer = ctx.request().auth.require(Permission::ApproveEffort)?;
        let user_id = input.user_id;
        worker(ctx, user_id).await?;
        let work = matter(ctx, input.project_id, input.task_id, input.service_item_id).await?;
        let save_mapping = input.save_mapping;
        let state = ctx.state();
        let row = projections::integrations::external_entry(&state.pool, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::new(Code::NotFound, "external time entry not found"))?;
        let command_ctx = ctx.command_context(&viewer);
        let command = ExternalEntryCommand::Map {
            mapping: Mapping { user_id, work },
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        let appended = state
            .bus
            .external_entry(&command_ctx, id, command)
            .await
            .map_err(ApiError::from)?;
        if save_mapping {
            let saves = [
                MappingCommand::SaveUser {
                    external: row.user_ref.clone(),
                    user_id,
                    by: viewer.user_id,
                    at: command_ctx.issued_at,
                },
                MappingCommand::SaveMatter {
                    external: row.matter_ref.clone(),
                    work,
                    by: viewer.user_id,
                    at: command_ctx.issued_at,
                },
            ];
            let mut last = appended;
            for save in saves {
                last = state
                    .bus
                    .mappings(&command_ctx, save)
                    .await
                    .map_err(ApiError::from)?;
            }
            return entry_payload(ctx, id, last.max(appended)).await;
        }
        entry_payload(ctx, id, appended).await
    }

    /// Discards an entry in review, with a reason.
    async fn discard_external_time_entry(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> Result<ExternalTimeEntryPayload> {
        let viewer = ctx.request().auth.require(Permission::ApproveEffort)?;
        let command_ctx = ctx.command_context(&viewer);
        let command = ExternalEntryCommand::Discard {
            reason,
            by: viewer.user_id,
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .external_entry(&command_ctx, id, command)
            .await
            .map_err(ApiError::from)?;
        entry_payload(ctx, id, appended).await
    }
}
