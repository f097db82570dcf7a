//! Local stack bootstrap for the dev server and tests: creates the table, the bucket
//! and the import queue (FIFO, with a dead-letter queue) on the emulator. On AWS the
//! SAM template creates them.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::api::AppState;
use crate::store::{schema, StoreError};

/// Receives before a message goes to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 4;

/// Creates what `state.cfg` names, if missing; returns the import queue URL.
pub async fn ensure(state: &AppState, queue_name: &str) -> Result<String, StoreError> {
    schema::create_table(state.store.client(), state.store.table()).await?;
    let bucket = &state.cfg.bucket;
    if state.s3.head_bucket().bucket(bucket).send().await.is_err() {
        state.s3.create_bucket().bucket(bucket).send().await.map_err(StoreError::dynamo)?;
    }
    let dlq = state
        .sqs
        .create_queue()
        .queue_name(format!("{}-dlq.fifo", queue_name.trim_end_matches(".fifo")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    let dlq_url = dlq.queue_url.unwrap_or_default();
    let dlq_arn = state
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(StoreError::dynamo)?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}"#);
    let queue = state
        .sqs
        .create_queue()
        .queue_name(queue_name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    Ok(queue.queue_url.unwrap_or_default())
}
