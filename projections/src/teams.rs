//! The `teams` read model: `department_view`, `team_view` and `team_members`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::team::{DepartmentEvent, Team, TeamEvent};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::runner::{decode, FoldEach, ProjectionError};
use crate::StoredEvent;

/// The projection's name: its checkpoint row's key, and what read-your-writes waits name.
pub const NAME: &str = "teams";

/// Projection name and tables are persisted identifiers.
#[derive(Debug)]
pub struct TeamsProjection;

/// A few events per stream: one statement each.
#[async_trait]
impl FoldEach for TeamsProjection {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["department_view", "team_view", "team_members"];
    const AGGREGATE_TYPES: &'static [&'static str] = &["Department", "Team"];

    async fn fold(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(id) = event.aggregate_uuid() else {
            return Ok(());
        };
        let seq = event.sequence;
        if event.aggregate_type == <domain::team::Department as domain::Aggregate>::TYPE {
            match decode(event)? {
                DepartmentEvent::DepartmentCreated { name, at, .. } => {
                    sqlx::query(
                        "INSERT INTO department_view (id, name, created_at, updated_at, last_sequence) \
                         VALUES ($1, $2, $3, $3, $4) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(at)
                    .bind(seq)
                    .execute(conn)
                    .await?;
                }
                DepartmentEvent::DepartmentRenamed { name, at } => {
                    sqlx::query(
                        "UPDATE department_view SET name = $2, updated_at = $3, last_sequence = $4 \
                          WHERE id = $1 AND last_sequence < $4",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(at)
                    .bind(seq)
                    .execute(conn)
                    .await?;
                }
            }
            return Ok(());
        }
        // A member change also moves the team's `updated_at`.
        let touch = |at: DateTime<Utc>| {
            sqlx::query(
                "UPDATE team_view SET updated_at = $2, last_sequence = $3 \
                  WHERE id = $1 AND last_sequence < $3",
            )
            .bind(id)
            .bind(at)
            .bind(seq)
        };
        match decode(event)? {
            TeamEvent::TeamCreated {
                name,
                department_id,
                at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO team_view (id, name, department_id, created_at, updated_at, last_sequence) \
                     VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(name)
                .bind(department_id)
                .bind(at)
                .bind(seq)
                .execute(conn)
                .await?;
            }
            TeamEvent::TeamRenamed { name, at } => {
                sqlx::query(
                    "UPDATE team_view SET name = $2, updated_at = $3, last_sequence = $4 \
                      WHERE id = $1 AND last_sequence < $4",
                )
                .bind(id)
                .bind(name)
                .bind(at)
                .bind(seq)
                .execute(conn)
                .await?;
            }
            TeamEvent::TeamMovedToDepartment { department_id, at } => {
                sqlx::query(
                    "UPDATE team_view SET department_id = $2, updated_at = $3, last_sequence = $4 \
                      WHERE id = $1 AND last_sequence < $4",
                )
                .bind(id)
                .bind(department_id)
                .bind(at)
                .bind(seq)
                .execute(conn)
                .await?;
            }
            TeamEvent::TeamMemberAdded {
                user_id,
                manager,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO team_members (team_id, user_id, manager, added_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (team_id, user_id) DO UPDATE SET manager = $3, added_at = $4",
                )
                .bind(id)
                .bind(user_id)
                .bind(manager)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                touch(at).execute(conn).await?;
            }
            TeamEvent::TeamManagerChanged {
                user_id,
                manager,
                at,
            } => {
                sqlx::query(
                    "UPDATE team_members SET manager = $3 WHERE team_id = $1 AND user_id = $2",
                )
                .bind(id)
                .bind(user_id)
                .bind(manager)
                .execute(&mut *conn)
                .await?;
                touch(at).execute(conn).await?;
            }
            TeamEvent::TeamMemberRemoved { user_id, at } => {
                sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await?;
                touch(at).execute(conn).await?;
            }
        }
        Ok(())
    }
}

/// A row of `department_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DepartmentRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A row of `team_view`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRow {
    pub id: Uuid,
    pub name: String,
    pub department_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of `team_members`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub team_id: Uuid,
    pub user_id: Uuid,
    /// Whether they manage the team.
    pub manager: bool,
    pub added_at: DateTime<Utc>,
}

/// Every department, by name.
pub async fn departments(pool: &PgPool) -> Result<Vec<DepartmentRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM department_view ORDER BY name, id")
        .fetch_all(pool)
        .await
}

/// One department.
pub async fn department(pool: &PgPool, id: Uuid) -> Result<Option<DepartmentRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM department_view WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Teams by name: of one department, or those `member` is in, or all.
pub async fn teams(
    pool: &PgPool,
    department_id: Option<Uuid>,
    member: Option<Uuid>,
) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, department_id, created_at, updated_at FROM team_view t \
          WHERE ($1::uuid IS NULL OR department_id = $1) \
            AND ($2::uuid IS NULL OR EXISTS \
                 (SELECT 1 FROM team_members m WHERE m.team_id = t.id AND m.user_id = $2)) \
          ORDER BY name, id",
    )
    .bind(department_id)
    .bind(member)
    .fetch_all(pool)
    .await
}

/// One team.
pub async fn team(pool: &PgPool, id: Uuid) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, department_id, created_at, updated_at FROM team_view WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A team's members: managers first, then by when they joined.
pub async fn members(pool: &PgPool, team_id: Uuid) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT team_id, user_id, manager, added_at FROM team_members WHERE team_id = $1 \
          ORDER BY manager DESC, added_at, user_id",
    )
    .bind(team_id)
    .fetch_all(pool)
    .await
}

/// Whether `manager` manages `member` through any team they share: each such team is read
/// (the two of them in it) and `domain::team::Team::manages` decides.
pub async fn manages(pool: &PgPool, manager: Uuid, member: Uuid) -> Result<bool, sqlx::Error> {
    let rows: Vec<(Uuid, Uuid, bool)> = sqlx::query_as(
        "SELECT team_id, user_id, manager FROM team_members \
          WHERE user_id IN ($1, $2) \
            AND team_id IN (SELECT team_id FROM team_members WHERE user_id = $1 AND manager) \
          ORDER BY team_id",
    )
    .bind(manager)
    .bind(member)
    .fetch_all(pool)
    .await?;
    let mut teams: std::collections::BTreeMap<Uuid, Team> = std::collections::BTreeMap::new();
    for (team_id, user_id, manages) in rows {
        teams
            .entry(team_id)
            .or_default()
            .members
            .insert(user_id, manages);
    }
    Ok(teams.values().any(|team| team.manages(manager, member)))
}

/// Whether `user_id` is one of team `team_id`'s managers.
pub async fn is_manager(pool: &PgPool, team_id: Uuid, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2 AND manager)",
    )
    .bind(team_id)
    .bind(user_id)
    .fetch_one(pool)
    .await
}
