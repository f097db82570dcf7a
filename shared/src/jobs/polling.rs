//! Polling jobs: the dispatcher (EventBridge, every minute) and the check handlers
//! (SQS, one queue per task type; `shared::services::polling`).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::app::AppState;
use crate::services::polling::checks::{self, CheckError};
use crate::services::polling::dispatch::{self, DispatchError, TaskDispatch};
use crate::services::polling::CheckMessage;

/// Delay before a batch that found no free permit is tried again.
const BUSY_DELAY_SECS: i32 = 2;

/// One dispatcher run now.
pub async fn dispatch(state: &AppState) -> Result<Vec<TaskDispatch>, DispatchError> {
    dispatch::run(state, state.clock.now()).await
}

/// Handles a batch of check messages (any task types). Undecodable messages fail
/// (to the dead-letter queue after the receive limit); a batch whose task type has
/// no free permit for a while is sent again with a short delay. Cards whose check failed were re-sent on their own, so the others'
/// messages are acknowledged.
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut by_task: std::collections::BTreeMap<_, Vec<(String, CheckMessage)>> =
        Default::default();
    for m in event.records {
        let id = m.message_id.clone().unwrap_or_default();
        match serde_json::from_str::<CheckMessage>(m.body.as_deref().unwrap_or_default()) {
            Ok(msg) => by_task.entry(msg.task).or_default().push((id, msg)),
            Err(e) => {
                tracing::error!(message_id = %id, error = %e, "undecodable check message");
                response.batch_item_failures.push(failure(id));
            }
        }
    }
    for (task, msgs) in by_task {
        let ids: Vec<String> = msgs.iter().map(|(id, _)| id.clone()).collect();
        let msgs: Vec<CheckMessage> = msgs.into_iter().map(|(_, m)| m).collect();
        let res: Result<_, CheckError> = checks::handle(state, task, msgs.clone()).await;
        let failed = match res {
            Ok(_) => false,
            // Every permit is taken: the cards come back in a few seconds instead of
            // after the visibility timeout.
            Err(CheckError::Busy(_)) => {
                let later: Vec<(CheckMessage, i32)> =
                    msgs.into_iter().map(|m| (m, BUSY_DELAY_SECS)).collect();
                state
                    .job_queue(task.queue())
                    .send_batch(&later)
                    .await
                    .is_err()
            }
            Err(e) => {
                tracing::warn!(task = task.as_str(), error = %e, "check batch failed");
                true
            }
        };
        if failed {
            response
                .batch_item_failures
                .extend(ids.into_iter().map(failure));
        }
    }
    response
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}
