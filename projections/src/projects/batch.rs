//! The in-memory half of the projects fold: `project_view` and `project_tasks`.
//!
//! Most project events change a project's own row or its tasks (progress, subtask status,
//! roll-ups, new tasks). A batch loads the rows of the projects it touches in two queries,
//! folds those events in memory in log order, and writes the changed rows back with one
//! `UNNEST` upsert per table (and one `DELETE` for removed subtasks). The other events are
//! `fold.rs`'s: status changes of checklist items, requests and uploads are gathered per
//! batch there too (`Deferred`), the rest (new requests and uploads, stages, liaison,
//! milestones, alerts) are one statement each; none of them reads these two tables.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use domain::project::{rollup, ProjectEvent, TaskStatus};
use domain::template::StageKey;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::unnest::column;
use crate::StoredEvent;

/// A `project_view` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct ViewRow {
    id: Uuid,
    client_id: Uuid,
    name: String,
    template_id: Uuid,
    family: String,
    template_version: i32,
    status: String,
    current_stage: String,
    stage_started_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_sequence: i64,
    progress: i32,
    stages_complete: bool,
    auto_complete_tasks: bool,
    licence_number: Option<String>,
    licence_issued_on: Option<NaiveDate>,
    licence_expires_on: Option<NaiveDate>,
}

const VIEW_COLUMNS: &str = "id, client_id, name, template_id, family, template_version, status, \
     current_stage, stage_started_at, created_at, updated_at, last_sequence, progress, \
     stages_complete, auto_complete_tasks, licence_number, licence_issued_on, licence_expires_on";

/// A `project_tasks` row (a task or a subtask).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    project_id: Uuid,
    parent_id: Option<Uuid>,
    stage: Option<String>,
    title: String,
    assignee: Option<Uuid>,
    priority: String,
    due_on: Option<NaiveDate>,
    estimate_hours: Option<f64>,
    status: String,
    progress: i32,
    position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const TASK_COLUMNS: &str = "id, project_id, parent_id, stage, title, assignee, priority, due_on, \
     estimate_hours, status, progress, position, created_at, updated_at";

/// The progress of a task without subtasks, or of a subtask: the domain's rule.
fn own_progress(status: TaskStatus) -> i32 {
    basis_points(rollup::task_progress(status, &[]))
}

fn basis_points(progress: u32) -> i32 {
    i32::try_from(progress.min(rollup::FULL)).unwrap_or(i32::MAX)
}

/// The rows of one batch's projects, and which of them changed.
#[derive(Debug, Default)]
pub(super) struct Batch {
    views: HashMap<Uuid, ViewRow>,
    changed_views: Vec<Uuid>,
    touched_views: HashSet<Uuid>,
    tasks: HashMap<Uuid, TaskRow>,
    changed_tasks: Vec<Uuid>,
    touched_tasks: HashSet<Uuid>,
    removed_tasks: Vec<Uuid>,
}

impl Batch {
    /// Loads the rows of `projects`.
    pub(super) async fn load(
        conn: &mut PgConnection,
        projects: &[Uuid],
    ) -> Result<Self, sqlx::Error> {
        let views: Vec<ViewRow> = sqlx::query_as(&format!(
            "SELECT {VIEW_COLUMNS} FROM project_view WHERE id = ANY($1)"
        ))
        .bind(projects)
        .fetch_all(&mut *conn)
        .await?;
        let tasks: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM project_tasks WHERE project_id = ANY($1)"
        ))
        .bind(projects)
        .fetch_all(conn)
        .await?;
        Ok(Self {
            views: views.into_iter().map(|v| (v.id, v)).collect(),
            tasks: tasks.into_iter().map(|t| (t.id, t)).collect(),
            ..Self::default()
        })
    }

    /// Creates the project's row unless it exists; returns whether it was created.
    pub(super) fn create(&mut self, id: Uuid, event: &StoredEvent, payload: &ProjectEvent) -> bool {
        let ProjectEvent::ProjectCreated {
            client_id,
            name,
            template,
            at,
            ..
        } = payload
        else {
            return false;
        };
        if self.views.contains_key(&id) {
            return false;
        }
        self.views.insert(
            id,
            ViewRow {
                id,
                client_id: *client_id,
                name: name.clone(),
                template_id: template.template_id,
                family: template.family.clone(),
                template_version: i32::try_from(template.version).unwrap_or(i32::MAX),
                status: "active".to_owned(),
                current_stage: StageKey::Onboarding.as_str().to_owned(),
                stage_started_at: *at,
                created_at: *at,
                updated_at: *at,
                last_sequence: event.sequence,
                progress: 0,
                stages_complete: false,
                auto_complete_tasks: false,
                licence_number: None,
                licence_issued_on: None,
                licence_expires_on: None,
            },
        );
        self.view_changed(id);
        true
    }

    /// Advances the project's `last_sequence` guard; `None` when the project is unknown or
    /// has already seen the event. Otherwise the client, for the change notice.
    pub(super) fn advance(&mut self, id: Uuid, event: &StoredEvent) -> Option<Uuid> {
        let view = self.views.get_mut(&id)?;
        if view.last_sequence >= event.sequence {
            return None;
        }
        view.last_sequence = event.sequence;
        view.updated_at = event.recorded_at;
        let client = view.client_id;
        self.view_changed(id);
        Some(client)
    }

    /// Folds `payload` if it changes only `project_view` and `project_tasks`; otherwise
    /// hands it back (with the project-row part of `StageAdvanced` already applied).
    pub(super) fn fold(
        &mut self,
        id: Uuid,
        event: &StoredEvent,
        payload: ProjectEvent,
    ) -> Option<ProjectEvent> {
        use ProjectEvent as E;
        let recorded_at = event.recorded_at;
        let Some(view) = self.views.get_mut(&id) else {
            return Some(payload);
        };
        match payload {
            E::ProjectRenamed { name, .. } => view.name = name,
            E::TaskPolicyChanged { auto_complete, .. } => view.auto_complete_tasks = auto_complete,
            E::ProjectStatusChanged { status, .. } => view.status = status.as_str().to_owned(),
            E::ProjectProgressChanged { progress, .. } => {
                view.progress = basis_points(progress);
            }
            E::TemplateMoved { to_version, .. } => {
                view.template_version = i32::try_from(to_version).unwrap_or(i32::MAX);
                // The checklist rows are the SQL half's.
                return Some(payload);
            }
            E::LicenceRecorded {
                number,
                issued_on,
                expires_on,
                ..
            } => {
                view.licence_number = Some(number);
                view.licence_issued_on = Some(issued_on);
                view.licence_expires_on = Some(expires_on);
            }
            E::StageAdvanced { to, at, .. } => {
                match to {
                    Some(next) => {
                        view.current_stage = next.as_str().to_owned();
                        view.stage_started_at = at;
                    }
                    None => view.stages_complete = true,
                }
                // The stage rows are the SQL half's.
                return Some(payload);
            }
            E::TaskAdded {
                task_id,
                stage,
                title,
                assignee,
                priority,
                due_on,
                estimate_hours,
                at,
            } => self.add_task(TaskRow {
                id: task_id,
                project_id: id,
                parent_id: None,
                stage: stage.map(|s| s.as_str().to_owned()),
                title,
                assignee,
                priority: priority.as_str().to_owned(),
                due_on,
                estimate_hours,
                status: TaskStatus::ToDo.as_str().to_owned(),
                progress: 0,
                position: event.global_position,
                created_at: at,
                updated_at: at,
            }),
            E::SubtaskAdded {
                task_id,
                subtask_id,
                title,
                assignee,
                estimate_hours,
                at,
            } => self.add_task(TaskRow {
                id: subtask_id,
                project_id: id,
                parent_id: Some(task_id),
                stage: None,
                title,
                assignee,
                priority: "medium".to_owned(),
                due_on: None,
                estimate_hours,
                status: TaskStatus::ToDo.as_str().to_owned(),
                progress: 0,
                position: event.global_position,
                created_at: at,
                updated_at: at,
            }),
            E::SubtaskRemoved { subtask_id, .. } => {
                if self.tasks.remove(&subtask_id).is_some() {
                    self.removed_tasks.push(subtask_id);
                }
            }
            E::TaskAssigned {
                task_id,
                subtask_id,
                assignee,
                ..
            } => self.update_task(subtask_id.unwrap_or(task_id), |task| {
                task.assignee = Some(assignee);
                task.updated_at = recorded_at;
            }),
            E::TaskStatusChanged {
                task_id, status, ..
            } => {
                // A task with subtasks keeps its rolled-up progress.
                let has_subtasks = self.tasks.values().any(|t| t.parent_id == Some(task_id));
                self.update_task(task_id, |task| {
                    task.status = status.as_str().to_owned();
                    task.updated_at = recorded_at;
                    if !has_subtasks {
                        task.progress = own_progress(status);
                    }
                });
            }
            E::SubtaskStatusChanged {
                subtask_id, status, ..
            } => self.update_task(subtask_id, |task| {
                task.status = status.as_str().to_owned();
                task.progress = own_progress(status);
                task.updated_at = recorded_at;
            }),
            E::TaskRolledUp {
                task_id,
                status,
                progress,
                ..
            } => self.update_task(task_id, |task| {
                task.status = status.as_str().to_owned();
                task.progress = basis_points(progress);
                task.updated_at = recorded_at;
            }),
            other => return Some(other),
        }
        None
    }

    /// The projects this batch created or advanced, with their clients (for change notices).
    pub(super) fn changed(&self) -> Vec<(Uuid, Option<Uuid>)> {
        self.changed_views
            .iter()
            .filter_map(|id| self.views.get(id))
            .map(|view| (view.id, Some(view.client_id)))
            .collect()
    }

    fn view_changed(&mut self, id: Uuid) {
        if self.touched_views.insert(id) {
            self.changed_views.push(id);
        }
    }

    fn add_task(&mut self, task: TaskRow) {
        let id = task.id;
        // A task is added once; the event guard keeps a replay from adding it again.
        self.tasks.entry(id).or_insert(task);
        self.task_changed(id);
    }

    fn update_task(&mut self, id: Uuid, change: impl FnOnce(&mut TaskRow)) {
        if let Some(task) = self.tasks.get_mut(&id) {
            change(task);
            self.task_changed(id);
        }
    }

    fn task_changed(&mut self, id: Uuid) {
        if self.touched_tasks.insert(id) {
            self.changed_tasks.push(id);
        }
    }

    /// Writes the changed rows.
    pub(super) async fn write(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if !self.removed_tasks.is_empty() {
            sqlx::query("DELETE FROM project_tasks WHERE id = ANY($1)")
                .bind(&self.removed_tasks)
                .execute(&mut *conn)
                .await?;
        }
        let views: Vec<&ViewRow> = self
            .changed_views
            .iter()
            .filter_map(|id| self.views.get(id))
            .collect();
        if !views.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO project_view ({VIEW_COLUMNS}) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::int[], \
                                      $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], \
                                      $11::timestamptz[], $12::bigint[], $13::int[], $14::bool[], $15::bool[], \
                                      $16::text[], $17::date[], $18::date[]) \
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, \
                        template_version = EXCLUDED.template_version, current_stage = EXCLUDED.current_stage, stage_started_at = EXCLUDED.stage_started_at, \
                        updated_at = EXCLUDED.updated_at, last_sequence = EXCLUDED.last_sequence, \
                        progress = EXCLUDED.progress, stages_complete = EXCLUDED.stages_complete, \
                        auto_complete_tasks = EXCLUDED.auto_complete_tasks, \
                        licence_number = EXCLUDED.licence_number, \
                        licence_issued_on = EXCLUDED.licence_issued_on, \
                        licence_expires_on = EXCLUDED.licence_expires_on"
            ))
            .bind(column(&views, |r| r.id))
            .bind(column(&views, |r| r.client_id))
            .bind(column(&views, |r| r.name.as_str()))
            .bind(column(&views, |r| r.template_id))
            .bind(column(&views, |r| r.family.as_str()))
            .bind(column(&views, |r| r.template_version))
            .bind(column(&views, |r| r.status.as_str()))
            .bind(column(&views, |r| r.current_stage.as_str()))
            .bind(column(&views, |r| r.stage_started_at))
            .bind(column(&views, |r| r.created_at))
            .bind(column(&views, |r| r.updated_at))
            .bind(column(&views, |r| r.last_sequence))
            .bind(column(&views, |r| r.progress))
            .bind(column(&views, |r| r.stages_complete))
            .bind(column(&views, |r| r.auto_complete_tasks))
            .bind(column(&views, |r| r.licence_number.as_deref()))
            .bind(column(&views, |r| r.licence_issued_on))
            .bind(column(&views, |r| r.licence_expires_on))
            .execute(&mut *conn)
            .await?;
        }
        let tasks: Vec<&TaskRow> = self
            .changed_tasks
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .collect();
        if !tasks.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO project_tasks ({TASK_COLUMNS}) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], \
                                      $7::text[], $8::date[], $9::float8[], $10::text[], $11::int[], \
                                      $12::bigint[], $13::timestamptz[], $14::timestamptz[]) \
                 ON CONFLICT (id) DO UPDATE SET assignee = EXCLUDED.assignee, status = EXCLUDED.status, \
                        progress = EXCLUDED.progress, updated_at = EXCLUDED.updated_at"
            ))
            .bind(column(&tasks, |r| r.id))
            .bind(column(&tasks, |r| r.project_id))
            .bind(column(&tasks, |r| r.parent_id))
            .bind(column(&tasks, |r| r.stage.as_deref()))
            .bind(column(&tasks, |r| r.title.as_str()))
            .bind(column(&tasks, |r| r.assignee))
            .bind(column(&tasks, |r| r.priority.as_str()))
            .bind(column(&tasks, |r| r.due_on))
            .bind(column(&tasks, |r| r.estimate_hours))
            .bind(column(&tasks, |r| r.status.as_str()))
            .bind(column(&tasks, |r| r.progress))
            .bind(column(&tasks, |r| r.position))
            .bind(column(&tasks, |r| r.created_at))
            .bind(column(&tasks, |r| r.updated_at))
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}
