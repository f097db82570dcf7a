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
        state
            .s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
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
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}"#);
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

/// Receives up to 10 messages from the import queue, hands them to the import
/// handler as an SQS event (as Lambda's event source mapping would) and deletes the
/// ones it did not report failed. Returns how many messages were received.
pub async fn pump_import_queue(state: &AppState, wait_seconds: i32) -> Result<usize, StoreError> {
    let out = state
        .sqs
        .receive_message()
        .queue_url(&state.cfg.import_queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let event = sqs_event(&messages);
    let response = crate::jobs::import::handle(state, event).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    for m in &messages {
        let id = m.message_id.clone().unwrap_or_default();
        if failed.contains(&id) {
            // Make it visible again at once (Lambda would wait for the visibility timeout).
            let _ = state
                .sqs
                .change_message_visibility()
                .queue_url(&state.cfg.import_queue_url)
                .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                .visibility_timeout(0)
                .send()
                .await;
            continue;
        }
        state
            .sqs
            .delete_message()
            .queue_url(&state.cfg.import_queue_url)
            .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
            .send()
            .await
            .map_err(StoreError::dynamo)?;
    }
    Ok(messages.len())
}

/// An SQS Lambda event carrying `messages`.
pub fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    for m in messages {
        let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.event_source = Some("aws:sqs".into());
        event.records.push(record);
    }
    event
}

/// State for `cfg` with clients pointed at a local endpoint with dummy credentials
/// (tests; nothing is read from the environment).
pub fn state_for(cfg: crate::config::Config, endpoint: &str) -> AppState {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let creds = Credentials::new("test", "test", None, None, "local");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            creds,
        ))
        .build();
    let store = crate::store::Store::from_sdk(&sdk, &cfg.table);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    AppState::new(cfg, store, s3, sqs)
}
