//! The bulk worker (decisions.md B4): moves the assets of a bulk allocation or
//! recall (or authorises, revokes those of an enterprise authorisation) one slice
//! per message of the FIFO bulk queue (message group = task, so a
//! task's slices never run concurrently). Each message names the slice it is for;
//! the task item holds the number of slices done and where the next one starts:
//!
//! 1. a message whose slice is not the task's `slice` is a duplicate: dropped;
//! 2. the slice is run from the task's saved position (`services::assets::run_slice`):
//!    every asset gets its result item — a move writes it in its own transaction, a
//!    refusal only where the asset has none — so a redelivered slice moves nothing
//!    twice and overwrites no "moved";
//! 3. the message of the next slice is sent (deduplicated by task and slice);
//! 4. the position and the slice's counts are recorded in one update conditioned on
//!    the slice number, so only one delivery records them.
//!
//! A Lambda dying anywhere leaves the message unacknowledged; its redelivery redoes
//! the slice from the same position. After the last slice the worker counts the
//! recorded results (the exact counts, whatever replays happened), writes them as a
//! CSV and finishes the task; a failure there is retried the same way.

use super::sqs::{self, JobError};
use crate::app::AppState;
use crate::config::IMPORT_RETRY_MAX_SECS;
use crate::domain::bulk::{BulkOutcome, BulkResult, BulkStatus, BulkTask};
use crate::integrations::bulk_queue::BulkMessage;
use crate::services::assets::{run_slice, AssetError};
use crate::services::authorizations;
use crate::services::storage;
use crate::store::bulk::{Finish, SliceProgress};

/// Object key of task `id`'s results file.
pub fn results_key(id: u64) -> String {
    format!("results/bulk-tasks/{id}.csv")
}

/// Handles one message.
pub async fn process(state: &AppState, msg: BulkMessage) -> Result<(), JobError> {
    let store = &state.store;
    let Some(task) = store.bulk_task(msg.task_id).await? else {
        tracing::warn!(
            task_id = msg.task_id,
            "bulk task not found; message dropped"
        );
        return Ok(());
    };
    if task.status.is_finished() || task.slice != msg.slice {
        tracing::info!(
            task_id = task.id,
            slice = msg.slice,
            "stale bulk message dropped"
        );
        return Ok(());
    }
    let now = state.clock.now();
    let slice = match task.operation.as_move() {
        Some(_) => run_slice(store, &task, now).await,
        None => authorizations::run_slice(store, &task, now).await,
    };
    let done = match slice {
        Ok(done) => done,
        Err(e) if ends_task(&e) => {
            let reason = e.to_string();
            return finish(state, &task, BulkStatus::Failed, Some(&reason), now).await;
        }
        Err(e) => return Err(JobError(e.to_string())),
    };
    let Some((next_part, next_key)) = done.next else {
        return finish(state, &task, BulkStatus::Done, None, now).await;
    };
    state.bulk_queue()?.send(task.id, task.slice + 1).await?;
    let progress = SliceProgress {
        next_part,
        next_key,
        moved: done.moved,
        failed: done.failed,
    };
    if store.record_bulk_slice(&task, &progress, now).await? {
        tracing::info!(
            task_id = task.id,
            slice = task.slice,
            moved = done.moved,
            failed = done.failed,
            "bulk slice done"
        );
    } else {
        tracing::info!(task_id = task.id, "bulk slice already recorded");
    }
    Ok(())
}

/// Whether a slice's failure ends its task rather than being retried: the
/// receiving shop (or the recalling agent's own shop) is gone or no longer takes
/// the assets, which no retry changes (shops never move).
fn ends_task(e: &AssetError) -> bool {
    matches!(
        e,
        AssetError::NotFound(_) | AssetError::NotDirectSubordinate | AssetError::NotAllowed(_)
    )
}

/// Ends `task`: counts its recorded results, writes them as a CSV and records both
/// with the final status.
async fn finish(
    state: &AppState,
    task: &BulkTask,
    status: BulkStatus,
    error: Option<&str>,
    now: i64,
) -> Result<(), JobError> {
    let results = state.store.bulk_results(task.id).await?;
    let moved = results
        .iter()
        .filter(|r| r.result != BulkOutcome::Failed)
        .count() as u64;
    let failed = results.len() as u64 - moved;
    let key = results_key(task.id);
    storage::put_object(state, &key, results_csv(&results)?, "text/csv")
        .await
        .map_err(|e| JobError(e.to_string()))?;
    let f = Finish {
        status,
        moved,
        failed,
        results_key: &key,
        error,
    };
    if state.store.finish_bulk_task(task, &f, now).await? {
        tracing::info!(
            task_id = task.id,
            status = status.as_str(),
            moved,
            failed,
            error,
            "bulk task finished"
        );
    }
    Ok(())
}

/// The results file: `identifier,result,reason`, one row per asset (or per name
/// that matched none), in identifier order.
pub fn results_csv(results: &[BulkResult]) -> Result<Vec<u8>, JobError> {
    let csv_error = |e: csv::Error| JobError(format!("results file: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["identifier", "result", "reason"])
        .map_err(csv_error)?;
    for r in results {
        let reason = r.reason.as_deref().unwrap_or_default();
        w.write_record([r.identifier.as_str(), r.result.as_str(), reason])
            .map_err(csv_error)?;
    }
    w.into_inner()
        .map_err(|e| JobError(format!("results file: {e}")))
}

/// The bulk Lambda's handler: one FIFO batch, partial failures reported (an
/// undecodable message is one). Every failed message is made visible again after
/// the import back-off (`CMP_IMPORT_RETRY_SECS` × its receive count) instead of
/// the queue's visibility timeout.
pub async fn handle(
    state: &AppState,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let records = event.records.clone();
    let response = sqs::handle_fifo(event, |msg: BulkMessage| process(state, msg)).await;
    let failed = sqs::failed_records(&records, &response);
    if !failed.is_empty() {
        match state.bulk_queue() {
            Ok(queue) => {
                let base = state.cfg.import_retry_secs;
                sqs::retry_later(queue, &failed, base, IMPORT_RETRY_MAX_SECS).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed bulk messages keep the queue's visibility timeout")
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_results_file_has_one_row_per_result() {
        let rows = vec![
            BulkResult {
                identifier: "8986A".into(),
                result: BulkOutcome::Moved,
                reason: None,
            },
            BulkResult {
                identifier: "id 7".into(),
                result: BulkOutcome::Failed,
                reason: Some("not found, \"really\"".into()),
            },
        ];
        let csv = String::from_utf8(results_csv(&rows).unwrap()).unwrap();
        assert_eq!(
            csv,
            "identifier,result,reason\n8986A,moved,\nid 7,failed,\"not found, \"\"really\"\"\"\n"
        );
    }
}
