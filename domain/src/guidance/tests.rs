//! Tests of `guidance`.

use super::*;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn date(d: &str) -> NaiveDate {
    d.parse().unwrap_or_default()
}

fn record(effective_on: Option<&str>) -> GuidanceCommand {
    GuidanceCommand::Record {
        guidance_id: stream_id("rbi", "RBI/2026-27/12"),
        guidance: GuidanceInput {
            regulator: " rbi ".into(),
            circular_ref: "RBI/2026-27/12".into(),
            title: "Scale-based regulation: revised capital norms".into(),
            issued_on: date("2026-11-02"),
            effective_on: effective_on.map(date),
            summary: "Tier 2 capital composition changes.".into(),
            families: vec!["rbi-nbfc".into(), "RBI-NBFC".into()],
        },
        by: Uuid::from_u128(1),
        at: at(),
    }
}

fn when(g: &mut Guidance, c: GuidanceCommand) -> Result<Vec<GuidanceEvent>, GuidanceError> {
    let events = g.decide(c)?;
    for e in events.clone() {
        g.apply(e);
    }
    Ok(events)
}

fn impact(template: u128) -> TemplateImpact {
    TemplateImpact {
        template_id: Uuid::from_u128(template),
        stages: vec![StageKey::Filing, StageKey::Filing],
        items: vec!["capital_plan".into()],
    }
}

fn assess(impacts: Vec<TemplateImpact>) -> GuidanceCommand {
    GuidanceCommand::Assess {
        impacts,
        severity: Severity::High,
        narrative: "Add a capital plan to filing.".into(),
        by: Uuid::from_u128(2),
        at: at(),
    }
}

#[test]
fn a_circular_is_recorded_once_per_regulator() {
    assert_eq!(
        stream_id("RBI", "rbi/2026-27/12 "),
        stream_id("rbi", "RBI/2026-27/12")
    );
    assert_ne!(
        stream_id("SEBI", "RBI/2026-27/12"),
        stream_id("RBI", "RBI/2026-27/12")
    );
    let mut g = Guidance::default();
    let events = when(&mut g, record(Some("2027-01-01"))).unwrap_or_default();
    assert!(
        matches!(events.as_slice(), [GuidanceEvent::GuidanceRecorded { regulator, families, .. }]
        if regulator == "RBI" && families == &["RBI-NBFC"])
    );
    assert!(matches!(
        g.decide(record(None)),
        Err(GuidanceError::Conflict(_))
    ));
}

#[test]
fn dates_and_text_are_checked() {
    let g = Guidance::default();
    assert!(matches!(
        g.decide(record(Some("2026-10-01"))),
        Err(GuidanceError::Invalid(_))
    ));
}

#[test]
fn assessments_name_templates_once_and_can_be_redone_until_closed() {
    let mut g = Guidance::default();
    when(&mut g, record(None)).ok();
    assert!(matches!(
        g.decide(assess(Vec::new())),
        Err(GuidanceError::Invalid(_))
    ));
    assert!(matches!(
        g.decide(assess(vec![impact(5), impact(5)])),
        Err(GuidanceError::Invalid(_))
    ));
    let events = when(&mut g, assess(vec![impact(5)])).unwrap_or_default();
    assert!(
        matches!(events.as_slice(), [GuidanceEvent::GuidanceAssessed { impacts, .. }]
        if impacts[0].stages == [StageKey::Filing])
    );
    assert!(when(&mut g, assess(vec![impact(5), impact(6)])).is_ok());
    assert_eq!(g.assessments, 2);
    let close = GuidanceCommand::NoAction {
        reason: "superseded".into(),
        by: Uuid::from_u128(2),
        at: at(),
    };
    assert!(when(&mut g, close.clone()).is_ok());
    assert!(matches!(
        g.decide(assess(vec![impact(5)])),
        Err(GuidanceError::NotAllowed(_))
    ));
    assert!(matches!(g.decide(close), Err(GuidanceError::NotAllowed(_))));
}

#[test]
fn a_source_document_is_attached_once_per_content() {
    let attach = |n: u128, sha: &str| GuidanceCommand::AttachDocument {
        document_id: Uuid::from_u128(n),
        file: FileMeta {
            name: "circular.pdf".into(),
            size: 10,
            media_type: "application/pdf".into(),
            sha256: sha.into(),
            storage_key: format!("guidance/x/{n}"),
        },
        by: Uuid::from_u128(2),
        at: at(),
    };
    let mut g = Guidance::default();
    assert!(matches!(
        g.decide(attach(1, "aa")),
        Err(GuidanceError::NotFound(_))
    ));
    when(&mut g, record(None)).ok();
    assert!(when(&mut g, attach(1, "aa")).is_ok());
    assert!(matches!(
        g.decide(attach(2, "aa")),
        Err(GuidanceError::Conflict(_))
    ));
    assert!(when(&mut g, attach(3, "bb")).is_ok());
    assert_eq!(g.documents, ["aa", "bb"]);
}

#[test]
fn published_rule_changes_action_an_item_once_each_and_never_a_closed_one() {
    let action = |change: u128| GuidanceCommand::Action {
        rule_change_id: Uuid::from_u128(change),
        template_id: Uuid::from_u128(5),
        version: 2,
        at: at(),
    };
    let mut g = Guidance::default();
    when(&mut g, record(None)).ok();
    assert_eq!(when(&mut g, action(10)).map(|e| e.len()), Ok(1));
    assert_eq!(g.status, Some(GuidanceStatus::Actioned));
    assert_eq!(when(&mut g, action(10)).map(|e| e.len()), Ok(0));
    assert_eq!(when(&mut g, action(11)).map(|e| e.len()), Ok(1));
    assert!(matches!(
        g.decide(assess(vec![impact(5)])),
        Err(GuidanceError::NotAllowed(_))
    ));
    let mut closed = Guidance::default();
    when(&mut closed, record(None)).ok();
    let close = GuidanceCommand::NoAction {
        reason: "superseded".into(),
        by: Uuid::from_u128(2),
        at: at(),
    };
    when(&mut closed, close).ok();
    assert!(matches!(
        closed.decide(action(10)),
        Err(GuidanceError::NotAllowed(_))
    ));
}
