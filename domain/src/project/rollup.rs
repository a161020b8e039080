//! Roll-up: how subtask states decide a task's status, and how completed work becomes
//! progress on tasks, stages and the project. Pure functions; docs/PROGRESS.md walks through
//! an example.
//!
//! Progress is kept in basis points (0 to 10 000) so that events carry integers and every
//! replica computes the same value.

use serde::{Deserialize, Serialize};

/// Status of a task or subtask. Serialized names are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Not started.
    #[default]
    ToDo,
    /// Being worked.
    InProgress,
    /// Done, awaiting review.
    Review,
    /// Done.
    Completed,
    /// Cannot proceed.
    Blocked,
}

impl TaskStatus {
    /// Persisted / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::ToDo => "to_do",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Review => "review",
            TaskStatus::Completed => "completed",
            TaskStatus::Blocked => "blocked",
        }
    }
}

/// 100 % in basis points.
pub const FULL: u32 = 10_000;

/// The weight of a task or subtask: its estimate in hours, or 1 without one.
pub fn weight(estimate_hours: Option<f64>) -> f64 {
    match estimate_hours {
        Some(hours) if hours.is_finite() && hours > 0.0 => hours,
        _ => 1.0,
    }
}

/// The status a task with these subtask statuses takes. `None` when there are no subtasks
/// (the task's own status stands). `auto_complete`: all subtasks completed completes the
/// task instead of sending it to review.
pub fn derived_status(subtasks: &[TaskStatus], auto_complete: bool) -> Option<TaskStatus> {
    if subtasks.is_empty() {
        return None;
    }
    let all = |s: TaskStatus| subtasks.iter().all(|&x| x == s);
    let any = |s: TaskStatus| subtasks.contains(&s);
    Some(if any(TaskStatus::Blocked) {
        TaskStatus::Blocked
    } else if all(TaskStatus::Completed) {
        if auto_complete {
            TaskStatus::Completed
        } else {
            TaskStatus::Review
        }
    } else if all(TaskStatus::ToDo) {
        TaskStatus::ToDo
    } else {
        TaskStatus::InProgress
    })
}

/// Estimate-weighted share of `done` items, in basis points; 0 for no items.
pub fn weighted_share(items: impl IntoIterator<Item = (f64, f64)>) -> u32 {
    // (weight, fraction done 0..=1)
    let (mut total, mut done) = (0.0_f64, 0.0_f64);
    for (w, fraction) in items {
        total += w;
        done += w * fraction.clamp(0.0, 1.0);
    }
    if total <= 0.0 {
        return 0;
    }
    // Rounded to the nearest basis point; exact shares stay exact.
    ((done / total) * f64::from(FULL))
        .round()
        .clamp(0.0, f64::from(FULL)) as u32
}

/// A task's progress: the weighted share of completed subtasks, or 0 / 100 % by its own
/// status when it has none.
pub fn task_progress(own: TaskStatus, subtasks: &[(TaskStatus, Option<f64>)]) -> u32 {
    if subtasks.is_empty() {
        return if own == TaskStatus::Completed {
            FULL
        } else {
            0
        };
    }
    weighted_share(subtasks.iter().map(|&(status, estimate)| {
        (
            weight(estimate),
            if status == TaskStatus::Completed {
                1.0
            } else {
                0.0
            },
        )
    }))
}

/// Progress over tasks: (task estimate, task progress in basis points).
pub fn tasks_progress(tasks: impl IntoIterator<Item = (Option<f64>, u32)>) -> u32 {
    weighted_share(
        tasks
            .into_iter()
            .map(|(estimate, progress)| (weight(estimate), f64::from(progress) / f64::from(FULL))),
    )
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::*;
    use super::*;

    #[test]
    fn subtasks_decide_the_task_status() {
        assert_eq!(derived_status(&[], false), None);
        assert_eq!(derived_status(&[ToDo, ToDo], false), Some(ToDo));
        assert_eq!(derived_status(&[ToDo, InProgress], false), Some(InProgress));
        assert_eq!(derived_status(&[ToDo, Completed], false), Some(InProgress));
        assert_eq!(derived_status(&[Review, ToDo], false), Some(InProgress));
        assert_eq!(derived_status(&[Completed, Completed], false), Some(Review));
        assert_eq!(
            derived_status(&[Completed, Completed], true),
            Some(Completed)
        );
        assert_eq!(derived_status(&[Completed, Blocked], false), Some(Blocked));
        assert_eq!(derived_status(&[Blocked, Blocked], false), Some(Blocked));
    }

    #[test]
    fn reopening_a_subtask_reopens_the_task() {
        assert_eq!(
            derived_status(&[Completed, Completed], true),
            Some(Completed)
        );
        assert_eq!(
            derived_status(&[Completed, InProgress], true),
            Some(InProgress)
        );
    }

    #[test]
    fn task_progress_is_the_estimate_weighted_share_of_completed_subtasks() {
        assert_eq!(task_progress(ToDo, &[]), 0);
        assert_eq!(task_progress(Completed, &[]), FULL);
        // 3 h done of 3 h + 1 h (no estimate weighs 1): 75 %.
        assert_eq!(
            task_progress(InProgress, &[(Completed, Some(3.0)), (ToDo, None)]),
            7_500
        );
        assert_eq!(task_progress(Blocked, &[(Blocked, Some(2.0))]), 0);
    }

    #[test]
    fn project_progress_weights_tasks_by_estimate_and_is_zero_when_empty() {
        assert_eq!(tasks_progress([]), 0);
        assert_eq!(tasks_progress([(Some(8.0), FULL), (Some(2.0), 0)]), 8_000);
        assert_eq!(tasks_progress([(None, 5_000), (None, FULL)]), 7_500);
        // All blocked: nothing done.
        assert_eq!(tasks_progress([(Some(4.0), 0), (None, 0)]), 0);
    }

    #[test]
    fn thirds_round_to_the_nearest_basis_point() {
        assert_eq!(tasks_progress([(None, FULL), (None, 0), (None, 0)]), 3_333);
        assert_eq!(
            tasks_progress([(None, FULL), (None, FULL), (None, 0)]),
            6_667
        );
    }
}
