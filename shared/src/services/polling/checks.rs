//! The check handlers (jobs.md J5–J8). A batch of check messages is handled under
//! the task type's semaphore: the invocation takes as many permits as it has cards
//! (at most the free ones) and checks that many cards at once, so concurrent gateway
//! calls of a task type never exceed its limit, whatever the number of invocations.
//! Each check overwrites our state with the gateway's truth, so a duplicate is
//! harmless; gateway failures are re-sent 3 times with back-off, then the card waits
//! for its next scheduled check.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::{effective, CheckMessage};
use crate::app::AppState;
use crate::domain::assets::IotCard;
use crate::domain::polling::{polled, PollFilters, TaskType};
use crate::integrations::gateway::client::{GatewayClient, GatewayError};
use crate::services::usage_rules::fire::RuleBook;
use crate::store::keys;
use crate::store::polling::CheckCounts;
use crate::store::StoreError;

/// Attempts of a card's check before it waits for its next scheduled check.
pub const MAX_ATTEMPTS: u32 = 4;
/// How long an invocation waits for a free permit before giving its messages back.
const PERMIT_WAIT_MS: u64 = 3_000;
/// How long permits are held at most (a dead invocation's are freed after this).
pub const PERMIT_LEASE_SECS: i64 = 120;

/// Why a batch could not be handled (its messages are retried).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] crate::integrations::fifo::QueueError),
    #[error("no permit of {0:?} became free")]
    Busy(TaskType),
}

/// The outcome of one card's check.
#[derive(Debug)]
pub(crate) enum Done {
    /// Checked against the gateway (its latency in ms).
    Checked(i64),
    /// Not checked: not polled, filtered out or not concerned.
    Skipped,
}

/// A failed check.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fail {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] crate::integrations::fifo::QueueError),
    #[error(transparent)]
    Job(#[from] crate::jobs::sqs::JobError),
    #[error("{0}")]
    Other(String),
}

impl From<crate::services::asset_ops::OpsError> for Fail {
    fn from(e: crate::services::asset_ops::OpsError) -> Self {
        use crate::services::asset_ops::OpsError;
        match e {
            OpsError::Gateway(g) => Fail::Gateway(g),
            OpsError::Store(s) => Fail::Store(s),
            other => Fail::Other(other.to_string()),
        }
    }
}

impl Fail {
    /// Whether another attempt may succeed.
    fn retryable(&self) -> bool {
        match self {
            Fail::Gateway(g) => g.retryable(),
            Fail::Store(_) | Fail::Queue(_) | Fail::Job(_) => true,
            Fail::Other(_) => false,
        }
    }
}

/// Handles a batch of check messages of `task`; answers the counts recorded.
pub async fn handle(
    state: &AppState,
    task: TaskType,
    messages: Vec<CheckMessage>,
) -> Result<CheckCounts, CheckError> {
    let store = &state.store;
    let mut work: Vec<(u64, Option<String>, u32)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for m in &messages {
        for &id in &m.cards {
            if seen.insert(id) {
                work.push((id, m.cohort.clone(), m.attempt));
            }
        }
    }
    if work.is_empty() {
        return Ok(CheckCounts::default());
    }
    let keys_: Vec<_> = work.iter().map(|w| keys::card(w.0)).collect();
    let mut cards: HashMap<u64, IotCard> = store
        .entities::<IotCard>(&keys_)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let filters = Arc::new(effective(store, task).await?.filters);
    // The usage rules of the batch's cards, read once (card data checks only).
    let book = Arc::new(if task == TaskType::Carddata {
        RuleBook::load(state, cards.values()).await?
    } else {
        RuleBook::default()
    });
    let holder = uuid::Uuid::new_v4().to_string();
    let permits = acquire(state, task, &holder, work.len() as i64).await?;
    let gate = Arc::new(tokio::sync::Semaphore::new(permits as usize));
    let mut set = tokio::task::JoinSet::new();
    for (id, cohort, attempt) in work {
        let card = cards.remove(&id);
        let (state, gate, filters, book) =
            (state.clone(), gate.clone(), filters.clone(), book.clone());
        set.spawn(crate::store::calls::inherit(async move {
            let _permit = gate.acquire_owned().await;
            let res = check_card(&state, task, id, card, cohort.as_deref(), &filters, &book).await;
            (id, cohort, attempt, res)
        }));
    }
    let mut counts = CheckCounts::default();
    let mut retry: HashMap<(Option<String>, u32), Vec<u64>> = HashMap::new();
    while let Some(joined) = set.join_next().await {
        let Ok((id, cohort, attempt, res)) = joined else {
            counts.failed += 1;
            continue;
        };
        match res {
            Ok(Done::Checked(ms)) => {
                counts.checks += 1;
                counts.succeeded += 1;
                counts.latency_ms += ms;
            }
            Ok(Done::Skipped) => {}
            Err(e) => {
                counts.checks += 1;
                counts.failed += 1;
                if matches!(e, Fail::Gateway(_)) {
                    counts.gateway_errors += 1;
                }
                tracing::warn!(card_id = id, task = task.as_str(), attempt, error = %e, "check failed");
                if e.retryable() && attempt + 1 < MAX_ATTEMPTS {
                    retry.entry((cohort, attempt + 1)).or_default().push(id);
                }
            }
        }
    }
    let released = store.release_permits(task, &holder).await;
    let bodies: Vec<(CheckMessage, i32)> = retry
        .into_iter()
        .map(|((cohort, attempt), cards)| {
            let delay = 10 * 2i32.pow(attempt.min(5));
            (
                CheckMessage {
                    task,
                    cards,
                    cohort,
                    attempt,
                },
                delay,
            )
        })
        .collect();
    if !bodies.is_empty() {
        state.job_queue(task.queue()).send_batch(&bodies).await?;
    }
    if counts != CheckCounts::default() {
        store.record_checks(task, state.clock.now(), counts).await?;
    }
    released?;
    Ok(counts)
}

/// Takes up to `want` permits, waiting for a free one up to [`PERMIT_WAIT_MS`].
async fn acquire(
    state: &AppState,
    task: TaskType,
    holder: &str,
    want: i64,
) -> Result<i64, CheckError> {
    let started = Instant::now();
    loop {
        let now = state.clock.now();
        let got = state
            .store
            .acquire_permits(task, holder, want, now, now + PERMIT_LEASE_SECS)
            .await?;
        if got > 0 {
            return Ok(got);
        }
        if started.elapsed().as_millis() as u64 > PERMIT_WAIT_MS {
            return Err(CheckError::Busy(task));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Checks one card for `task`.
async fn check_card(
    state: &AppState,
    task: TaskType,
    id: u64,
    card: Option<IotCard>,
    cohort: Option<&str>,
    filters: &PollFilters,
    book: &RuleBook,
) -> Result<Done, Fail> {
    let card = match card {
        Some(c) if polled(&c) => c,
        _ => {
            if let Some(sk) = cohort {
                state.store.leave_cohort(task, sk, id).await?;
            }
            return Ok(Done::Skipped);
        }
    };
    if !filters.matches(&card) {
        return Ok(Done::Skipped);
    }
    match task {
        TaskType::Realname => super::realname::check(state, &card, cohort).await,
        TaskType::Carddata => super::carddata::check(state, &card, book).await,
        TaskType::Package => super::package::check(state, &card).await,
        TaskType::Protect => super::package::check_protect(state, &card, cohort).await,
    }
}

/// The carrier gateway (a check without one cannot succeed: not retried).
pub(crate) async fn gateway(state: &AppState) -> Result<&GatewayClient, Fail> {
    state
        .gateway()
        .await
        .map_err(|e| Fail::Other(e.to_string()))?
        .ok_or_else(|| Fail::Other("no carrier gateway configured".into()))
}

/// Times a gateway call.
pub(crate) async fn timed<T, F>(call: F) -> (Result<T, GatewayError>, i64)
where
    F: std::future::Future<Output = Result<T, GatewayError>>,
{
    let started = Instant::now();
    let res = call.await;
    (res, started.elapsed().as_millis() as i64)
}
