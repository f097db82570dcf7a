//! The audit-log writer (jobs.md J19): stores the entries the API functions queue.
//! A redelivered message writes nothing new (the entry's key is its own id).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use super::sqs::{handle_batch, JobError};
use crate::app::AppState;
use crate::services::audit::AuditMessage;

/// Handles one batch of the audit-log queue; failed writes are retried by SQS.
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let decode = |body: &str| serde_json::from_str::<AuditMessage>(body).map_err(|e| e.to_string());
    handle_batch(
        event,
        decode,
        |_| false,
        |m: AuditMessage| async move {
            state
                .store
                .write_audit(&m.entry, m.nanos)
                .await
                .map_err(JobError::from)
        },
    )
    .await
}
