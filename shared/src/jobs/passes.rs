//! Sub-minute schedules (jobs.md §0.2): EventBridge fires once a minute, so the jobs
//! the source ran every 10 s (J10, J13) run several passes 10 s apart inside one
//! invocation, stopping before the function's timeout.

use std::future::Future;
use std::time::{Duration, Instant};

use super::sqs::JobError;
use crate::app::AppState;

/// How many passes an invocation runs, how far apart, and the time after which no
/// pass starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passes {
    pub count: u32,
    pub gap: Duration,
    pub budget: Duration,
}

impl Passes {
    /// The Lambda's: 6 passes 10 s apart, none starting after 55 s (function timeout
    /// 90 s, template.yaml).
    pub const LAMBDA: Passes = Passes {
        count: 6,
        gap: Duration::from_secs(10),
        budget: Duration::from_secs(55),
    };

    /// One pass, now (tests, manual runs).
    pub const ONCE: Passes = Passes {
        count: 1,
        gap: Duration::ZERO,
        budget: Duration::ZERO,
    };
}

/// Runs `pass` (given the state's clock at each start) as `passes` says, pass `k`
/// starting `k × gap` after the first; a failed pass is logged and the next one
/// retries its work. Fails only when every pass failed.
pub async fn repeat<R, F, Fut>(
    state: &AppState,
    passes: Passes,
    pass: F,
) -> Result<Vec<R>, JobError>
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Result<R, JobError>>,
{
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut last_error = None;
    for k in 0..passes.count {
        let at = passes.gap * k;
        if k > 0 {
            if at > passes.budget {
                break;
            }
            tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        }
        let begun = Instant::now();
        match pass(state.clock.now()).await {
            Ok(r) => reports.push(r),
            Err(e) => {
                tracing::error!(pass = k, error = %e, "pass failed; the next one retries");
                last_error = Some(e);
            }
        }
        if !passes.gap.is_zero() && begun.elapsed() > passes.gap {
            tracing::warn!(
                pass = k,
                millis = begun.elapsed().as_millis() as u64,
                "pass longer than its cadence"
            );
        }
    }
    match (reports.is_empty(), last_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(reports),
    }
}

/// The shard a pass at `now` reads first (a different one each 10 s).
pub fn first_shard(now: i64) -> u64 {
    (now.max(0) / 10) as u64
}

/// Runs `work` on every item, at most `concurrency` at a time (each a task on the
/// runtime), and returns each item with its outcome (a task that panicked or was
/// cancelled counts as failed).
pub async fn each_concurrently<T, R, F, Fut>(
    state: &AppState,
    items: Vec<T>,
    concurrency: usize,
    work: F,
) -> Vec<(T, Result<R, JobError>)>
where
    T: Clone + Send + 'static,
    R: Send + 'static,
    F: Fn(AppState, T) -> Fut,
    Fut: Future<Output = Result<R, JobError>> + Send + 'static,
{
    let mut out = Vec::with_capacity(items.len());
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        let mut set = tokio::task::JoinSet::new();
        for item in rest.by_ref().take(concurrency.max(1)) {
            let job = work(state.clone(), item.clone());
            set.spawn(async move { (item, job.await) });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(done) => out.push(done),
                Err(e) => tracing::error!(error = %e, "task failed"),
            }
        }
    }
    out
}
