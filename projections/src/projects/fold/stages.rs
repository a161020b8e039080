//! A project's stages, checklists and milestones as created, and as moved to another
//! template version.

use chrono::{DateTime, Utc};
use domain::project::{ItemStatus, ProjectEvent};
use domain::template::StageSpec;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::runner::ProjectionError;
use crate::unnest::column;

/// Inserts a new project's stages, checklist items and its version's milestones, one
/// statement each (the project's row is [`Batch::create`]'s).
pub(super) async fn created(
    conn: &mut PgConnection,
    id: Uuid,
    payload: ProjectEvent,
) -> Result<(), ProjectionError> {
    let ProjectEvent::ProjectCreated { stages, at, .. } = payload else {
        return Ok(());
    };
    let milestones: Vec<_> = stages
        .iter()
        .flat_map(|stage| stage.milestones.iter().map(move |m| (stage.stage, m)))
        .collect();
    if !milestones.is_empty() {
        sqlx::query(
            "INSERT INTO project_milestones (id, project_id, stage, title, amount_minor, currency, created_at) \
             SELECT i, $2, s, t, a, c, $7 FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[]) \
                    AS m(i, s, t, a, c)",
        )
        .bind(column(&milestones, |(_, m)| {
            domain::project::template_milestone_id(id, &m.key)
        }))
        .bind(id)
        .bind(column(&milestones, |(stage, _)| stage.as_str()))
        .bind(column(&milestones, |(_, m)| m.title.as_str()))
        .bind(column(&milestones, |(_, m)| m.amount_minor))
        .bind(column(&milestones, |(_, m)| m.currency.as_str()))
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    // Stages and checklist items go in with one statement each.
    let positions: Vec<i32> = (0i32..).take(stages.len()).collect();
    sqlx::query(
        "INSERT INTO project_stages (project_id, stage, position, sla_days, sla_extension_days, started_at) \
         SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::int[], $5::int[], $6::timestamptz[])",
    )
    .bind(id)
    .bind(column(&stages, |stage| stage.stage.as_str()))
    .bind(&positions)
    .bind(column(&stages, |stage| {
        stage.sla_days.and_then(|d| i32::try_from(d).ok())
    }))
    .bind(column(&stages, |stage| {
        stage.sla_extension_days.and_then(|d| i32::try_from(d).ok())
    }))
    .bind(column(&positions, |position| (*position == 0).then_some(at)))
    .execute(&mut *conn)
    .await?;
    checklists(conn, id, &stages, None).await?;
    Ok(())
}

/// Makes project `id`'s checklists those of `stages`: items it lacks are deleted, new ones
/// start pending, kept ones keep their status and take `stages`' attributes (on creation
/// every item is new). One statement.
pub(super) async fn checklists(
    conn: &mut PgConnection,
    id: Uuid,
    stages: &[StageSpec],
    updated_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let items: Vec<_> = stages
        .iter()
        .flat_map(|stage| {
            (0i32..)
                .zip(&stage.items)
                .map(move |(position, item)| (stage, position, item))
        })
        .collect();
    sqlx::query(
        "WITH new AS (SELECT * FROM UNNEST($2::text[], $3::text[], $4::int[], $5::text[], $6::bool[], \
                                          $7::bool[], $8::text[]) \
                        AS n(stage, key, position, title, mandatory, evidence_required, responsible_role)), \
              gone AS (DELETE FROM project_checklist_items i WHERE i.project_id = $1 \
                          AND NOT EXISTS (SELECT 1 FROM new WHERE new.stage = i.stage AND new.key = i.key)) \
         INSERT INTO project_checklist_items (project_id, stage, key, position, title, mandatory, \
                evidence_required, responsible_role, status, updated_at) \
         SELECT $1, new.*, $9, $10 FROM new \
         ON CONFLICT (project_id, stage, key) DO UPDATE SET position = EXCLUDED.position, \
                title = EXCLUDED.title, mandatory = EXCLUDED.mandatory, \
                evidence_required = EXCLUDED.evidence_required, responsible_role = EXCLUDED.responsible_role",
    )
    .bind(id)
    .bind(column(&items, |(stage, _, _)| stage.stage.as_str()))
    .bind(column(&items, |(_, _, item)| item.key.as_str()))
    .bind(column(&items, |(_, position, _)| *position))
    .bind(column(&items, |(_, _, item)| item.title.as_str()))
    .bind(column(&items, |(_, _, item)| item.mandatory))
    .bind(column(&items, |(_, _, item)| item.evidence_required))
    .bind(column(&items, |(_, _, item)| item.responsible_role.as_str()))
    .bind(ItemStatus::Pending.as_str())
    .bind(updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A move to another template version: the checklists become its own ([`checklists`]);
/// each stage takes the new version's clock.
pub(super) async fn moved(
    conn: &mut PgConnection,
    id: Uuid,
    stages: &[StageSpec],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    checklists(&mut *conn, id, stages, Some(at)).await?;
    sqlx::query(
        "UPDATE project_stages s SET sla_days = n.sla_days, sla_extension_days = n.ext \
           FROM UNNEST($2::text[], $3::int[], $4::int[]) AS n(stage, sla_days, ext) \
          WHERE s.project_id = $1 AND s.stage = n.stage",
    )
    .bind(id)
    .bind(column(stages, |stage| stage.stage.as_str()))
    .bind(column(stages, |stage| {
        stage.sla_days.and_then(|d| i32::try_from(d).ok())
    }))
    .bind(column(stages, |stage| {
        stage.sla_extension_days.and_then(|d| i32::try_from(d).ok())
    }))
    .execute(conn)
    .await?;
    Ok(())
}
