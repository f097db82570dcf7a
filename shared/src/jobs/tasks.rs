//! The tasks queue consumer: run-now requests of scheduled work, one JSON message
//! each, told apart by `kind` (`{"kind": "data_cleanup", "config_id": 3, "run_id":
//! "…"}`). A new kind (`data_reset`) is a new [`Task`] variant and a match arm.
//! Messages are independent: one failing holds no other back.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};

use super::data_cleanup::{self, Trigger, RUN_BUDGET};
use super::sqs::{handle_batch, JobError};
use crate::app::AppState;
use crate::services::data_cleanup::CleanupTask;

/// A run-now request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// Runs the data cleanup (jobs.md J3) now.
    DataCleanup(CleanupTask),
}

impl Task {
    /// The wire name of the task's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::DataCleanup(_) => "data_cleanup",
        }
    }
}

/// Runs one task.
pub async fn run(state: &AppState, task: Task) -> Result<(), JobError> {
    match task {
        Task::DataCleanup(t) => {
            let run_id = if t.run_id.is_empty() {
                uuid::Uuid::new_v4().simple().to_string()
            } else {
                t.run_id
            };
            let now = state.clock.now();
            let report = data_cleanup::run_with(
                state,
                now,
                t.config_id,
                &run_id,
                Trigger::Manual,
                RUN_BUDGET,
            )
            .await?;
            if report.skipped {
                tracing::info!(run_id, "run-now request met a running cleanup; dropped");
            }
            Ok(())
        }
    }
}

/// Handles a batch of the tasks queue (partial batch failures).
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let decode = |body: &str| serde_json::from_str::<Task>(body).map_err(|e| e.to_string());
    handle_batch(event, decode, |_: &Task| false, |task| run(state, task)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_their_kind() {
        let t = Task::DataCleanup(CleanupTask {
            config_id: Some(3),
            run_id: "r1".into(),
        });
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "data_cleanup", "config_id": 3, "run_id": "r1"})
        );
        assert_eq!(t.kind(), "data_cleanup");
        let bare: Task = serde_json::from_str(r#"{"kind":"data_cleanup"}"#).unwrap();
        assert_eq!(
            bare,
            Task::DataCleanup(CleanupTask {
                config_id: None,
                run_id: String::new()
            })
        );
    }
}
