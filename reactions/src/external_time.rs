//! The `external-time` reactor: entries from the productivity platform become drafts.

use std::sync::Arc;

use async_trait::async_trait;
use commands::{CommandBus, CommandError};
use projections::runner::decode;
use projections::StoredEvent;

use crate::runner::{reaction_context, ReactionError, Reactor};

/// Logs each mapped entry from the productivity platform as its user's draft, under the
/// entry id derived from it; when the timesheet refuses it (the daily limit, a closed
/// month), the entry goes back to the review queue with the reason.
#[derive(Debug)]
pub(crate) struct ExternalTime {
    /// The command bus.
    pub bus: Arc<CommandBus>,
}

impl ExternalTime {
    /// Persisted name.
    pub(crate) const NAME: &'static str = "external-time";
}

#[async_trait]
impl Reactor for ExternalTime {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["ExternalEntry"]
    }

    /// A person's entries in log order (their timesheets are their streams), different
    /// people's side by side.
    fn partition(&self, event: &StoredEvent) -> u128 {
        use domain::integration::ExternalEntryEvent as E;
        match decode(event) {
            Ok(E::ExternalEntryReceived {
                mapping: Some(mapping),
                ..
            })
            | Ok(E::ExternalEntryMapped { mapping, .. }) => mapping.user_id.as_u128(),
            _ => 0,
        }
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), ReactionError> {
        use domain::integration::{
            time_entry_id, ExternalEntry, ExternalEntryCommand, ExternalEntryEvent as E,
        };
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let (input, mapping) = match decode(event)? {
            E::ExternalEntryReceived {
                input,
                mapping: Some(mapping),
                ..
            } => (input, mapping),
            E::ExternalEntryMapped { mapping, .. } => {
                let entry: ExternalEntry = self.bus.load(id).await?;
                let Some(input) = entry.input else {
                    return Ok(());
                };
                (input, mapping)
            }
            _ => return Ok(()),
        };
        let month = domain::statement::Month::of(input.date);
        let month_closed = projections::statements::closed_for_matter(
            self.bus.pool(),
            mapping.work.matter_id(),
            month,
        )
        .await
        .map_err(|e| ReactionError(e.to_string()))?;
        let ctx = reaction_context(self.bus.pool(), Self::NAME, event, "log").await?;
        let command = domain::timesheet::TimesheetCommand::Log {
            user_id: mapping.user_id,
            entry_id: time_entry_id(id),
            entry: domain::timesheet::EntryInput {
                date: input.date,
                minutes: input.minutes,
                description: input.description,
                billable: input.billable,
                work: mapping.work,
            },
            month_closed,
            external_id: Some(input.external_id),
            at: event.recorded_at,
        };
        let week = chrono::Datelike::iso_week(&input.date);
        match self
            .bus
            .timesheet(&ctx, mapping.user_id, week, command)
            .await
        {
            Ok(_) => Ok(()),
            Err(CommandError::Rejected { message, .. }) => {
                let ctx = reaction_context(self.bus.pool(), Self::NAME, event, "refuse").await?;
                let refuse = ExternalEntryCommand::Refuse {
                    reason: message,
                    at: event.recorded_at,
                };
                self.bus.external_entry(&ctx, id, refuse).await?;
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}
