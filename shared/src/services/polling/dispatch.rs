//! The polling dispatcher (jobs.md J4): once a minute, for each enabled task type,
//! lease the due cohorts, send their cards to the task type's queue in batched
//! messages and move each cohort to its next check minute.
//!
//! Overlapping runs never send a cohort twice: a cohort is leased (conditional
//! write) before it is sent. A run that dies after sending and before moving leaves
//! the lease to expire, and the next run sends the cohort again (a duplicate check is
//! harmless; a lost one would not be). Cohorts overdue since an earlier minute go at
//! once; those due this minute are spread over it by shard (`DelaySeconds`).

use serde::Serialize;

use super::{effective, CheckMessage};
use crate::app::AppState;
use crate::domain::polling::{
    minute, shard as card_shard, TaskType, CARDS_PER_MESSAGE, COHORT_SHARDS,
};
use crate::store::polling::Cohort;
use crate::store::StoreError;

/// How long a run holds a cohort it is sending.
pub const LEASE_SECS: i64 = 120;
/// Cohorts read per Query.
const PAGE: i32 = 50;
/// Cohorts one run handles per task type (a run stops early rather than overrun
/// the minute; what is left is overdue next minute).
const MAX_COHORTS_PER_RUN: usize = 2_000;

/// What one run did for one task type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TaskDispatch {
    pub task_type: Option<TaskType>,
    pub cohorts: usize,
    pub cards: usize,
    pub messages: usize,
    /// Cohorts another run held.
    pub skipped: usize,
    pub disabled: bool,
}

/// Failures that stop a run (the next minute's run retries).
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] crate::integrations::fifo::QueueError),
}

/// One dispatcher run at `now` over every task type.
pub async fn run(state: &AppState, now: i64) -> Result<Vec<TaskDispatch>, DispatchError> {
    let mut out = Vec::with_capacity(TaskType::ALL.len());
    for task in TaskType::ALL {
        out.push(dispatch_task(state, task, now).await?);
    }
    Ok(out)
}

/// One run of `task`.
pub async fn dispatch_task(
    state: &AppState,
    task: TaskType,
    now: i64,
) -> Result<TaskDispatch, DispatchError> {
    let store = &state.store;
    let mut report = TaskDispatch {
        task_type: Some(task),
        ..Default::default()
    };
    let settings = effective(store, task).await?;
    if !settings.enabled {
        report.disabled = true;
        return Ok(report);
    }
    let this_minute = minute(now);
    let next_minute = this_minute + (settings.interval_secs / 60).max(1);
    let until = now + LEASE_SECS;
    while report.cohorts + report.skipped < MAX_COHORTS_PER_RUN {
        let due = store.due_cohorts(task, this_minute, now, PAGE).await?;
        if due.is_empty() {
            break;
        }
        for c in due {
            let Some(leased) = store.lease_cohort(task, &c.sk, now, until).await? else {
                report.skipped += 1;
                continue;
            };
            let shard = shard_of(&leased.sk);
            let delay = if leased.sk.starts_with(&format!("{this_minute:012}#")) {
                (shard * 60 / COHORT_SHARDS) as i32
            } else {
                0
            };
            // Each card's next cohort is its own shard's (a batch joined by import
            // shares one cohort until this first move sorts it).
            let mut by_shard: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
            for &id in &leased.cards {
                by_shard.entry(card_shard(id)).or_default().push(id);
            }
            let mut bodies: Vec<(CheckMessage, i32)> = Vec::new();
            for (sh, ids) in by_shard {
                let next_sk = crate::store::keys::cohort(task, next_minute, sh).sk;
                for chunk in ids.chunks(CARDS_PER_MESSAGE) {
                    bodies.push((
                        CheckMessage {
                            task,
                            cards: chunk.to_vec(),
                            cohort: Some(next_sk.clone()),
                            attempt: 0,
                        },
                        delay,
                    ));
                }
            }
            state.job_queue(task.queue()).send_batch(&bodies).await?;
            move_leased(state, task, leased.clone(), until, next_minute).await?;
            report.cohorts += 1;
            report.cards += leased.cards.len();
            report.messages += bodies.len();
        }
    }
    if report.cards > 0 {
        store
            .record_dispatch(task, now, report.cards as i64)
            .await?;
    }
    Ok(report)
}

/// The shard in a cohort's sort key (`<minute>#<shard>`).
fn shard_of(sk: &str) -> u64 {
    sk.rsplit('#')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Moves a leased cohort; when cards joined or left it meanwhile the move is
/// refused, and it is retried with the cohort as it is now (cards that joined move
/// along unchecked: they were scheduled for now and are checked next time).
async fn move_leased(
    state: &AppState,
    task: TaskType,
    mut cohort: Cohort,
    until: i64,
    next_minute: i64,
) -> Result<(), StoreError> {
    for _ in 0..5 {
        match state
            .store
            .move_cohort(task, &cohort, until, next_minute)
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => {
                match state.store.cohort(task, &cohort.sk).await? {
                    Some(now) => cohort = now,
                    None => return Ok(()),
                }
            }
            other => return other,
        }
    }
    Err(StoreError::Dynamo(format!(
        "cohort {} kept changing while it was moved",
        cohort.sk
    )))
}
