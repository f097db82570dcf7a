//! The data cleanup job (jobs.md J3): daily at 02:00 Asia/Shanghai (EventBridge
//! Scheduler) and on request (`POST /api/admin/data-cleanup/run` → tasks queue →
//! `jobs::tasks`). For each enabled cleanup configuration it deletes the items of
//! its target written before `now − retention_days`, oldest first, reading them from
//! the target's cleanup index partitions (`store::keys::cleanup_index`) in batches of
//! the configuration's `batch_size`, and writes one log per configuration.
//!
//! Items normally go by TTL (`expires_at`, the target's default retention); the job
//! deletes only what a shorter configured retention makes old before then. A run
//! lock (a TTL item of one hour) keeps two runs apart: the second does nothing.
//! Deleting oldest first makes a run cut short (time budget, Lambda timeout)
//! resumable: the next run starts where the oldest items are, and deleting an item
//! twice is harmless.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::sqs::JobError;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::data_cleanup::{cutoff, CleanupStatus, DataCleanupConfig, DataCleanupLog};
use crate::store::keys::CLEANUP_SHARDS;
use crate::store::StoreError;

/// How long the run lock holds (jobs.md J3: one hour).
pub const LOCK_SECS: i64 = 3600;
/// Time a run spends deleting before it stops and leaves the rest to the next run
/// (the function's timeout is 15 minutes).
pub const RUN_BUDGET: Duration = Duration::from_secs(12 * 60);

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Names the run's logs.
    pub run_id: String,
    /// Another run held the lock: this one did nothing.
    pub skipped: bool,
    /// The logs written, one per configuration cleaned.
    pub log_ids: Vec<u64>,
    /// Delete requests sent.
    pub deleted: u64,
    /// Configurations whose cleanup the time budget cut short.
    pub partial: usize,
    /// Configurations whose cleanup failed.
    pub failed: usize,
}

/// How a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The daily schedule.
    Schedule,
    /// A run-now request.
    Manual,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

/// Runs the cleanup at `now` (epoch seconds): every enabled configuration, or only
/// configuration `only` (enabled or not).
pub async fn run(state: &AppState, now: i64, only: Option<u64>) -> Result<Report, JobError> {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    run_with(state, now, only, &run_id, Trigger::Schedule, RUN_BUDGET).await
}

/// [`run`] with the run's id, how it was started and its time budget.
pub async fn run_with(
    state: &AppState,
    now: i64,
    only: Option<u64>,
    run_id: &str,
    trigger: Trigger,
    budget: Duration,
) -> Result<Report, JobError> {
    let mut report = Report {
        run_id: run_id.to_string(),
        ..Default::default()
    };
    let until = now + LOCK_SECS;
    if !state.store.claim_cleanup_lock(now, until).await? {
        tracing::info!(
            run_id,
            "data cleanup already running; this run does nothing"
        );
        report.skipped = true;
        return Ok(report);
    }
    let result = run_locked(state, now, only, trigger, budget, &mut report).await;
    if let Err(e) = state.store.release_cleanup_lock(until).await {
        tracing::warn!(error = %e, "cleanup lock not released; it expires within the hour");
    }
    result?;
    tracing::info!(
        run_id,
        logs = report.log_ids.len(),
        deleted = report.deleted,
        partial = report.partial,
        failed = report.failed,
        "data cleanup run"
    );
    if report.failed > 0 && report.failed == report.log_ids.len() {
        return Err(JobError(format!(
            "data cleanup failed for {} configurations",
            report.failed
        )));
    }
    Ok(report)
}

async fn run_locked(
    state: &AppState,
    now: i64,
    only: Option<u64>,
    trigger: Trigger,
    budget: Duration,
    report: &mut Report,
) -> Result<(), JobError> {
    let configs: Vec<DataCleanupConfig> = match only {
        Some(id) => state
            .store
            .cleanup_config_by_id(id)
            .await?
            .into_iter()
            .collect(),
        None => state
            .store
            .cleanup_configs()
            .await?
            .into_iter()
            .filter(|c| c.enabled)
            .collect(),
    };
    let deadline = Instant::now() + budget;
    for config in configs {
        let id = state.store.next_id("data_cleanup_log").await?;
        let mut log = DataCleanupLog {
            id,
            config_id: config.id,
            target: config.target,
            run_id: report.run_id.clone(),
            trigger: trigger.as_str().to_string(),
            cutoff: cutoff(now, config.retention_days),
            started_at: rfc3339(now),
            finished_at: None,
            deleted_count: 0,
            status: CleanupStatus::Running,
            error: None,
        };
        state.store.create_cleanup_log(&log, now).await?;
        report.log_ids.push(id);
        let outcome = clean(state, &config, log.cutoff, deadline, &mut log.deleted_count).await;
        log.status = match outcome {
            Ok(true) => CleanupStatus::Success,
            Ok(false) => {
                report.partial += 1;
                CleanupStatus::Partial
            }
            Err(e) => {
                report.failed += 1;
                tracing::error!(config_id = config.id, error = %e, "data cleanup failed");
                log.error = Some(e.to_string());
                CleanupStatus::Failed
            }
        };
        report.deleted += log.deleted_count;
        log.finished_at = Some(rfc3339(state.clock.now().max(now)));
        state.store.finish_cleanup_log(&log, now).await?;
    }
    Ok(())
}

/// Deletes `config`'s items written before `cutoff`, shard by shard, oldest first,
/// counting into `deleted`. `Ok(false)` when `deadline` came first.
async fn clean(
    state: &AppState,
    config: &DataCleanupConfig,
    cutoff: i64,
    deadline: Instant,
    deleted: &mut u64,
) -> Result<bool, StoreError> {
    let limit = i32::try_from(config.batch_size).unwrap_or(i32::MAX);
    for shard in 0..CLEANUP_SHARDS {
        let mut start = None;
        loop {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let page = state
                .store
                .cleanup_candidates(config.target, shard, cutoff, limit, start)
                .await?;
            state.store.delete_all(&page.keys).await?;
            *deleted += page.keys.len() as u64;
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
    }
    Ok(true)
}
