//! Billing milestones, the licence and its expiry alerts.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::project::BillingCommand;
use domain::Permission;
use projections::projects::{AlertRow, MilestoneRow};
use uuid::Uuid;

use super::{run, stage_key, ProjectPayload};
use crate::graphql::types::StageKey;

/// A billing milestone.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct Milestone {
    id: Uuid,
    stage: Option<StageKey>,
    title: String,
    /// Amount in minor units (paise, cents).
    amount_minor: i64,
    currency: String,
    /// Billable once its stage completed.
    billable: bool,
    billable_at: Option<DateTime<Utc>>,
}

impl From<MilestoneRow> for Milestone {
    fn from(row: MilestoneRow) -> Self {
        Milestone {
            stage: stage_key(&row.stage),
            id: row.id,
            title: row.title,
            amount_minor: row.amount_minor,
            currency: row.currency,
            billable: row.billable_at.is_some(),
            billable_at: row.billable_at,
        }
    }
}

/// The granted licence or registration.
#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct Licence {
    pub number: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
}

#[derive(SimpleObject, Debug)]
#[graphql(serial)]
pub(super) struct ExpiryAlert {
    days_ahead: i32,
    expires_on: NaiveDate,
    raised_at: DateTime<Utc>,
}

impl From<AlertRow> for ExpiryAlert {
    fn from(row: AlertRow) -> Self {
        ExpiryAlert {
            days_ahead: row.days_ahead,
            expires_on: row.expires_on,
            raised_at: row.raised_at,
        }
    }
}

/// A billing milestone.
#[derive(InputObject, Debug)]
pub(super) struct MilestoneInput {
    /// Stage whose completion makes it billable.
    stage: StageKey,
    title: String,
    /// Amount in minor units (paise, cents), above 0.
    amount_minor: i64,
    /// ISO 4217 currency code.
    currency: String,
}

/// The granted licence.
#[derive(InputObject, Debug)]
pub(super) struct LicenceInput {
    /// Licence or registration number.
    number: String,
    /// Issue date.
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    issued_on: NaiveDate,
    /// Expiry date (after the issue date).
    #[graphql(validator(custom = "crate::graphql::types::Storable"))]
    expires_on: NaiveDate,
}

/// Billing and licence mutations.
#[derive(Default, Debug)]
pub(crate) struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Adds a billing milestone tied to a stage.
    async fn add_milestone(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: MilestoneInput,
    ) -> Result<ProjectPayload> {
        let milestone_id = Uuid::now_v7();
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            Some(milestone_id),
            |_, at| {
                BillingCommand::AddMilestone {
                    milestone_id,
                    stage: input.stage.into(),
                    title: input.title,
                    amount_minor: input.amount_minor,
                    currency: input.currency,
                    at,
                }
                .into()
            },
        )
        .await
    }

    /// Records the granted licence at the Issue stage.
    async fn record_licence(
        &self,
        ctx: &Context<'_>,
        project_id: Uuid,
        input: LicenceInput,
    ) -> Result<ProjectPayload> {
        run(
            ctx,
            project_id,
            Permission::WorkProjects,
            None,
            |actor, at| {
                BillingCommand::RecordLicence {
                    number: input.number,
                    issued_on: input.issued_on,
                    expires_on: input.expires_on,
                    actor,
                    at,
                }
                .into()
            },
        )
        .await
    }
}
