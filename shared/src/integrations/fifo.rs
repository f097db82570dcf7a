//! A FIFO job queue: what the import queue and the bulk-move queue share. A job's
//! messages share a message group, so they never run concurrently, and carry a
//! deduplication id, so a repeated send within SQS's 5-minute window is dropped. A
//! failed message is made visible again after a back-off (`retry_after`).
//!
//! Receiving, acknowledging and retrying are any queue's ([`SqsQueue`]): the standard
//! queue of import file arrivals (S3 notifications) is consumed the same way.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::Message;
use serde::Serialize;

/// A failed queue operation (transient: the caller retries or reports it).
#[derive(Debug, thiserror::Error)]
#[error("queue: {0}")]
pub struct QueueError(pub String);

fn queue_error<E: std::error::Error + 'static>(e: E) -> QueueError {
    QueueError(DisplayErrorContext(&e).to_string())
}

/// Handle on one FIFO queue.
#[derive(Clone, Debug)]
pub struct FifoQueue(SqsQueue);

impl std::ops::Deref for FifoQueue {
    type Target = SqsQueue;
    fn deref(&self) -> &SqsQueue {
        &self.0
    }
}

impl FifoQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: &str) -> Self {
        Self(SqsQueue::new(client, url))
    }

    /// The same client on the queue at `url`.
    pub fn at(self, url: &str) -> Self {
        Self(self.0.at(url))
    }

    /// Sends `body` as JSON in message group `group`, deduplicated by `dedup_id`.
    pub async fn send_json<T: Serialize>(
        &self,
        body: &T,
        group: &str,
        dedup_id: &str,
    ) -> Result<(), QueueError> {
        let body = serde_json::to_string(body).map_err(|e| QueueError(e.to_string()))?;
        self.0
            .client
            .send_message()
            .queue_url(&self.0.url)
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id(dedup_id)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }
}

/// Handle on one SQS queue, FIFO or standard, for consuming it.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: &str) -> Self {
        Self {
            client,
            url: url.to_string(),
        }
    }

    /// The same client on the queue at `url`.
    pub fn at(self, url: &str) -> Self {
        Self::new(self.client, url)
    }

    /// Sends `body` as JSON (a standard queue).
    pub async fn send(&self, body: &impl Serialize) -> Result<(), QueueError> {
        let body = serde_json::to_string(body).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    /// Sends `bodies` (JSON, each with its delay in seconds, 0–900) in batches of 10
    /// (`SendMessageBatch`); fails if any message was refused.
    pub async fn send_batch<T: Serialize>(&self, bodies: &[(T, i32)]) -> Result<(), QueueError> {
        for (chunk_no, chunk) in bodies.chunks(10).enumerate() {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, (body, delay)) in chunk.iter().enumerate() {
                let body = serde_json::to_string(body).map_err(|e| QueueError(e.to_string()))?;
                let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{chunk_no}-{i}"))
                    .message_body(body)
                    .delay_seconds((*delay).clamp(0, 900))
                    .build()
                    .map_err(|e| QueueError(e.to_string()))?;
                entries.push(entry);
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(queue_error)?;
            if let Some(f) = out.failed().first() {
                return Err(QueueError(format!(
                    "message {} refused: {}",
                    f.id(),
                    f.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Approximate visible and in-flight messages of the queue.
    pub async fn depth(&self) -> Result<(i64, i64), QueueError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(queue_error)?;
        let get = |a: A| {
            out.attributes()
                .and_then(|m| m.get(&a))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            get(A::ApproximateNumberOfMessages),
            get(A::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// The SQS client (the local stack creates queues with it).
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    /// Receives up to 10 messages, waiting up to `wait_seconds` (the local consumer),
    /// with their receive counts. The long poll gets its own timeouts, the wait on
    /// top of the client's, so the attempt timeout never cuts it.
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Message>, QueueError> {
        let wait = std::time::Duration::from_secs(wait_seconds.max(0) as u64);
        let base = self.client.config().timeout_config();
        let longer = |d: Option<std::time::Duration>| d.map(|d| d + wait);
        let mut timeouts = aws_sdk_sqs::config::timeout::TimeoutConfig::builder();
        if let Some(base) = base {
            timeouts
                .set_connect_timeout(base.connect_timeout())
                .set_operation_attempt_timeout(longer(base.operation_attempt_timeout()))
                .set_operation_timeout(longer(base.operation_timeout()));
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .customize()
            .config_override(
                aws_sdk_sqs::config::Builder::default().timeout_config(timeouts.build()),
            )
            .send()
            .await
            .map_err(queue_error)?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Acknowledges a handled message.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    /// Makes a failed message visible again after `seconds`.
    pub async fn retry_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }
}
