//! CSV imports of cards, card virtual numbers and devices (jobs.md J16, J17).
//!
//! A task is processed in chunks through the FIFO import queue (message group = task,
//! so chunks of one task never run concurrently). Each message names the byte offset
//! it starts at; the task item holds the offset of the next unprocessed line:
//!
//! 1. a message whose offset is not the task's `next_offset` is a duplicate: dropped;
//! 2. the chunk's rows are written idempotently: each created asset's uniqueness item
//!    remembers `(import_task_id, import_row)`, so a replayed row is recognised as
//!    already done instead of being counted as a duplicate;
//! 3. the message for the next chunk is sent (deduplicated by task and offset);
//! 4. the task's counters and `next_offset` advance in one conditional update.
//!
//! A Lambda dying anywhere leaves the message unacknowledged; its redelivery redoes
//! the chunk without duplicates and counts it exactly once.
//!
//! A task registered before its upload (`awaiting_upload`) is started by its file's
//! arrival: the S3 notification comes through the standard import events queue,
//! which the same handler consumes ([`arrival`]).
//!
//! Modules: [`chunk`] parses a byte range into rows, [`rows`] turns rows into
//! entities (both pure), [`cards`] and [`devices`] write them many rows per
//! transaction (`group`), [`fill`] fills card virtual numbers; this module reads the
//! file and records progress.

pub mod arrival;
pub mod cards;
pub mod chunk;
pub mod devices;
pub mod fill;
mod group;
pub mod rows;

use super::sqs::JobError;
use crate::app::AppState;
use crate::config::IMPORT_RETRY_MAX_SECS;
use crate::domain::assets::{FailedItem, ImportStatus, ImportTask, ImportType};
use crate::domain::entities::Shop;
use crate::integrations::import_queue::ImportMessage;
use crate::integrations::s3_events::S3Notification;
use crate::store::imports::{ChunkProgress, Holder, ImportRow};
use crate::store::{keys, Store, StoreError};
use chunk::{Chunk, FileError};

/// Handles one message.
pub async fn process(state: &AppState, msg: ImportMessage) -> Result<(), JobError> {
    let store = &state.store;
    let Some(task) = store.import_task(msg.task_id).await? else {
        tracing::warn!(
            task_id = msg.task_id,
            "import task not found; message dropped"
        );
        return Ok(());
    };
    if task.status == ImportStatus::AwaitingUpload {
        tracing::warn!(
            task_id = task.id,
            "import message for a task awaiting its upload dropped"
        );
        return Ok(());
    }
    if task.status.is_finished() || task.next_offset != msg.offset {
        tracing::info!(
            task_id = task.id,
            offset = msg.offset,
            "stale import message dropped"
        );
        return Ok(());
    }
    let chunk = match read_chunk(state, &task).await {
        Ok(c) => c,
        Err(ChunkError::File(e)) => return fail_task(store, &task, &e, state.clock.now()).await,
        Err(ChunkError::Retry(e)) => return Err(e),
    };
    let outcome = match task.import_type {
        ImportType::Cards => cards::import(state, &task, &chunk).await?,
        ImportType::Devices => devices::import(state, &task, &chunk).await?,
        ImportType::VirtualNo => return fill::run(state, &task, chunk).await,
    };
    store.put_import_failures(task.id, &outcome.failed).await?;
    if !chunk.eof {
        state
            .import_queue()?
            .send(task.id, chunk.next_offset)
            .await?;
    }
    record_progress(store, &task, &chunk, &outcome, state.clock.now()).await
}

/// Why a chunk could not be read.
#[derive(Debug)]
pub enum ChunkError {
    /// The file itself is unusable: the task fails.
    File(FileError),
    /// A transient failure: the message is retried.
    Retry(JobError),
}

/// Reads the chunk starting at the task's `next_offset` (the whole file for
/// virtual-number fills). An object above `max_upload_bytes` is refused from the
/// size its GET announces, before its body is read.
pub async fn read_chunk(state: &AppState, task: &ImportTask) -> Result<Chunk, ChunkError> {
    let whole = task.import_type == ImportType::VirtualNo;
    let s3 = state.s3().map_err(|e| ChunkError::Retry(e.into()))?;
    let mut req = s3
        .get_object()
        .bucket(&state.cfg.bucket)
        .key(&task.file_key);
    if !whole {
        let len = state.cfg.import_chunk_bytes.max(1) as u64;
        let end = task.next_offset + len - 1;
        req = req.range(format!("bytes={}-{end}", task.next_offset));
    }
    let out = match req.send().await {
        Ok(o) => o,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
            return Err(ChunkError::File(FileError::Gone));
        }
        Err(e) => {
            let text = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            return Err(ChunkError::Retry(JobError(text)));
        }
    };
    let max = state.cfg.max_upload_bytes.max(0) as u64;
    // The object's size: the total of the Content-Range of a ranged GET, else the
    // length of the whole body.
    let size = out
        .content_range()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|t| t.parse::<u64>().ok())
        .or_else(|| {
            let len = out.content_length().and_then(|l| u64::try_from(l).ok());
            len.map(|l| task.next_offset + l)
        });
    within(size, max)?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| ChunkError::Retry(JobError(e.to_string())))?
        .into_bytes();
    let size = size.unwrap_or(task.next_offset + bytes.len() as u64);
    within(Some(size), max)?;
    let eof = whole || task.next_offset + bytes.len() as u64 >= size;
    chunk::parse(task, &bytes, eof).map_err(ChunkError::File)
}

/// Refuses an object of `size` bytes above `max`.
fn within(size: Option<u64>, max: u64) -> Result<(), ChunkError> {
    match size {
        Some(size) if size > max => Err(ChunkError::File(FileError::TooLarge { size, max })),
        _ => Ok(()),
    }
}

/// Result of writing one chunk.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Rows created (or found already created by this task).
    pub success: u64,
    /// Rows rejected.
    pub failed: Vec<FailedItem>,
}

impl Outcome {
    /// Starts from the rows validation rejected.
    fn rejected(failed: Vec<FailedItem>) -> Self {
        Self { success: 0, failed }
    }

    /// Rejects row `row` of `task`, named by `value`.
    fn fail(&mut self, task: &ImportTask, row: u64, value: &str, reason: impl Into<String>) {
        self.failed
            .push(task.import_type.failed(row, value, reason));
    }
}

/// Why a value held by `holder` blocks a row of task `task`.
fn conflict_reason(holder: &Holder, task: u64, what: &str) -> String {
    match holder.import {
        Some(ImportRow { task: t, row }) if t == task => rows::duplicated(what, row),
        _ => format!("{what} already exists"),
    }
}

/// The task's target shop (its path), if any.
async fn target_shop(store: &Store, task: &ImportTask) -> Result<Option<Shop>, StoreError> {
    match task.shop_id {
        Some(id) => store.entity::<Shop>(&keys::shop(id)).await,
        None => Ok(None),
    }
}

/// Advances the task past `chunk`, adding its counts exactly once.
async fn record_progress(
    store: &Store,
    task: &ImportTask,
    chunk: &Chunk,
    outcome: &Outcome,
    now: i64,
) -> Result<(), JobError> {
    let rows = chunk.rows.len() as u64;
    let progress = ChunkProgress {
        next_offset: chunk.next_offset,
        next_row: chunk.last_row,
        columns: &chunk.header,
        done: chunk.eof,
        rows,
        ok: outcome.success,
        failed: outcome.failed.len() as u64,
    };
    if store.record_import_chunk(task, &progress, now).await? {
        tracing::info!(
            task_id = task.id,
            rows,
            ok = outcome.success,
            failed = outcome.failed.len(),
            "import chunk done"
        );
    } else {
        // Another delivery of the same chunk recorded it first: nothing to add.
        tracing::info!(task_id = task.id, "import chunk already recorded");
    }
    Ok(())
}

/// Marks the whole task failed because of its file.
async fn fail_task(
    store: &Store,
    task: &ImportTask,
    reason: &FileError,
    now: i64,
) -> Result<(), JobError> {
    let reason = reason.to_string();
    store.fail_import_task(task, &reason, now).await?;
    tracing::warn!(task_id = task.id, reason, "import task failed");
    Ok(())
}

/// A message the import worker receives: a chunk from the FIFO import queue, or an
/// S3 notification (a file's arrival) from the standard import events queue.
#[derive(Debug)]
pub enum ImportRecord {
    /// An S3 notification.
    Arrival(S3Notification),
    /// A chunk of a task.
    Chunk(ImportMessage),
}

impl ImportRecord {
    /// Reads a message body: an S3 notification, else a chunk message.
    pub fn decode(body: &str) -> Result<Self, String> {
        match S3Notification::parse(body) {
            Some(n) => Ok(ImportRecord::Arrival(n)),
            None => serde_json::from_str(body)
                .map(ImportRecord::Chunk)
                .map_err(|e| e.to_string()),
        }
    }
}

/// The import Lambda's handler, for batches of either queue, partial failures
/// reported. Chunks keep their FIFO order: after a failed one the batch's later
/// chunks are held back; arrivals are handled one by one. Every failed message is
/// made visible again on its queue after a short back-off ([`retry_later`])
/// instead of the queue's visibility timeout.
pub async fn handle(
    state: &AppState,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let records = event.records.clone();
    let response = super::sqs::handle_batch(
        event,
        ImportRecord::decode,
        |r| matches!(r, ImportRecord::Chunk(_)),
        |record| async move {
            match record {
                ImportRecord::Arrival(n) => arrival::handle(state, n).await,
                ImportRecord::Chunk(msg) => process(state, msg).await,
            }
        },
    )
    .await;
    retry_later(state, &super::sqs::failed_records(&records, &response)).await;
    response
}

/// Makes each of `failed` visible again on its queue (arrivals: the import events
/// queue; the rest: the import queue) after `import_retry_secs` × its receive count
/// (at most [`IMPORT_RETRY_MAX_SECS`]).
pub async fn retry_later(state: &AppState, failed: &[&aws_lambda_events::event::sqs::SqsMessage]) {
    if failed.is_empty() {
        return;
    }
    let (arrivals, chunks): (Vec<_>, Vec<_>) = failed.iter().copied().partition(|r| {
        let body = r.body.as_deref().unwrap_or_default();
        S3Notification::parse(body).is_some()
    });
    let base = state.cfg.import_retry_secs;
    for (queue, records) in [
        (state.import_queue().map(|q| &***q), chunks),
        (state.import_events_queue(), arrivals),
    ] {
        if records.is_empty() {
            continue;
        }
        match queue {
            Ok(queue) => {
                super::sqs::retry_later(queue, &records, base, IMPORT_RETRY_MAX_SECS).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed import messages keep the queue's visibility timeout")
            }
        }
    }
}
