//! What a project's history would have been under another template definition: its own
//! events replayed twice, once as they happened and once with the checklists and clocks of
//! the definition under review, and the differences read off the pair.
//!
//! The what-if project starts on the proposed stages and never moves version (a
//! `TemplateMoved` of the real history is not replayed into it); every other event applies
//! to both as it happened, so items keep the statuses they really reached where the
//! proposal has them, and items the proposal adds stay pending.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;

use super::event::{ItemRef, ProjectEvent};
use super::model::*;
use crate::template::{StageKey, StageSpec};

/// A stage the project really left that the proposal would have kept it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedGate {
    pub stage: StageKey,
    /// When the project really advanced.
    pub advanced_at: DateTime<Utc>,
    /// The proposal's mandatory items not verified or waived then.
    pub missing: Vec<String>,
}

/// A stage whose clock the proposal would have seen run out, and its own did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachedClock {
    pub stage: StageKey,
    pub used_days: i64,
    /// Under the proposal (with the extension granted, as far as the proposal allows one).
    pub allowed_days: i64,
    /// Under the version the project ran on (none: it had no clock).
    pub allowed_days_then: Option<i64>,
}

/// What would differ for one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DryRun {
    /// Mandatory items of its current stage the proposal would add to what it misses now
    /// (none for a closed project).
    pub missing_now: Vec<ItemRef>,
    pub refused_gates: Vec<RefusedGate>,
    pub breached_clocks: Vec<BreachedClock>,
}

impl DryRun {
    /// Nothing would differ.
    pub fn is_empty(&self) -> bool {
        self.missing_now.is_empty()
            && self.refused_gates.is_empty()
            && self.breached_clocks.is_empty()
    }
}

fn unsettled(project: &Project, stage: StageKey) -> Vec<String> {
    project
        .stage(stage)
        .map(|s| {
            s.items
                .iter()
                .filter(|i| i.mandatory && !i.status.is_settled())
                .map(|i| i.key.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Replays `history` (one project's events, in order) under `proposal`, with clocks read
/// at `now`.
pub fn dry_run(
    history: impl IntoIterator<Item = ProjectEvent>,
    proposal: &[StageSpec],
    now: DateTime<Utc>,
) -> DryRun {
    let mut real = Project::default();
    let mut what_if = Project::default();
    let mut out = DryRun::default();
    for event in history {
        match &event {
            ProjectEvent::ProjectCreated { .. } => {
                let mut proposed = event.clone();
                if let ProjectEvent::ProjectCreated { stages, .. } = &mut proposed {
                    *stages = proposal.to_vec();
                }
                what_if.apply(proposed);
                real.apply(event);
                continue;
            }
            ProjectEvent::TemplateMoved { .. } => {
                real.apply(event);
                continue;
            }
            ProjectEvent::StageAdvanced { from, at, .. } => {
                let missing = unsettled(&what_if, *from);
                if !missing.is_empty() {
                    out.refused_gates.push(RefusedGate {
                        stage: *from,
                        advanced_at: *at,
                        missing,
                    });
                }
            }
            _ => {}
        }
        what_if.apply(event.clone());
        real.apply(event);
    }
    if real.status != ProjectStatus::Closed && !real.stages_complete {
        if let Some(stage) = real.current_stage {
            let missing_then = unsettled(&real, stage);
            out.missing_now = unsettled(&what_if, stage)
                .into_iter()
                .filter(|key| !missing_then.contains(key))
                .map(|key| ItemRef { stage, key })
                .collect();
        }
    }
    for (proposed, spec) in what_if.stages.iter().zip(proposal) {
        let mut clock = proposed.clock();
        clock.extended_days = clock
            .extended_days
            .map(|granted| granted.min(spec.sla_extension_days.unwrap_or(0)));
        let then = real.stage(proposed.stage).map(ProjectStage::clock);
        let breached_then = then.is_some_and(|c| c.breached(now));
        if let (Some(used_days), Some(allowed_days)) = (clock.used_days(now), clock.allowed_days())
        {
            if clock.breached(now) && !breached_then {
                out.breached_clocks.push(BreachedClock {
                    stage: proposed.stage,
                    used_days,
                    allowed_days,
                    allowed_days_then: then.and_then(|c| c.allowed_days()),
                });
            }
        }
    }
    out
}
