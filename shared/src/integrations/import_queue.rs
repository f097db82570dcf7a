//! The FIFO import queue: the one adapter through which the import service starts a
//! task and the import worker hands on to the next chunk (jobs.md J16–J17).
//!
//! Messages of one task share a message group, so its chunks never run concurrently,
//! and are deduplicated by task and byte offset (a sweep's re-send by its time).
//! Receiving, acknowledging and retrying are its
//! [`SqsQueue`](super::fifo::SqsQueue)'s.

use serde::{Deserialize, Serialize};

use super::fifo::FifoQueue;
pub use super::fifo::QueueError;

/// Body of an import-queue message: the chunk of `task_id` starting at `offset`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImportMessage {
    /// The task.
    pub task_id: u64,
    /// Byte offset of the chunk in the file.
    pub offset: u64,
}

/// Handle on the import queue.
#[derive(Clone, Debug)]
pub struct ImportQueue(FifoQueue);

impl std::ops::Deref for ImportQueue {
    type Target = FifoQueue;
    fn deref(&self) -> &FifoQueue {
        &self.0
    }
}

impl ImportQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: &str) -> Self {
        Self(FifoQueue::new(client, url))
    }

    /// The same client on the queue at `url`.
    pub fn at(self, url: &str) -> Self {
        Self(self.0.at(url))
    }

    /// Sends the message for the chunk of `task_id` starting at `offset`
    /// (deduplicated by task and offset: a repeated send within SQS's 5-minute window
    /// is dropped).
    pub async fn send(&self, task_id: u64, offset: u64) -> Result<(), QueueError> {
        self.send_as(task_id, offset, format!("import-{task_id}-{offset}"))
            .await
    }

    /// Sends the message for the chunk of `task_id` at `offset` again, as a new
    /// message (its deduplication id names the time `at`, epoch seconds, so no
    /// earlier send suppresses it); the worker drops it if the chunk is done.
    pub async fn resend(&self, task_id: u64, offset: u64, at: i64) -> Result<(), QueueError> {
        self.send_as(
            task_id,
            offset,
            format!("import-{task_id}-{offset}-resent-{at}"),
        )
        .await
    }

    async fn send_as(&self, task_id: u64, offset: u64, dedup_id: String) -> Result<(), QueueError> {
        let body = ImportMessage { task_id, offset };
        self.0
            .send_json(&body, &format!("import-{task_id}"), &dedup_id)
            .await
    }
}
