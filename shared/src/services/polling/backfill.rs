//! The polling backfill (docs/polling.md): schedules live, polled cards that have
//! no cohorts (cards from before polling, or whose polling was never scheduled),
//! page by page over the platform-wide card index, resuming from the position saved
//! after each page. Cards imported since polling carry the marker and are skipped;
//! a backfilled card gets it after joining its cohorts.

use serde::Serialize;

use crate::domain::assets::IotCard;
use crate::domain::polling::polled;
use crate::store::polling_backfill::{unscheduled_cards, BackfillState};
use crate::store::{Store, StoreError};

/// Cards one backfill page schedules at most.
pub const BACKFILL_PAGE: usize = 100;
/// Query calls one page spends at most (a page whose cards are mostly scheduled
/// already stops there and the next one continues).
const PAGE_CALLS: usize = 4;

/// What a backfill call did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct BackfillReport {
    /// Cards joined to their cohorts by this call.
    pub scheduled: u64,
    /// Pages read by this call.
    pub pages: u32,
    /// The pass ended (every card was read): call again only to start a new pass.
    pub done: bool,
    /// Passes completed so far.
    pub passes: u64,
}

/// Runs up to `max_pages` pages of the backfill pass under way (starting one if
/// none is). Safe to run concurrently: two runs reading the same page join the
/// same cohorts (see `schedule_backfill`), and a run whose save loses to another's
/// continues from the saved position.
pub async fn backfill(
    store: &Store,
    now: i64,
    max_pages: u32,
) -> Result<BackfillReport, StoreError> {
    let queries = unscheduled_cards();
    let mut report = BackfillReport::default();
    while report.pages < max_pages {
        let seen = store.backfill_state().await?;
        let from = seen.cursor.clone().unwrap_or_default();
        let (cards, next) = store
            .read_slice(&queries, from, BACKFILL_PAGE, PAGE_CALLS, |c: &IotCard| {
                polled(c) && !c.polling_scheduled
            })
            .await?;
        super::schedule_backfill(store, &cards, now).await?;
        let ids: Vec<u64> = cards.iter().map(|c| c.id).collect();
        store.mark_polling_scheduled(&ids).await?;
        report.scheduled += ids.len() as u64;
        report.pages += 1;
        let ended = next.is_none();
        let state = BackfillState {
            cursor: next,
            passes: seen.passes + u64::from(ended),
            version: seen.version + 1,
        };
        let saved = store.save_backfill(&seen, &state).await?;
        report.passes = if saved {
            state.passes
        } else {
            seen.passes + u64::from(ended)
        };
        if ended {
            // Saved by this run or by another that read the same last page.
            report.done = true;
            break;
        }
    }
    Ok(report)
}
