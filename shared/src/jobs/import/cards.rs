//! Writing the card rows of a chunk (jobs.md J16, type `cards`).
//!
//! Each row claims its ICCID, virtual number and MSISDN with conditional puts (a
//! conflict gives back what the row claimed); new cards are then batch-written. A
//! row an earlier delivery of the chunk claimed (the worker died before recording
//! progress) rewrites its card only if it is still exactly as this task created it,
//! so a move made in between is never lost. No multi-row transactions: they cost
//! twice the write units.

use super::{conflict_reason, rows, target_shop, Outcome};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{ImportTask, IotCard};
use crate::domain::entities::Carrier;
use crate::jobs::import::chunk::Chunk;
use crate::jobs::sqs::JobError;
use crate::store::assets::card_item;
use crate::store::imports::{Claim, Unique};
use crate::store::keys::gsi1;
use crate::store::{Store, StoreError};

/// Rows of a chunk claimed at the same time.
const ROW_CONCURRENCY: usize = 16;

/// A valid card row to write.
struct CardRow {
    row: u64,
    card: IotCard,
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
    // Existing ICCIDs: replays of this task's rows count as done, others fail.
    let iccids: Vec<String> = checked.valid.iter().map(|(_, c)| c.iccid.clone()).collect();
    let existing = store.unique_holders(Unique::Iccid, &iccids).await?;
    let mut todo = Vec::new();
    for (row, card) in checked.valid {
        match existing.get(&card.iccid) {
            // Claimed by an earlier delivery of this row: write it again (same card id),
            // the card itself may not have been written before that delivery died.
            Some(h) if h.written_by(task.id, row) => todo.push(CardRow { row, card }),
            Some(h) => {
                let reason = conflict_reason(h, task.id, "iccid");
                out.fail(task, row, &card.iccid, reason);
            }
            None => todo.push(CardRow { row, card }),
        }
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let first_id = store.next_ids("card", todo.len() as u64).await?;
    for (r, id) in todo.iter_mut().zip(first_id..) {
        r.card.id = id;
    }
    // Rows are claimed concurrently; cards are then written in batches.
    let mut set = tokio::task::JoinSet::new();
    let mut pending = todo.into_iter();
    let mut cards = Vec::new();
    let mut replays = Vec::new();
    loop {
        while set.len() < ROW_CONCURRENCY {
            let Some(r) = pending.next() else { break };
            let store = store.clone();
            let task_id = task.id;
            set.spawn(crate::store::calls::inherit(async move {
                let claim = claim_values(&store, &r, task_id).await;
                (r, claim)
            }));
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (mut r, claim) = joined.map_err(|e| JobError(e.to_string()))?;
        match claim? {
            Claimed::Ok { id, replay } => {
                r.card.id = id;
                if replay {
                    replays.push(card_item(&r.card)?);
                } else {
                    cards.push(card_item(&r.card)?);
                }
                out.success += 1;
            }
            Claimed::Conflict(reason) => out.fail(task, r.row, &r.card.iccid, reason),
        }
    }
    store.put_all(cards).await?;
    for card in replays {
        store.rewrite_imported_card(card, task.id).await?;
    }
    Ok(out)
}

/// Outcome of claiming a row's unique values.
enum Claimed {
    /// All values are this row's; the card id to write, and whether an earlier
    /// delivery had claimed them (so the card may exist already).
    Ok { id: u64, replay: bool },
    /// A value belongs to something else; nothing of this row remains claimed.
    Conflict(String),
}

/// Claims a card row's ICCID, virtual number and MSISDN. A value already claimed by
/// this task and row (an earlier delivery) counts as claimed and fixes the card id,
/// so a replay writes the same card again.
async fn claim_values(store: &Store, r: &CardRow, task: u64) -> Result<Claimed, StoreError> {
    let c = &r.card;
    let mut id = c.id;
    let mut replay = false;
    let mut claimed: Vec<(Unique, &str)> = Vec::new();
    let values = [
        (Unique::Iccid, Some(c.iccid.as_str())),
        (Unique::CardVirtualNo, c.virtual_no.as_deref()),
        (Unique::Msisdn, c.msisdn.as_deref()),
    ];
    for (kind, value) in values {
        let Some(value) = value else { continue };
        match store.claim_unique(kind, value, id, task, r.row).await? {
            Claim::Claimed => claimed.push((kind, value)),
            Claim::Held(h) if h.written_by(task, r.row) => {
                id = h.target_id.unwrap_or(id);
                replay = true;
            }
            Claim::Held(h) => {
                // Give back what this attempt claimed, then report the conflict.
                for (kind, value) in claimed {
                    store.release_unique(kind, value, task, r.row).await?;
                }
                return Ok(Claimed::Conflict(conflict_reason(&h, task, kind.field())));
            }
        }
    }
    Ok(Claimed::Ok { id, replay })
}
