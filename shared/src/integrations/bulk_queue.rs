//! The FIFO bulk-move queue (decisions.md B4): the allocate and recall routes start a
//! bulk task through it and the bulk worker hands each task on to its next slice.
//!
//! Messages of one task share a message group, so its slices never run
//! concurrently, and are deduplicated by task and slice number (a sweep's re-send by
//! its time). Receiving, acknowledging and retrying are its
//! [`SqsQueue`](super::fifo::SqsQueue)'s.

use serde::{Deserialize, Serialize};

use super::fifo::{FifoQueue, QueueError};

/// Body of a bulk-queue message: slice number `slice` of task `task_id`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BulkMessage {
    /// The task.
    pub task_id: u64,
    /// The slice (the task's `slice` when it was sent).
    pub slice: u64,
}

/// Handle on the bulk-move queue.
#[derive(Clone, Debug)]
pub struct BulkQueue(FifoQueue);

impl std::ops::Deref for BulkQueue {
    type Target = FifoQueue;
    fn deref(&self) -> &FifoQueue {
        &self.0
    }
}

impl BulkQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: &str) -> Self {
        Self(FifoQueue::new(client, url))
    }

    /// The same client on the queue at `url`.
    pub fn at(self, url: &str) -> Self {
        Self(self.0.at(url))
    }

    /// Sends the message for slice `slice` of `task_id` (deduplicated by task and
    /// slice within SQS's 5-minute window).
    pub async fn send(&self, task_id: u64, slice: u64) -> Result<(), QueueError> {
        self.send_as(task_id, slice, format!("bulk-{task_id}-{slice}"))
            .await
    }

    /// Sends the message for slice `slice` of `task_id` again, as a new message (its
    /// deduplication id names the time `at`); the worker drops it if the slice is
    /// done.
    pub async fn resend(&self, task_id: u64, slice: u64, at: i64) -> Result<(), QueueError> {
        self.send_as(
            task_id,
            slice,
            format!("bulk-{task_id}-{slice}-resent-{at}"),
        )
        .await
    }

    async fn send_as(&self, task_id: u64, slice: u64, dedup_id: String) -> Result<(), QueueError> {
        let body = BulkMessage { task_id, slice };
        self.0
            .send_json(&body, &format!("bulk-{task_id}"), &dedup_id)
            .await
    }
}
