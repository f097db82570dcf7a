//! The package activation check (jobs.md J10), every 10 s: main usages past their
//! `valid_until` end (status 3) together with the add-ons bound to them (status 4),
//! then J11 is asked to start the asset's next queued main; add-ons with their own
//! validity past it end alone (status 3). Read from the expiry due index (only live
//! usages that end on their own are in it), bounded per pass.
//!
//! A main's end is one transaction: the asset's usage head (moved, so a purchase
//! that read the main as live cannot bind a new add-on to it unseen), the main
//! (conditioned on its version) and its add-ons (each on its version). When the
//! add-ons do not fit (more than 98), they are invalidated first in transactions of
//! 99 (head + add-ons), re-reading the asset between them; the main ends last, so an
//! interrupted run leaves the main live and due and the next pass finishes it.
//! Overlapping passes are harmless: the loser's conditions fail and, reading again,
//! it finds the main ended.

use serde::Serialize;

use super::package_activation::request_queue_activation;
use super::passes::{each_concurrently, first_shard, repeat, Passes};
use super::sqs::JobError;
use crate::app::AppState;
use crate::domain::assets::AssetType;
use crate::domain::usage::lifecycle::invalidated_addons;
use crate::domain::usage::{PackageUsage, UsageStatus};
use crate::store::tx::{Tx, MAX_TX_ITEMS};
use crate::store::usage_lifecycle::{head_move_ops, usage_change_ops, DueIndex};
use crate::store::{from_item, StoreError};

/// Most due usages one pass reads.
pub const BATCH: usize = 1000;
/// Usages ended at once (a main and an add-on of one asset at once simply retry).
const CONCURRENCY: usize = 16;
/// Attempts at one main whose asset changed meanwhile (then the next pass).
const ATTEMPTS: usize = 3;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Due usages read from the index.
    pub due: usize,
    /// Mains ended by this pass (each asked J11 to start the next one).
    pub expired_mains: usize,
    /// Add-ons invalidated with their main.
    pub invalidated_addons: usize,
    /// Add-ons with their own validity ended.
    pub expired_addons: usize,
    /// Left for the next pass (logged).
    pub failed: usize,
    /// The pass stopped at its batch size.
    pub more: bool,
}

/// The Lambda's invocation: [`Passes::LAMBDA`].
pub async fn run(state: &AppState) -> Result<Vec<CheckReport>, JobError> {
    run_passes(state, Passes::LAMBDA).await
}

/// Runs passes as `passes` says, each at the state's clock.
pub async fn run_passes(state: &AppState, passes: Passes) -> Result<Vec<CheckReport>, JobError> {
    repeat(state, passes, |now| run_pass(state, now)).await
}

/// One pass at `now`.
pub async fn run_pass(state: &AppState, now: i64) -> Result<CheckReport, JobError> {
    let (due, more) = state
        .store
        .usages_due(DueIndex::Expiry, now, BATCH, first_shard(now))
        .await?;
    let mut report = CheckReport {
        due: due.len(),
        more,
        ..Default::default()
    };
    let done = each_concurrently(state, due, CONCURRENCY, |st, u: PackageUsage| async move {
        if u.is_main() {
            expire_main(&st, &u, now)
                .await
                .map(|n| n.map(|a| (true, a)))
        } else {
            expire_addon(&st, u, now)
                .await
                .map(|done| done.then_some((false, 0)))
        }
    })
    .await;
    report.failed += report.due - done.len();
    for (u, result) in done {
        match result {
            Ok(Some((true, addons))) => {
                report.expired_mains += 1;
                report.invalidated_addons += addons;
            }
            Ok(Some((false, _))) => report.expired_addons += 1,
            Ok(None) => {}
            Err(e) => {
                report.failed += 1;
                tracing::error!(usage_id = u.id, error = %e, "expiry failed; retried next pass");
            }
        }
    }
    if report.due > 0 {
        tracing::info!(?report, "package activation check");
    }
    if report.failed > 0 && report.failed == report.due {
        return Err(JobError(format!("{} due usages failed", report.failed)));
    }
    Ok(report)
}

/// Ends an add-on with its own validity (status 3) on condition of its version; a
/// stale copy from the index is retried once from the stored one.
async fn expire_addon(state: &AppState, mut u: PackageUsage, now: i64) -> Result<bool, JobError> {
    for _ in 0..2 {
        if !u.status.is_live() || !u.expired_by(now) || u.expiry_due_at().is_none() {
            return Ok(false);
        }
        match state
            .store
            .save_usage(&u.ended(UsageStatus::Expired), u.version)
            .await
        {
            Ok(()) => return Ok(true),
            Err(StoreError::ConditionFailed { old: Some(old), .. }) => u = from_item(*old)?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

/// Ends main `due` and its add-ons, then asks J11 for the asset; `Some(add-ons
/// invalidated)` when this call ended it, `None` when it was not (or no longer) due.
async fn expire_main(
    state: &AppState,
    due: &PackageUsage,
    now: i64,
) -> Result<Option<usize>, JobError> {
    let store = &state.store;
    let (t, id) = (due.asset_type, due.asset_id);
    let mut invalidated = 0;
    let mut conflicts = 0;
    loop {
        let (head, usages) = store.head_and_usages(t, id).await?;
        let Some(main) = usages.iter().find(|u| u.id == due.id) else {
            return Ok(None);
        };
        if !main.status.is_live() || !main.expired_by(now) {
            return Ok(None);
        }
        let addons = invalidated_addons(&usages, main.id);
        let version_of = |id: u64| usages.iter().find(|u| u.id == id).map_or(0, |u| u.version);
        // Head + main + add-ons in one transaction when they fit; else a batch of
        // add-ons first (head + 99).
        let last = addons.len() + 2 <= MAX_TX_ITEMS;
        let take = if last { addons.len() } else { MAX_TX_ITEMS - 1 };
        let mut tx = head_move_ops(Tx::new(), t, id, head);
        if last {
            tx = usage_change_ops(tx, &main.ended(UsageStatus::Expired), main.version)?;
        }
        for a in addons.iter().take(take) {
            tx = usage_change_ops(tx, a, version_of(a.id))?;
        }
        match store.transact(tx).await {
            Ok(()) => {
                invalidated += take;
                if last {
                    break;
                }
            }
            Err(StoreError::ConditionFailed { label, .. }) if conflicts + 1 < ATTEMPTS => {
                conflicts += 1;
                tracing::info!(
                    label,
                    usage_id = due.id,
                    "asset changed meanwhile; reading again"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(
        asset_type = t.as_str(),
        asset_id = id,
        usage_id = due.id,
        invalidated,
        "main package expired"
    );
    ask_activation(state, t, id).await?;
    Ok(Some(invalidated))
}

/// Asks J11 for the asset whose main ended, trying the send three times (a failure
/// fails the item: the main is already ended, so the error is logged with the asset
/// for the package check, J7, or an operator to request it).
async fn ask_activation(state: &AppState, t: AssetType, id: u64) -> Result<(), JobError> {
    let mut last = None;
    for _ in 0..3 {
        match request_queue_activation(state, t, id).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| JobError("send failed".into()));
    tracing::error!(asset_type = t.as_str(), asset_id = id, error = %e,
        "queued activation not requested");
    Err(e)
}
