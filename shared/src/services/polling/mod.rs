//! Carrier polling (jobs.md J4–J9): cards join cohorts of the task types that check
//! them, the dispatcher sends due cohorts to the task types' queues, and the check
//! handlers bring the carrier's truth back under a per-task-type concurrency limit.

pub mod admin;
pub mod carddata;
pub mod checks;
pub mod dispatch;
pub mod network;
mod package;
pub mod realname;

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::assets::IotCard;
use crate::domain::polling::{
    initial_tasks, minute, polled, spread_minute, Effective, TaskType, CARDS_PER_MESSAGE,
};
use crate::integrations::fifo::QueueError;
use crate::store::{Store, StoreError};

/// A message of check work: cards of one task type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckMessage {
    pub task: TaskType,
    pub cards: Vec<u64>,
    /// The cohort (sort key) the cards are scheduled in next, so a card found no
    /// longer polled can leave it; absent for manual and follow-up checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<String>,
    /// Earlier attempts of these cards' check (gateway failures are retried 3 times,
    /// then the cards wait for their next scheduled check).
    #[serde(default)]
    pub attempt: u32,
}

/// The effective settings of `task` (its configuration or the defaults).
pub async fn effective(store: &Store, task: TaskType) -> Result<Effective, StoreError> {
    Ok(Effective::of(
        task,
        store.polling_config(task).await?.as_ref(),
    ))
}

/// Schedules new (imported) or backfilled `cards` for their task types, spread over
/// each interval so a large batch does not fall due at once. Adding a card that is
/// already scheduled only adds a check. Cost: one write per cohort touched.
pub async fn schedule_cards(store: &Store, cards: &[IotCard], now: i64) -> Result<(), StoreError> {
    for task in [TaskType::Realname, TaskType::Carddata, TaskType::Package] {
        let interval = effective(store, task).await?.interval_secs;
        let ids: Vec<u64> = cards
            .iter()
            .filter(|c| polled(c) && initial_tasks(c).contains(&task))
            .map(|c| c.id)
            .collect();
        let count = ids.len() as u64;
        let mut by_minute: std::collections::BTreeMap<i64, Vec<u64>> = Default::default();
        for (i, id) in ids.into_iter().enumerate() {
            by_minute
                .entry(spread_minute(now, interval, i as u64, count))
                .or_default()
                .push(id);
        }
        for (m, ids) in by_minute {
            store.join_cohorts(task, m, &ids).await?;
        }
    }
    Ok(())
}

/// Schedules `cards` for `task` at the next minute (e.g. protect checks when a
/// device protect period starts).
pub async fn schedule_now(
    store: &Store,
    task: TaskType,
    cards: &[u64],
    now: i64,
) -> Result<(), StoreError> {
    store.join_cohorts(task, minute(now) + 1, cards).await
}

/// Queues immediate checks of `cards` (deduplicated) for `task`; answers how many
/// cards were queued. The checks run under the same concurrency limit.
pub async fn enqueue_checks(
    state: &AppState,
    task: TaskType,
    cards: &[u64],
) -> Result<usize, QueueError> {
    let mut ids = cards.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let bodies: Vec<(CheckMessage, i32)> = ids
        .chunks(CARDS_PER_MESSAGE)
        .map(|chunk| {
            (
                CheckMessage {
                    task,
                    cards: chunk.to_vec(),
                    cohort: None,
                    attempt: 0,
                },
                0,
            )
        })
        .collect();
    state.job_queue(task.queue()).send_batch(&bodies).await?;
    Ok(ids.len())
}
