//! Settling a grant that is not `ready`: the rollback of a failed creation, the end
//! of a deletion, and what `jobs::grant_sweeper` runs on grants left unsettled by an
//! interrupted request.

use crate::clock::rfc3339;
use crate::domain::grants::{GrantPhase, SeriesGrant};
use crate::services::catalog::CatalogError;
use crate::store::keys;
use crate::store::{Store, StoreError};

/// Allocations soft-deleted per transaction (three operations each for an agent grant:
/// the allocation, the grantor's sub-allocation count and the package's count).
const RETIRE_CHUNK: usize = 33;
/// Rounds of re-reading and retiring a grant's allocations before giving up (the
/// sweeper tries again later).
const RETIRE_ROUNDS: usize = 20;

/// Removes a grant that is not ready (being created or deleted) and everything it
/// wrote: its allocations (with their grantor counters) in chunks, then the grant,
/// its claim and its counters. Idempotent, safe to run concurrently with itself and
/// with an interrupted creation (which it first moves to `deleting`, so no more of
/// its chunks can commit).
pub async fn retire(store: &Store, id: u64, now: i64) -> Result<(), CatalogError> {
    let Some(g) = store.entity::<SeriesGrant>(&keys::grant(id)).await? else {
        return Ok(());
    };
    if g.deleted_at.is_some() {
        return Ok(());
    }
    if g.phase == GrantPhase::Ready {
        return Err(CatalogError::VersionConflict);
    }
    let at = rfc3339(now);
    if g.phase == GrantPhase::Creating {
        if let Err(e) = store.abandon_grant(id).await {
            return match e {
                StoreError::ConditionFailed { .. } => Box::pin(retire(store, id, now)).await,
                other => Err(other.into()),
            };
        }
    }
    for _round in 0..RETIRE_ROUNDS {
        let live = store.grant_allocations(g.shop_id, g.id).await?;
        if live.is_empty() {
            break;
        }
        for chunk in live.chunks(RETIRE_CHUNK) {
            match store.retire_allocations(&g, chunk, &at).await {
                Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !store.grant_allocations(g.shop_id, g.id).await?.is_empty() {
        return Err(CatalogError::VersionConflict);
    }
    match store.close_grant(&g, &at).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
