//! Carrying out moves between shops: each asset in its own transaction with its
//! allocation record (a device with its bound cards; a bulk task's result too),
//! eight at a time, and every asset answered — moved, or refused with why — however
//! the others fare. Which assets a request selects and may move is [`super::moves`]'.

use super::moves::{refusal, BatchResult, Refusal};
use super::{Asset, AssetError};
use crate::clock::rfc3339;
use crate::domain::assets::{AllocationRecord, AssetType, MoveOp};
use crate::domain::authorization::{ended, outside_branch, EndReason, EnterpriseAuth};
use crate::domain::caller::Caller;
use crate::domain::entities::Shop;
use crate::domain::shop_path::ShopPath;
use crate::domain::stamp::Stamped;
use crate::store::assets::allocation_item;
use crate::store::bulk::{already_moved, moved_result};
use crate::store::{Key, Store, StoreError};

/// Moves the selected assets `caller` may move by `to.op` and refuses the others
/// (first by [`refusal`], then by [`unmovable`]), each in its own transaction; a
/// bulk task's moves also write its results (`task`).
pub(super) async fn move_selected<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    selected: Vec<A>,
    to: Destination<'_>,
    remark: Option<String>,
    task: Option<u64>,
) -> Result<Vec<(String, BatchResult)>, AssetError> {
    let mut results = Vec::new();
    let moves = triage(selected, &mut results, |a| refusal(to.op, caller, a));
    results.extend(run_moves(store, caller, now, moves, to, remark, task).await?);
    Ok(results)
}

/// The selected assets to move; the others are refused in `results`: first by
/// `refuse` (not the caller's to move), then by [`unmovable`].
fn triage<A: Asset>(
    selected: Vec<A>,
    results: &mut Vec<(String, BatchResult)>,
    refuse: impl Fn(&A) -> Option<Refusal>,
) -> Vec<A> {
    let mut moves = Vec::new();
    for a in selected {
        match refuse(&a).or_else(|| unmovable(&a)) {
            Some(r) => results.push((a.identifier().into(), BatchResult::Refused(r))),
            None => moves.push(a),
        }
    }
    moves
}

/// Why an asset cannot move at all, if it cannot.
fn unmovable<A: Asset>(a: &A) -> Option<Refusal> {
    if !a.asset_status().movable() {
        return Some(Refusal::Status(a.asset_status()));
    }
    a.bound_device().map(Refusal::BoundToDevice)
}

/// Where a batch moves its assets.
#[derive(Clone, Copy)]
pub(super) struct Destination<'a> {
    /// The receiving shop; `None` = platform stock.
    pub(super) shop: Option<&'a Shop>,
    pub(super) op: MoveOp,
}

/// Moves each asset in its own transaction, eight at a time. Every asset gets its
/// result, whatever happens to the others: an asset changed meanwhile is refused, and
/// so is one whose write failed otherwise (see [`settle`]), so an answer always says
/// which assets moved.
async fn run_moves<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    moves: Vec<A>,
    to: Destination<'_>,
    remark: Option<String>,
    task: Option<u64>,
) -> Result<Vec<(String, BatchResult)>, AssetError> {
    let mut results = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    let remark = remark.map(|r| r.chars().take(200).collect::<String>());
    let mut pending = moves.into_iter();
    loop {
        while set.len() < 8 {
            let Some(a) = pending.next() else { break };
            let store = store.clone();
            let shop = to.shop.cloned();
            let op = to.op;
            let remark = remark.clone();
            let by = caller.account_id;
            set.spawn(crate::store::calls::inherit(async move {
                let id = a.identifier().to_string();
                let (key, expected) = (A::key(a.id()), a.version());
                let to_id = shop.as_ref().map(|s| s.id);
                let to = Destination {
                    shop: shop.as_ref(),
                    op,
                };
                let res = move_one(&store, a, to, by, now, remark, task).await;
                (id, settle::<A>(&store, res, &key, expected, to_id).await)
            }));
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        results.push(done.map_err(|e| AssetError::Store(StoreError::Dynamo(e.to_string())))?);
    }
    Ok(results)
}

/// What a move's outcome means for its asset. A failed condition refuses it (or, for
/// a bulk task's own result, says this task moved it already). Any other failure no
/// longer fails the whole request, whose earlier assets did move: the asset is
/// refused, after one read of it shows whether the write committed before the error
/// reached us (a cancelled transaction needs no read).
async fn settle<A: Asset>(
    store: &Store,
    res: Result<(), StoreError>,
    key: &Key,
    expected: i64,
    to: Option<u64>,
) -> BatchResult {
    let e = match res {
        Ok(()) => return BatchResult::Moved,
        Err(e) => e,
    };
    if let Some(result) = classify(&e) {
        return result;
    }
    tracing::warn!(error = ?e, asset = ?key, "an asset's move failed");
    match store.get_as::<A>(key).await {
        Ok(Some(stored)) => committed(stored.version(), stored.shop_id(), expected, to),
        Ok(None) => BatchResult::Refused(Refusal::Busy),
        Err(read) => {
            tracing::error!(error = ?read, asset = ?key, "a failed move could not be checked");
            BatchResult::Refused(Refusal::Unconfirmed)
        }
    }
}

/// The result a move's failure `e` gives without reading the asset, if it gives one.
fn classify(e: &StoreError) -> Option<BatchResult> {
    if already_moved(e) {
        return Some(BatchResult::Moved);
    }
    match e {
        StoreError::ConditionFailed { .. } => {
            Some(BatchResult::Refused(Refusal::ChangedConcurrently))
        }
        // Cancelled on every attempt: nothing was written.
        StoreError::Contended { .. } => Some(BatchResult::Refused(Refusal::Busy)),
        _ => None,
    }
}

/// Whether the asset as stored after a failed move (its `version` and shop) shows
/// that move: still at the version it was read with (not moved), one version on at
/// the destination (moved), or changed by someone else.
fn committed(version: i64, shop: Option<u64>, expected: i64, to: Option<u64>) -> BatchResult {
    if version == expected {
        BatchResult::Refused(Refusal::Busy)
    } else if version == expected + 1 && shop == to {
        BatchResult::Moved
    } else {
        BatchResult::Refused(Refusal::ChangedConcurrently)
    }
}

/// Moves one asset (and, for a device, its bound cards) and records it (with its
/// result when a bulk task `task` moves it), atomically; enterprise grants whose
/// branch the asset leaves end in the same transaction.
async fn move_one<A: Asset>(
    store: &Store,
    asset: A,
    to: Destination<'_>,
    by: u64,
    now: i64,
    remark: Option<String>,
    task: Option<u64>,
) -> Result<(), StoreError> {
    let at = rfc3339(now);
    let mut moved = asset.clone();
    moved.set_owner(to.shop);
    moved.touch(by, now);
    // Grants whose branch the asset leaves end with the move.
    let ended_at = at.clone();
    let left = |auth: &mut Option<EnterpriseAuth>, owner: Option<&ShopPath>| {
        ended(
            &outside_branch(auth, owner),
            EndReason::LeftBranch,
            Some(by),
            &ended_at,
        )
    };
    let mut ends = left(moved.authorization_mut(), to.shop.map(|s| &s.path));
    let stamp: String = at.chars().filter(char::is_ascii_digit).take(14).collect();
    let record = AllocationRecord {
        id: format!("{stamp}{}", uuid::Uuid::new_v4().simple()),
        asset_type: A::TYPE,
        asset_id: asset.id(),
        identifier: asset.identifier().to_string(),
        from_shop_id: asset.shop_id(),
        to_shop_id: to.shop.map(|s| s.id),
        operation: to.op,
        operator_id: by,
        remark,
        created_at: at,
    };
    let subordinate: Option<&ShopPath> = to.op.subordinate(asset.owner(), to.shop.map(|s| &s.path));
    let mut followers = Vec::new();
    if A::TYPE == AssetType::Device {
        // Bound cards follow their device.
        for (_, card) in store.bound_cards(asset.id()).await? {
            let version = card.version;
            let mut c = card;
            c.set_owner(to.shop);
            c.touch(by, now);
            ends.extend(left(&mut c.authorization, to.shop.map(|s| &s.path)));
            followers.push((c.item()?, version));
        }
    }
    let result = task
        .map(|t| moved_result(t, asset.identifier(), &record.created_at))
        .transpose()?;
    store
        .move_asset(
            moved.item()?,
            asset.version(),
            allocation_item(&record, subordinate)?,
            followers,
            result,
            &ends,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::steps::Op;

    #[test]
    fn a_failed_move_is_answered_per_asset() {
        use BatchResult::{Moved, Refused};
        let condition = StoreError::ConditionFailed {
            label: "asset",
            old: None,
        };
        assert_eq!(
            classify(&condition),
            Some(Refused(Refusal::ChangedConcurrently))
        );
        // The bulk task's own result says it moved the asset already.
        let Ok(Op::Put(label, ..)) = moved_result(1, "8986A", "t") else {
            panic!("a put")
        };
        let own = StoreError::ConditionFailed { label, old: None };
        assert_eq!(classify(&own), Some(Moved));
        let contended = StoreError::Contended { attempts: 3 };
        assert_eq!(classify(&contended), Some(Refused(Refusal::Busy)));
        // Anything else needs the asset read back.
        assert_eq!(classify(&StoreError::Dynamo("timeout".into())), None);
        assert_eq!(classify(&StoreError::TooLarge { ops: 101 }), None);
        assert_eq!(classify(&StoreError::Codec("bad".into())), None);
        // Read back: untouched, moved by this write, or changed by someone else.
        assert_eq!(committed(3, None, 3, Some(7)), Refused(Refusal::Busy));
        assert_eq!(committed(4, Some(7), 3, Some(7)), Moved);
        assert_eq!(committed(4, None, 3, None), Moved);
        assert_eq!(
            committed(4, Some(8), 3, Some(7)),
            Refused(Refusal::ChangedConcurrently)
        );
        assert_eq!(
            committed(6, Some(7), 3, Some(7)),
            Refused(Refusal::ChangedConcurrently)
        );
        assert_eq!(Refusal::Busy.to_string(), "system busy, not moved; retry");
    }
}
