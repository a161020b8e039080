//! Time entries from the productivity platform: a batch received once per entry, whether
//! it came over `POST /api/v1/time-entries` or the `ingestTimeEntries` mutation (both run
//! [`ingest`]).

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use commands::{Appended, CommandContext, CommandError};
use domain::integration::{
    external_entry_id, normalized, time_entry_id, ExternalEntry, ExternalEntryCommand,
    ExternalInput, ExternalStatus, Mapping,
};
use domain::timesheet::WorkRef;
use domain::ErrorKind;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::KeyViewer;
use crate::error::ApiError;
use crate::state::AppState;

/// Most entries in one batch.
pub(crate) const MAX_BATCH: usize = 500;

/// Entries of a batch received at once (each is its own stream, so they do not conflict).
const CONCURRENCY: usize = 8;

fn yes() -> bool {
    true
}

/// One entry as the platform sends it: `date` and `minutes`, or `start` and `end`.
#[derive(Debug, Clone, Deserialize, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[graphql(name = "ExternalTimeEntryInput")]
pub(crate) struct IncomingEntry {
    /// The platform's id of the entry: its idempotency key.
    pub external_id: String,
    /// The platform's user: an email, or its own id (mapped by a reviewer once).
    pub user: String,
    /// The matter: a project's or service item's id, or the platform's reference.
    pub matter: String,
    pub date: Option<NaiveDate>,
    pub minutes: Option<i32>,
    /// With `end`, instead of `date` and `minutes` (RFC 3339; the date is the start's).
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
    pub description: String,
    #[serde(default = "yes")]
    #[graphql(default = true)]
    pub billable: bool,
}

impl IncomingEntry {
    fn input(self) -> Result<ExternalInput, String> {
        let (date, minutes) = match (self.date, self.minutes, self.start, self.end) {
            (Some(date), Some(minutes), None, None) => (date, minutes),
            (None, None, Some(start), Some(end)) => {
                if end <= start {
                    return Err("end: must be after start".into());
                }
                let minutes = i32::try_from((end - start).num_minutes()).unwrap_or(i32::MAX);
                (start.date_naive(), minutes)
            }
            _ => return Err("give date and minutes, or start and end".into()),
        };
        use chrono::Datelike as _;
        domain::values::storable_year(date.year()).map_err(|why| format!("date: {why}"))?;
        let input = ExternalInput {
            external_id: self.external_id,
            user_ref: self.user,
            matter_ref: self.matter,
            date,
            minutes,
            description: self.description,
            billable: self.billable,
        };
        ExternalInput::parse(input).map_err(|e| e.to_string())
    }
}

/// What became of one entry.
#[derive(Debug, Clone, Serialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "IngestedTimeEntry")]
pub(crate) struct Outcome {
    pub external_id: String,
    /// `mapped` (the user's draft), `unmapped` (waits for review), `refused` (the timesheet
    /// refused it; in review), `discarded`, or `invalid` (nothing was stored).
    pub status: String,
    /// The entry in the review queue (absent when invalid).
    pub external_entry_id: Option<Uuid>,
    /// The time entry it is, once mapped.
    pub entry_id: Option<Uuid>,
    /// True when this external id was received before: the answer is the first one's.
    pub repeat: bool,
    /// Why it is invalid, unmapped, refused or discarded.
    pub message: Option<String>,
}

impl Outcome {
    fn invalid(external_id: String, message: String) -> Self {
        Outcome {
            external_id,
            status: "invalid".into(),
            external_entry_id: None,
            entry_id: None,
            repeat: false,
            message: Some(message),
        }
    }

    fn of(
        id: Uuid,
        external_id: String,
        status: ExternalStatus,
        reason: Option<String>,
        repeat: bool,
    ) -> Self {
        Outcome {
            external_id,
            status: status.as_str().into(),
            external_entry_id: Some(id),
            entry_id: (status == ExternalStatus::Mapped).then(|| time_entry_id(id)),
            repeat,
            message: reason,
        }
    }
}

/// What the batch's user and matter references map to, looked up once per batch: saved
/// mappings first, then a user's email, then a matter's own id.
struct Resolver {
    users: HashMap<String, Uuid>,
    matters: HashMap<String, WorkRef>,
}

impl Resolver {
    async fn load(pool: &PgPool, inputs: &[&ExternalInput]) -> Result<Self, ApiError> {
        let mut user_refs: Vec<String> = inputs.iter().map(|i| normalized(&i.user_ref)).collect();
        let mut matter_refs: Vec<String> =
            inputs.iter().map(|i| normalized(&i.matter_ref)).collect();
        user_refs.sort();
        user_refs.dedup();
        matter_refs.sort();
        matter_refs.dedup();
        let mut users = HashMap::new();
        let mut matters = HashMap::new();
        for row in projections::integrations::mappings_of(pool, &user_refs, &matter_refs).await? {
            match (row.user_id, row.work()) {
                (Some(user_id), _) => {
                    users.insert(row.external.clone(), user_id);
                }
                (None, Some(work)) => {
                    matters.insert(row.external.clone(), work);
                }
                (None, None) => {}
            }
        }
        let emails: Vec<String> = user_refs
            .iter()
            .filter(|r| r.contains('@') && !users.contains_key(*r))
            .cloned()
            .collect();
        for user in projections::users::by_emails(pool, &emails).await? {
            let internal = domain::Role::parse(&user.role).is_some_and(|r| !r.is_portal());
            if user.active && internal {
                users.insert(user.email, user.id);
            }
        }
        // A reference that is an id, in whatever form it was written.
        let named: Vec<(Uuid, &String)> = matter_refs
            .iter()
            .filter(|r| !matters.contains_key(*r))
            .filter_map(|r| Some((Uuid::try_parse(r).ok()?, r)))
            .collect();
        let ids: Vec<Uuid> = named.iter().map(|(id, _)| *id).collect();
        for (id, is_project) in projections::effort::matters_named(pool, &ids).await? {
            let work = if is_project {
                WorkRef::Project {
                    project_id: id,
                    task_id: None,
                }
            } else {
                WorkRef::Service {
                    service_item_id: id,
                }
            };
            for (_, reference) in named.iter().filter(|(named, _)| *named == id) {
                matters.insert((*reference).clone(), work);
            }
        }
        Ok(Resolver { users, matters })
    }

    fn mapping(&self, input: &ExternalInput) -> Result<Mapping, String> {
        let user = self.users.get(&normalized(&input.user_ref));
        let work = self.matters.get(&normalized(&input.matter_ref));
        match (user, work) {
            (Some(&user_id), Some(&work)) => Ok(Mapping { user_id, work }),
            (None, _) => Err(format!("no user is known as '{}'", input.user_ref)),
            (_, None) => Err(format!("no matter is known as '{}'", input.matter_ref)),
        }
    }
}

/// Receives a batch from `key`'s integration: each entry once, whatever is repeated or sent
/// at the same time (an external id is the integration's own: another integration's same
/// id is another entry). Answers each entry's outcome in order, and where the last append
/// landed.
pub(crate) async fn ingest(
    state: &AppState,
    ctx: &CommandContext,
    key: KeyViewer,
    entries: Vec<IncomingEntry>,
) -> Result<(Vec<Outcome>, Option<Appended>), ApiError> {
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(ApiError::bad_input(format!(
            "entries: send 1 to {MAX_BATCH} entries in a batch"
        )));
    }
    let parsed: Vec<(String, Result<ExternalInput, String>)> = entries
        .into_iter()
        .map(|e| (e.external_id.clone(), e.input()))
        .collect();
    let valid: Vec<&ExternalInput> = parsed.iter().filter_map(|(_, p)| p.as_ref().ok()).collect();
    let resolver = Resolver::load(&state.pool, &valid).await?;
    let resolver = &resolver;
    let results: Vec<Result<(Outcome, Option<Appended>), ApiError>> = futures::stream::iter(parsed)
        .map(|(external_id, input)| async move {
            let input = match input {
                Ok(input) => input,
                Err(message) => return Ok((Outcome::invalid(external_id, message), None)),
            };
            receive(state, ctx, key, resolver, input).await
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut outcomes = Vec::with_capacity(results.len());
    let mut last: Option<Appended> = None;
    for result in results {
        let (outcome, appended) = result?;
        if let Some(appended) = appended {
            if last.is_none_or(|l| l.position < appended.position) {
                last = Some(appended);
            }
        }
        outcomes.push(outcome);
    }
    Ok((outcomes, last))
}

async fn receive(
    state: &AppState,
    ctx: &CommandContext,
    key: KeyViewer,
    resolver: &Resolver,
    input: ExternalInput,
) -> Result<(Outcome, Option<Appended>), ApiError> {
    let id = external_entry_id(key.integration_id, &input.external_id);
    let external_id = input.external_id.clone();
    let mapping = resolver.mapping(&input);
    let command = ExternalEntryCommand::Receive {
        external_entry_id: id,
        input,
        key_id: Some(key.key_id),
        mapping: mapping.clone(),
        at: ctx.issued_at,
    };
    match state.bus.external_entry(ctx, id, command).await {
        Ok(appended) => {
            let (status, reason) = match mapping {
                Ok(_) => (ExternalStatus::Mapped, None),
                Err(why) => (ExternalStatus::Unmapped, Some(why)),
            };
            Ok((
                Outcome::of(id, external_id, status, reason, false),
                Some(appended),
            ))
        }
        Err(CommandError::Rejected {
            kind: ErrorKind::Conflict,
            ..
        }) => {
            let first: ExternalEntry = state.bus.load(id).await.map_err(ApiError::from)?;
            let status = first.status.unwrap_or(ExternalStatus::Unmapped);
            Ok((
                Outcome::of(id, external_id, status, first.reason, true),
                None,
            ))
        }
        Err(CommandError::Rejected { message, .. }) => {
            Ok((Outcome::invalid(external_id, message), None))
        }
        Err(other) => Err(other.into()),
    }
}
