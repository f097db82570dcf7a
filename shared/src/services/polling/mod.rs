//! Carrier polling (jobs.md J4–J9): cards join cohorts of the task types that check
//! them, the dispatcher sends due cohorts to the task types' queues, and the check
//! handlers bring the carrier's truth back under a per-task-type concurrency limit.

pub mod admin;
pub mod backfill;
pub mod carddata;
pub mod checks;
pub mod dispatch;
mod package;
pub mod realname;
pub mod select;

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::assets::IotCard;
use crate::domain::polling::{
    backfill_minute, initial_tasks, minute, polled, shard, spread_minute, Effective, TaskType,
    CARDS_PER_MESSAGE,
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

/// Schedules new (imported) `cards` for their task types. A batch
/// joins one cohort per task type, at a minute within the interval chosen by its
/// first card (so batches spread over the interval and a replayed batch joins the
/// same cohort); the first dispatch spreads its cards into their own shards. Cost:
/// one read of the configurations and one write per task type.
pub async fn schedule_cards(store: &Store, cards: &[IotCard], now: i64) -> Result<(), StoreError> {
    let configs = store.polling_configs().await?;
    for task in [TaskType::Realname, TaskType::Carddata, TaskType::Package] {
        let ids: Vec<u64> = cards
            .iter()
            .filter(|c| polled(c) && initial_tasks(c).contains(&task))
            .map(|c| c.id)
            .collect();
        let Some(&first) = ids.first() else {
            continue;
        };
        let interval =
            Effective::of(task, configs.iter().find(|c| c.task_type == task)).interval_secs;
        let span = (interval / 60).max(1) as u64;
        let at = spread_minute(now, interval, first % span, span);
        store.join_cohort(task, at, shard(first), &ids).await?;
    }
    Ok(())
}

/// Schedules backfilled `cards` for their task types: each card joins, per task
/// type, the cohort of its own shard at its own [`backfill_minute`], so a card
/// backfilled twice (two runs at once, or a run repeated after a crash) is in the
/// same cohort or in one a whole interval later, which the dispatcher's move merges
/// into. Cost: one read of the configurations and one write per task type, minute
/// and shard present (at most the number of cards).
pub async fn schedule_backfill(
    store: &Store,
    cards: &[IotCard],
    now: i64,
) -> Result<(), StoreError> {
    let configs = store.polling_configs().await?;
    for task in [TaskType::Realname, TaskType::Carddata, TaskType::Package] {
        let interval =
            Effective::of(task, configs.iter().find(|c| c.task_type == task)).interval_secs;
        let mut by_minute: std::collections::BTreeMap<i64, Vec<u64>> = Default::default();
        for c in cards
            .iter()
            .filter(|c| polled(c) && initial_tasks(c).contains(&task))
        {
            by_minute
                .entry(backfill_minute(now, interval, c.id))
                .or_default()
                .push(c.id);
        }
        for (at, ids) in by_minute {
            store.join_cohorts(task, at, &ids).await?;
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
