//! Data reset (jobs.md J13, domain.md §5.7.4), every 10 s and on demand: live usages
//! whose `next_reset_at` passed get usage 0, `last_reset_at` = the latest reset
//! moment reached, `next_reset_at` = the first moment after now, used up → active;
//! expiry unchanged; usages already past their expiry are left to J10. Read from the
//! reset due index, at most `limit` per pass (the rest stays due: the next pass
//! continues). Each reset is conditioned on the usage's version (stronger than "its
//! `next_reset_at` unchanged": a deduction written meanwhile is not lost either); a
//! stale copy from the index is retried from the stored one the failed condition
//! returns, which an overlapping pass has already moved past the moment (then
//! nothing is written twice).
//!
//! Cards stopped for exhaustion are resumed through J11 (one `queue_activation`
//! message per asset whose usage went from used up to active), not inline: the pass
//! makes no gateway call, and J11 resumes only while the asset has an active usage.

use std::collections::HashSet;

use serde::Serialize;

use super::package_activation::request_queue_activation;
use super::passes::{each_concurrently, first_shard, repeat, Passes};
use super::sqs::JobError;
use crate::app::AppState;
use crate::domain::assets::AssetType;
use crate::domain::usage::{PackageUsage, UsageStatus};
use crate::store::usage_lifecycle::DueIndex;
use crate::store::{from_item, StoreError};

/// Most usages one scheduled pass resets (the source's batch).
pub const BATCH: usize = 10_000;

/// Resets written at once (a pass of 10 000 at ~10 ms each: about 3 s).
const CONCURRENCY: usize = 32;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResetReport {
    /// Due usages read from the index.
    pub due: usize,
    /// Usages reset by this pass.
    pub reset_count: usize,
    /// Assets asked to resume their cards (J11).
    pub resume_requested: usize,
    /// Left for the next pass (logged).
    pub failed: usize,
    /// The pass stopped at its limit: more may be due.
    pub more: bool,
}

/// The Lambda's invocation: [`Passes::LAMBDA`] passes of [`BATCH`].
pub async fn run(state: &AppState) -> Result<Vec<ResetReport>, JobError> {
    run_passes(state, Passes::LAMBDA).await
}

/// Runs passes of [`BATCH`] as `passes` says, each at the state's clock.
pub async fn run_passes(state: &AppState, passes: Passes) -> Result<Vec<ResetReport>, JobError> {
    repeat(state, passes, |now| run_pass(state, now, BATCH)).await
}

/// One pass at `now` over at most `limit` due usages.
pub async fn run_pass(state: &AppState, now: i64, limit: usize) -> Result<ResetReport, JobError> {
    let (due, more) = state
        .store
        .usages_due(DueIndex::Reset, now, limit, first_shard(now))
        .await?;
    let mut report = ResetReport {
        due: due.len(),
        more,
        ..Default::default()
    };
    let mut resumed: HashSet<(AssetType, u64)> = HashSet::new();
    let done = each_concurrently(state, due, CONCURRENCY, |st, u: PackageUsage| async move {
        reset(&st, u, now).await
    })
    .await;
    report.failed += report.due - done.len();
    for (u, result) in done {
        match result {
            Ok(Some(was)) => {
                report.reset_count += 1;
                if was == UsageStatus::UsedUp {
                    resumed.insert((u.asset_type, u.asset_id));
                }
            }
            Ok(None) => {}
            Err(e) => {
                report.failed += 1;
                tracing::error!(usage_id = u.id, error = %e, "reset failed; retried next pass");
            }
        }
    }
    for (t, id) in resumed {
        match request_queue_activation(state, t, id).await {
            Ok(()) => report.resume_requested += 1,
            Err(e) => {
                report.failed += 1;
                tracing::error!(asset_type = t.as_str(), asset_id = id, error = %e,
                    "resume after reset not requested");
            }
        }
    }
    if report.due > 0 {
        tracing::info!(?report, "data reset pass");
    }
    if report.failed > 0 && report.reset_count == 0 {
        return Err(JobError(format!("{} resets failed", report.failed)));
    }
    Ok(report)
}

/// Resets `u` if due at `now`; `Some(status before)` when this call reset it.
async fn reset(
    state: &AppState,
    mut u: PackageUsage,
    now: i64,
) -> Result<Option<UsageStatus>, JobError> {
    for _ in 0..2 {
        let Some(next) = u.reset_at(now) else {
            return Ok(None);
        };
        match state.store.save_usage(&next, u.version).await {
            Ok(()) => return Ok(Some(u.status)),
            Err(StoreError::ConditionFailed { old: Some(old), .. }) => u = from_item(*old)?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}
