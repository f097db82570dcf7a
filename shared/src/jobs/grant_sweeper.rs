//! The grant sweeper (every minute on AWS, every 30 s in the dev server): settles
//! series grants left half-created or half-deleted by an interrupted request (see
//! `services::grants` and `store::steps`). Reads only the sparse index of unsettled
//! grants, so its cost grows with the stale grants, not the table.

use serde::Serialize;

use crate::clock::rfc3339;
use crate::services::grants::{retire, STALE_AFTER_SECS};
use crate::store::{Store, StoreError};

/// Stale grants settled per run; the rest wait for the next run.
pub const BATCH: i32 = 100;

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Grants retired.
    pub settled: usize,
    /// Grants that could not be retired this time (they are tried again next run).
    pub unsettled: Vec<u64>,
}

/// Retires every grant left `creating` or `deleting` for longer than
/// [`STALE_AFTER_SECS`] at `now`.
pub async fn sweep(store: &Store, now: i64) -> Result<Sweep, StoreError> {
    let cutoff = rfc3339(now - STALE_AFTER_SECS);
    let mut out = Sweep::default();
    for id in store.unsettled_grants_before(&cutoff, BATCH).await? {
        match retire(store, id, now).await {
            Ok(()) => out.settled += 1,
            Err(e) => {
                tracing::warn!(grant = id, error = %e, "could not settle grant");
                out.unsettled.push(id);
            }
        }
    }
    Ok(out)
}
