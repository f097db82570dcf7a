//! The pending-import sweep (with the grant sweep: every minute on AWS, every 30 s in
//! the dev server): an import task is saved as pending and then its first message is
//! sent; a crash between the two leaves it pending with nothing to process it. The
//! sweep sends the first message again for tasks still pending [`STALE_AFTER_SECS`]
//! after their creation (or their last re-send). A re-send is harmless: the worker
//! drops a message whose offset is not the task's `next_offset`, and a message that
//! did arrive meanwhile only makes the re-sent one a duplicate. Reads only the sparse
//! index of pending tasks, so its cost grows with them, not the table.
//!
//! The same run expires tasks registered before their upload whose file never
//! arrived: [`AWAITING_EXPIRY_SECS`] after their creation (the upload URL's 15
//! minutes plus as much again for a late notification) they fail with
//! [`NO_UPLOAD`], conditionally on still awaiting it; a file arriving later finds
//! the task failed and is ignored.

use serde::Serialize;

use super::sqs::JobError;
use crate::app::AppState;
use crate::clock::rfc3339;

/// How long a task may stay pending before its first message is sent again: the
/// first message is normally processed within seconds, and a failing one is retried
/// after 30 s, 60 s and 90 s.
pub const STALE_AFTER_SECS: i64 = 300;

/// Pending tasks re-sent per run; the rest wait for the next run.
pub const BATCH: i32 = 100;

/// How long a task may await its upload: twice the upload URL's lifetime.
pub const AWAITING_EXPIRY_SECS: i64 = 2 * crate::services::storage::URL_TTL_SECS as i64;

/// Failure reason of a task whose file never arrived.
pub const NO_UPLOAD: &str =
    "no file was uploaded before the upload URL expired; create the import again";

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Tasks whose first message was sent again.
    pub resent: Vec<u64>,
    /// Tasks failed because their file never arrived (imports only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<u64>,
}

/// Fails every task awaiting its upload for longer than [`AWAITING_EXPIRY_SECS`],
/// then sends the first message again for every task pending for longer than
/// [`STALE_AFTER_SECS`] at `now`; stops at the first failure (the next run goes on).
pub async fn sweep(state: &AppState, now: i64) -> Result<Sweep, JobError> {
    let cutoff = rfc3339(now - STALE_AFTER_SECS);
    let at = rfc3339(now);
    let queue = state.import_queue()?;
    let mut out = Sweep::default();
    let awaiting_cutoff = rfc3339(now - AWAITING_EXPIRY_SECS);
    for task in state
        .store
        .awaiting_imports_before(&awaiting_cutoff, BATCH)
        .await?
    {
        if state
            .store
            .fail_awaiting_import(&task, NO_UPLOAD, now)
            .await?
        {
            tracing::warn!(task_id = task.id, "import task expired awaiting its upload");
            out.expired.push(task.id);
        }
    }
    for task in state.store.pending_imports_before(&cutoff, BATCH).await? {
        queue.resend(task.id, task.next_offset, now).await?;
        // Not pending any more (the index lags the table): the worker drops the copy.
        if state.store.mark_import_resent(&task, &at).await? {
            tracing::warn!(task_id = task.id, "pending import task sent again");
            out.resent.push(task.id);
        }
    }
    Ok(out)
}
