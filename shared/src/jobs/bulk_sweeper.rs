//! The pending-bulk-task sweep (run with the grant and import sweeps): a bulk task is
//! saved as pending and then its first message is sent; a crash between the two
//! leaves it with nothing to process it. The sweep sends the first message again for
//! tasks still pending [`STALE_AFTER_SECS`] after their creation (or last re-send).
//! A re-send is harmless: the worker drops a message whose slice is not the task's.
//! Only the first message can be lost this way: every later one is sent before the
//! slice that precedes it is recorded. Reads only the sparse index of pending tasks.

use super::sqs::JobError;
use crate::app::AppState;
use crate::clock::rfc3339;

pub use super::import_sweeper::{Sweep, BATCH, STALE_AFTER_SECS};

/// Sends the first message again for every bulk task pending for longer than
/// [`STALE_AFTER_SECS`] at `now`; stops at the first failure (the next run goes on).
pub async fn sweep(state: &AppState, now: i64) -> Result<Sweep, JobError> {
    let cutoff = rfc3339(now - STALE_AFTER_SECS);
    let at = rfc3339(now);
    let queue = state.bulk_queue()?;
    let mut out = Sweep::default();
    for task in state.store.pending_bulk_before(&cutoff, BATCH).await? {
        queue.resend(task.id, task.slice, now).await?;
        if state.store.mark_bulk_resent(&task, &at).await? {
            tracing::warn!(task_id = task.id, "pending bulk task sent again");
            out.resent.push(task.id);
        }
    }
    Ok(out)
}
