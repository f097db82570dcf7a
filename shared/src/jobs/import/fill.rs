//! Virtual-number fill (jobs.md J16, type `virtual_no`; domain.md §5.12): only blank
//! numbers are filled, all or nothing.
//!
//! The whole file is validated first (every conflict reported, nothing written),
//! then written in transactions of [`FILL_ROWS_PER_TX`] rows; a conflict found while
//! writing (a race) rolls back what this delivery wrote and fails the task.

use super::chunk::Chunk;
use super::{rows, Outcome};
use crate::app::AppState;
use crate::domain::assets::{FailedItem, ImportTask};
use crate::domain::stamp::Stamped;
use crate::jobs::sqs::JobError;
use crate::store::imports::{FilledRow, FinalCounts, Unique};
use crate::store::{Store, StoreError};

/// Virtual-number fill rows written per transaction (card + uniqueness item each).
const FILL_ROWS_PER_TX: usize = 50;

/// Fills blank virtual numbers from the whole file `chunk` and finishes the task.
pub async fn run(state: &AppState, task: &ImportTask, chunk: Chunk) -> Result<(), JobError> {
    let store = &state.store;
    let now = state.clock.now();
    let checked = rows::fills(&chunk, task);
    let mut out = Outcome::rejected(checked.failed);
    // Read phase: the cards and the numbers' uniqueness items.
    let iccids: Vec<String> = checked.valid.iter().map(|(_, f)| f.iccid.clone()).collect();
    let cards = store.live_cards_by_iccid(&iccids).await?;
    let vnos: Vec<String> = checked
        .valid
        .iter()
        .map(|(_, f)| f.virtual_no.clone())
        .collect();
    let taken = store.unique_holders(Unique::CardVirtualNo, &vnos).await?;
    let mut writes: Vec<FilledRow> = Vec::new();
    for (row, fill) in checked.valid {
        let (iccid, vno) = (fill.iccid, fill.virtual_no);
        let Some(card) = cards.get(&iccid) else {
            out.fail(task, row, &iccid, "card not found");
            continue;
        };
        let holder = taken.get(&vno);
        let ours =
            holder.is_some_and(|h| h.written_by(task.id, row) && h.target_id == Some(card.id));
        if ours && card.virtual_no.as_deref() == Some(vno.as_str()) {
            out.success += 1; // done by an earlier delivery of this task
            continue;
        }
        if let Some(current) = &card.virtual_no {
            out.fail(
                task,
                row,
                &iccid,
                format!("card already has virtual_no {current}"),
            );
            continue;
        }
        if holder.is_some() {
            let reason = format!("virtual_no {vno} already used by another card");
            out.fail(task, row, &iccid, reason);
            continue;
        }
        let mut filled = card.clone();
        filled.virtual_no = Some(vno.clone());
        filled.touch(task.created_by, now);
        writes.push(FilledRow {
            row,
            card: filled,
            virtual_no: vno,
        });
    }
    if !out.failed.is_empty() {
        store.put_import_failures(task.id, &out.failed).await?;
        let reason = format!("{} conflicting rows; nothing was written", out.failed.len());
        let failed = out.failed.len() as u64;
        return finish(store, task, &chunk, 0, failed, Some(&reason), now).await;
    }
    // Write phase, in transactions.
    let mut done: Vec<FilledRow> = Vec::new();
    for group in writes.chunks(FILL_ROWS_PER_TX) {
        match store.write_fill(task.id, group).await {
            Ok(()) => done.extend(group.iter().cloned()),
            Err(StoreError::ConditionFailed { .. }) => {
                roll_back(store, task, &done, now).await?;
                let failed: Vec<FailedItem> = group
                    .iter()
                    .map(|r| {
                        let reason = format!(
                            "virtual_no {} or the card changed during the import",
                            r.virtual_no
                        );
                        task.import_type.failed(r.row, &r.card.iccid, reason)
                    })
                    .collect();
                store.put_import_failures(task.id, &failed).await?;
                let reason = "a concurrent change conflicted; the batch was rolled back";
                let count = failed.len() as u64;
                return finish(store, task, &chunk, 0, count, Some(reason), now).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let ok = out.success + done.len() as u64;
    finish(store, task, &chunk, ok, 0, None, now).await
}

/// Takes back the numbers this delivery filled in.
async fn roll_back(
    store: &Store,
    task: &ImportTask,
    done: &[FilledRow],
    now: i64,
) -> Result<(), StoreError> {
    for r in done {
        let mut restored = r.card.clone();
        restored.virtual_no = None;
        restored.touch(task.created_by, now);
        store.undo_fill(task.id, r, &restored).await?;
    }
    Ok(())
}

/// Records the final state of the fill.
async fn finish(
    store: &Store,
    task: &ImportTask,
    chunk: &Chunk,
    ok: u64,
    failed: u64,
    error: Option<&str>,
    now: i64,
) -> Result<(), JobError> {
    let counts = FinalCounts {
        next_offset: chunk.next_offset,
        next_row: chunk.last_row,
        total: chunk.rows.len() as u64,
        ok,
        failed,
        error,
    };
    if !store.finish_import_task(task, &counts, now).await? {
        tracing::info!(task_id = task.id, "virtual-number fill already recorded");
    }
    Ok(())
}
