//! Writing the card rows of a chunk (jobs.md J16, type `cards`).
//!
//! One batch read of the ICCIDs' uniqueness items per 100 rows sorts the rows first:
//! an ICCID held by something else fails its row without costing a transaction, one
//! held by this very row (an earlier delivery of the chunk wrote it, then the worker
//! died before recording progress) makes the row a replay of the card id it names.
//! The rest are written many per transaction ([`group`]): each row claims its ICCID,
//! virtual number and MSISDN and puts its card, 25 rows in one `TransactWriteItems`.
//! A cancelled group fails only the rows whose values turn out to be taken (a
//! virtual number or MSISDN already present, or a value claimed meanwhile), and
//! learns the rows an earlier delivery wrote; the rest are sent again. A replay
//! rewrites its card only if it is still exactly as this task created it, so a move
//! made in between is never lost.

use super::group::{self, GroupRow, Verdict};
use super::{conflict_reason, rows, target_shop, Outcome};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{ImportTask, IotCard};
use crate::domain::entities::Carrier;
use crate::jobs::import::chunk::Chunk;
use crate::jobs::sqs::JobError;
use crate::store::imports::{import_card_ops, Holder, Unique, CARD_LABEL};
use crate::store::keys::gsi1;
use crate::store::tx::{FailedCondition, Tx};
use crate::store::StoreError;

/// A valid card row to write.
struct CardRow {
    row: u64,
    card: IotCard,
    /// An earlier delivery of the chunk claimed the row's values (for `card.id`).
    replay: bool,
}

impl GroupRow for CardRow {
    fn row(&self) -> u64 {
        self.row
    }

    fn name(&self) -> &str {
        &self.card.iccid
    }

    fn ops(&self, tx: Tx, task: u64) -> Result<Tx, StoreError> {
        import_card_ops(tx, &self.card, task, self.row, self.replay)
    }

    fn verdict(&mut self, failed: &FailedCondition, task: u64) -> Verdict {
        if failed.label == CARD_LABEL {
            return if self.replay {
                // Changed since this task wrote it (moved, bound...): kept as it is.
                Verdict::Done
            } else {
                Verdict::Failed(format!("card id {} is already in use", self.card.id))
            };
        }
        let holder = Holder::of_failed(failed);
        if holder.written_by(task, self.row) && !self.replay {
            // Claimed by an earlier delivery of this row: write it again, as that
            // card (which may not have been written before that delivery died).
            self.replay = true;
            self.card.id = holder.target_id.unwrap_or(self.card.id);
            return Verdict::Again;
        }
        Verdict::Failed(conflict_reason(&holder, task, failed.label))
    }
}

/// Validates and writes the card rows of a chunk (without recording progress).
pub async fn import(
    state: &AppState,
    task: &ImportTask,
    chunk: &Chunk,
) -> Result<Outcome, JobError> {
    let store = &state.store;
    let carriers: Vec<Carrier> = store.list_scope(gsi1::CARRIERS, "").await?;
    let shop = target_shop(store, task).await?;
    let now = rfc3339(state.clock.now());
    let checked = rows::cards(chunk, task, &carriers, shop.as_ref(), &now);
    let mut out = Outcome::rejected(checked.failed);
    // Existing ICCIDs: replays of this task's rows are written again, others fail.
    let iccids: Vec<String> = checked.valid.iter().map(|(_, c)| c.iccid.clone()).collect();
    let existing = store.unique_holders(Unique::Iccid, &iccids).await?;
    let mut todo = Vec::new();
    for (row, mut card) in checked.valid {
        match existing.get(&card.iccid) {
            Some(h) if h.written_by(task.id, row) => {
                card.id = h.target_id.unwrap_or_default();
                todo.push(CardRow {
                    row,
                    card,
                    replay: true,
                });
            }
            Some(h) => {
                let reason = conflict_reason(h, task.id, "iccid");
                out.fail(task, row, &card.iccid, reason);
            }
            None => todo.push(CardRow {
                row,
                card,
                replay: false,
            }),
        }
    }
    let fresh = todo.iter().filter(|r| r.card.id == 0).count() as u64;
    if fresh > 0 {
        let first_id = store.next_ids("card", fresh).await?;
        let unnumbered = todo.iter_mut().filter(|r| r.card.id == 0);
        for (r, id) in unnumbered.zip(first_id..) {
            r.card.id = id;
        }
    }
    // New cards join their polling cohorts (a card whose row then fails is dropped
    // from its cohort by its first check; joining twice is harmless).
    let scheduled: Vec<_> = todo.iter().map(|r| r.card.clone()).collect();
    let written = group::write_all(store, task, todo).await?;
    crate::services::polling::schedule_cards(store, &scheduled, state.clock.now()).await?;
    out.success += written.success;
    out.failed.extend(written.failed);
    Ok(out)
}
