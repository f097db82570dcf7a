//! The arrival of an import's file: an S3 `ObjectCreated` notification for
//! `imports/<task id>.csv`, delivered through the standard import events queue,
//! starts the task registered for it (status `awaiting_upload`) as the API starts a
//! task registered with an uploaded file: the task moves to `pending` with one
//! conditional write, then the first chunk's message goes to the FIFO import queue.
//!
//! Everything else is logged and dropped: the `s3:TestEvent`, a key that names no
//! task, an object under a task that is unknown, already started or finished, or a
//! bucket other than ours. An object above `max_upload_bytes` fails its task. A
//! redelivered or duplicate notification finds the task started: if it is still
//! pending at offset 0 (the earlier delivery may have died before sending), the
//! first message is sent again, which the queue's deduplication or the worker's
//! offset check makes harmless.

use super::JobError;
use crate::app::AppState;
use crate::domain::assets::{import_task_of_key, ImportStatus};
use crate::integrations::s3_events::{CreatedObject, S3Notification};

/// Handles one S3 notification message.
pub async fn handle(state: &AppState, notification: S3Notification) -> Result<(), JobError> {
    match notification {
        S3Notification::Test => {
            tracing::info!("s3:TestEvent on the import events queue ignored");
            Ok(())
        }
        S3Notification::Records { created, other } => {
            if other > 0 {
                tracing::info!(
                    records = other,
                    "S3 records other than ObjectCreated ignored"
                );
            }
            for object in created {
                arrived(state, &object).await?;
            }
            Ok(())
        }
    }
}

/// Starts the task `object` names, if it awaits its upload.
pub async fn arrived(state: &AppState, object: &CreatedObject) -> Result<(), JobError> {
    let key = object.key.as_str();
    if object.bucket != state.cfg.bucket {
        tracing::warn!(bucket = %object.bucket, key, "object of another bucket ignored");
        return Ok(());
    }
    let Some(id) = import_task_of_key(key) else {
        tracing::warn!(key, "uploaded object names no import task; ignored");
        return Ok(());
    };
    let store = &state.store;
    let task = match store.import_task(id).await? {
        Some(t) if t.file_key == key => t,
        _ => {
            tracing::warn!(
                task_id = id,
                key,
                "uploaded object of an unknown import task; ignored"
            );
            return Ok(());
        }
    };
    let now = state.clock.now();
    match task.status {
        ImportStatus::AwaitingUpload => {}
        ImportStatus::Pending if task.next_offset == 0 && task.file_size.is_some() => {
            // Started by an earlier delivery, which may have died before sending.
            tracing::info!(
                task_id = id,
                "import already started by its upload; first chunk sent again"
            );
            return Ok(state.import_queue()?.send(id, 0).await?);
        }
        status => {
            tracing::warn!(
                task_id = id,
                key,
                size = object.size,
                status = status.as_str(),
                "upload for an import task that is not awaiting one; ignored"
            );
            return Ok(());
        }
    }
    let max = state.cfg.max_upload_bytes.max(0) as u64;
    if object.size > max {
        let reason = super::chunk::FileError::TooLarge {
            size: object.size,
            max,
        }
        .to_string();
        if store.fail_awaiting_import(&task, &reason, now).await? {
            tracing::warn!(task_id = id, reason, "import task failed");
        }
        return Ok(());
    }
    if store.start_uploaded_import(&task, object.size, now).await? {
        tracing::info!(
            task_id = id,
            size = object.size,
            "import file arrived; task started"
        );
    } else {
        // Another delivery started it (and sends the message) or the sweep expired it.
        tracing::info!(task_id = id, "import task no longer awaiting its upload");
        return Ok(());
    }
    // Pending now: if this send is lost, the redelivery of the notification (or
    // the pending sweep) sends it again.
    state.import_queue()?.send(id, 0).await?;
    Ok(())
}
