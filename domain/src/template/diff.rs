//! The structured difference between two versions of a template's definition: what a rule
//! change shows its reviewers, and what `templateDiff` answers.

use serde::Serialize;

use super::{ChecklistItemSpec, MilestoneSpec, StageKey, StageSpec};

/// One difference, in stage order, then the order of the later version's items (removed
/// items after them, in the earlier version's order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    ItemAdded {
        stage: StageKey,
        item: ChecklistItemSpec,
    },
    ItemRemoved {
        stage: StageKey,
        item: ChecklistItemSpec,
    },
    /// The same key with other attributes; `fields` names them (`title`, `mandatory`,
    /// `evidence_required`, `responsible_role`, `request`).
    ItemChanged {
        stage: StageKey,
        before: ChecklistItemSpec,
        after: ChecklistItemSpec,
        fields: Vec<&'static str>,
    },
    /// The stage's clock (`sla_days`) or its extension (`sla_extension_days`).
    ClockChanged {
        stage: StageKey,
        field: &'static str,
        before: Option<u32>,
        after: Option<u32>,
    },
    MilestoneAdded {
        stage: StageKey,
        milestone: MilestoneSpec,
    },
    MilestoneRemoved {
        stage: StageKey,
        milestone: MilestoneSpec,
    },
    /// The same key with other attributes; `fields` names them (`title`, `amount_minor`,
    /// `currency`).
    MilestoneChanged {
        stage: StageKey,
        before: MilestoneSpec,
        after: MilestoneSpec,
        fields: Vec<&'static str>,
    },
}

fn fields(before: &ChecklistItemSpec, after: &ChecklistItemSpec) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if before.title != after.title {
        fields.push("title");
    }
    if before.mandatory != after.mandatory {
        fields.push("mandatory");
    }
    if before.evidence_required != after.evidence_required {
        fields.push("evidence_required");
    }
    if before.responsible_role != after.responsible_role {
        fields.push("responsible_role");
    }
    if before.request != after.request {
        fields.push("request");
    }
    fields
}

fn milestone_fields(before: &MilestoneSpec, after: &MilestoneSpec) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if before.title != after.title {
        fields.push("title");
    }
    if before.amount_minor != after.amount_minor {
        fields.push("amount_minor");
    }
    if before.currency != after.currency {
        fields.push("currency");
    }
    fields
}

/// What changes from `from` to `to`, stage by stage: its clock, its items, its milestones.
/// Items and milestones are matched by key within a stage: one moved to another stage is
/// removed from one and added to the other.
pub fn diff(from: &[StageSpec], to: &[StageSpec]) -> Vec<Change> {
    let mut changes = Vec::new();
    for stage in StageKey::ORDER {
        let before = from.iter().find(|s| s.stage == stage);
        let after = to.iter().find(|s| s.stage == stage);
        let none: &[ChecklistItemSpec] = &[];
        let old = before.map_or(none, |s| s.items.as_slice());
        let new = after.map_or(none, |s| s.items.as_slice());
        for (field, b, a) in [
            (
                "sla_days",
                before.and_then(|s| s.sla_days),
                after.and_then(|s| s.sla_days),
            ),
            (
                "sla_extension_days",
                before.and_then(|s| s.sla_extension_days),
                after.and_then(|s| s.sla_extension_days),
            ),
        ] {
            if b != a {
                changes.push(Change::ClockChanged {
                    stage,
                    field,
                    before: b,
                    after: a,
                });
            }
        }
        for item in new {
            match old.iter().find(|o| o.key == item.key) {
                None => changes.push(Change::ItemAdded {
                    stage,
                    item: item.clone(),
                }),
                Some(was) if was != item => changes.push(Change::ItemChanged {
                    stage,
                    before: was.clone(),
                    after: item.clone(),
                    fields: fields(was, item),
                }),
                Some(_) => {}
            }
        }
        for item in old {
            if !new.iter().any(|n| n.key == item.key) {
                changes.push(Change::ItemRemoved {
                    stage,
                    item: item.clone(),
                });
            }
        }
        let none: &[MilestoneSpec] = &[];
        let old = before.map_or(none, |s| s.milestones.as_slice());
        let new = after.map_or(none, |s| s.milestones.as_slice());
        for milestone in new {
            match old.iter().find(|o| o.key == milestone.key) {
                None => changes.push(Change::MilestoneAdded {
                    stage,
                    milestone: milestone.clone(),
                }),
                Some(was) if was != milestone => changes.push(Change::MilestoneChanged {
                    stage,
                    before: was.clone(),
                    after: milestone.clone(),
                    fields: milestone_fields(was, milestone),
                }),
                Some(_) => {}
            }
        }
        for milestone in old {
            if !new.iter().any(|n| n.key == milestone.key) {
                changes.push(Change::MilestoneRemoved {
                    stage,
                    milestone: milestone.clone(),
                });
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn item(key: &str, mandatory: bool) -> ChecklistItemSpec {
        ChecklistItemSpec {
            key: key.into(),
            title: format!("{key} title"),
            mandatory,
            evidence_required: true,
            responsible_role: Role::Consultant,
            request: None,
        }
    }

    fn fee(key: &str, amount_minor: i64) -> MilestoneSpec {
        MilestoneSpec {
            key: key.into(),
            title: format!("{key} fee"),
            amount_minor,
            currency: "INR".into(),
        }
    }

    fn stages(filing: Vec<ChecklistItemSpec>, sla: Option<u32>) -> Vec<StageSpec> {
        StageKey::ORDER
            .iter()
            .map(|&stage| StageSpec {
                stage,
                sla_days: if stage == StageKey::Filing { sla } else { None },
                sla_extension_days: None,
                items: if stage == StageKey::Filing {
                    filing.clone()
                } else {
                    vec![item("kyc", true)]
                },
                milestones: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn the_same_definition_has_no_changes() {
        let v1 = stages(vec![item("a", true)], Some(30));
        assert_eq!(diff(&v1, &v1), Vec::new());
    }

    #[test]
    fn added_removed_changed_items_and_clocks_are_each_named() {
        let v1 = stages(vec![item("a", true), item("b", true)], Some(30));
        let v2 = stages(vec![item("a", false), item("c", true)], Some(45));
        let changes = diff(&v1, &v2);
        assert_eq!(
            changes,
            vec![
                Change::ClockChanged {
                    stage: StageKey::Filing,
                    field: "sla_days",
                    before: Some(30),
                    after: Some(45)
                },
                Change::ItemChanged {
                    stage: StageKey::Filing,
                    before: item("a", true),
                    after: item("a", false),
                    fields: vec!["mandatory"]
                },
                Change::ItemAdded {
                    stage: StageKey::Filing,
                    item: item("c", true)
                },
                Change::ItemRemoved {
                    stage: StageKey::Filing,
                    item: item("b", true)
                },
            ]
        );
    }

    #[test]
    fn request_templates_and_milestones_are_named_too() {
        let mut v1 = stages(vec![item("a", true)], None);
        v1[2].milestones = vec![fee("filing", 50_000), fee("review", 10_000)];
        let mut v2 = v1.clone();
        v2[2].items[0].request = Some(crate::template::RequestTemplate {
            instructions: "Upload the signed form".into(),
            due_in_days: Some(15),
        });
        v2[2].milestones = vec![fee("filing", 75_000), fee("licence", 20_000)];
        let kinds: Vec<(&str, Vec<&str>)> = diff(&v1, &v2)
            .iter()
            .map(|c| match c {
                Change::ItemChanged { fields, .. } => ("item_changed", fields.clone()),
                Change::MilestoneChanged { fields, .. } => ("milestone_changed", fields.clone()),
                Change::MilestoneAdded { .. } => ("milestone_added", Vec::new()),
                Change::MilestoneRemoved { .. } => ("milestone_removed", Vec::new()),
                _ => ("other", Vec::new()),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("item_changed", vec!["request"]),
                ("milestone_changed", vec!["amount_minor"]),
                ("milestone_added", Vec::new()),
                ("milestone_removed", Vec::new()),
            ]
        );
    }
}
