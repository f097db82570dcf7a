//! The FIFO import queue: the one adapter through which the import service starts a
//! task and the import worker hands on to the next chunk (jobs.md J16–J17).
//!
//! Messages of one task share a message group, so its chunks never run concurrently,
//! and are deduplicated by task and byte offset.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::Message;
use serde::{Deserialize, Serialize};

/// Body of an import-queue message: the chunk of `task_id` starting at `offset`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImportMessage {
    /// The task.
    pub task_id: u64,
    /// Byte offset of the chunk in the file.
    pub offset: u64,
}

/// A failed queue operation (transient: the caller retries or reports it).
#[derive(Debug, thiserror::Error)]
#[error("import queue: {0}")]
pub struct QueueError(pub String);

fn queue_error<E: std::error::Error + 'static>(e: E) -> QueueError {
    QueueError(DisplayErrorContext(&e).to_string())
}

/// Handle on the import queue.
#[derive(Clone, Debug)]
pub struct ImportQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl ImportQueue {
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

    /// The SQS client (the local stack creates queues with it).
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    /// Sends the message for the chunk of `task_id` starting at `offset`.
    pub async fn send(&self, task_id: u64, offset: u64) -> Result<(), QueueError> {
        let body = serde_json::to_string(&ImportMessage { task_id, offset })
            .map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(format!("import-{task_id}"))
            .message_deduplication_id(format!("import-{task_id}-{offset}"))
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    /// Receives up to 10 messages, waiting up to `wait_seconds` (the local consumer).
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Message>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
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
