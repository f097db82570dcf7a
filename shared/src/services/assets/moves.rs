//! Moves between shops (allocation down the tree, recall back up; api.md §7, §8)
//! with their allocation records, and deactivation.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::{require_asset_admin, visible, Asset, AssetError};
use crate::clock::rfc3339;
use crate::domain::assets::ranges::range_buckets;
use crate::domain::assets::{AllocationRecord, AssetStatus, AssetType, IdentifierKind, MoveOp};
use crate::domain::caller::Caller;
use crate::domain::entities::Shop;
use crate::domain::shop_path::ShopPath;
use crate::domain::stamp::Stamped;
use crate::domain::validate::Invalid;
use crate::store::asset_lists::{held_selection, own_stock_selection, Pick};
use crate::store::assets::{allocation_item, old_state};
use crate::store::{keys, Key, Query, Store, StoreError};

/// Deactivates an asset in stock or sold (→ 4); repeating it is harmless.
pub async fn deactivate<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), AssetError> {
    require_asset_admin(caller)?;
    let a: A = visible(store, caller, id).await?;
    match a.asset_status() {
        AssetStatus::Deactivated => return Ok(()),
        AssetStatus::InStock | AssetStatus::Sold => {}
        other => return Err(AssetError::StatusInvalid(other)),
    }
    match store
        .deactivate_asset(&A::key(id), caller.account_id, &rfc3339(now))
        .await
    {
        Ok(()) => Ok(()),
        Err(e @ StoreError::ConditionFailed { .. }) => match old_state::<A>(&e) {
            // Deactivated meanwhile by someone else: the same end state.
            Some(old) if old.asset_status() == AssetStatus::Deactivated => Ok(()),
            Some(old) if !old.deleted() => Err(AssetError::StatusInvalid(old.asset_status())),
            _ => Err(AssetError::AssetNotFound),
        },
        Err(e) => Err(e.into()),
    }
}

/// Which assets an allocation or recall moves.
#[derive(Debug, Default, Deserialize)]
pub struct Selection {
    /// Asset ids.
    pub ids: Option<Vec<u64>>,
    /// ICCIDs (cards) or virtual numbers (devices).
    #[serde(alias = "iccids", alias = "virtual_nos")]
    pub identifiers: Option<Vec<String>>,
    /// Inclusive identifier range.
    #[serde(alias = "iccid_start", alias = "virtual_no_start")]
    pub range_start: Option<String>,
    #[serde(alias = "iccid_end", alias = "virtual_no_end")]
    pub range_end: Option<String>,
    /// All assets of this batch.
    pub batch_no: Option<String>,
}

/// `POST .../allocate` body.
#[derive(Debug, Deserialize)]
pub struct AllocateRequest {
    pub to_shop_id: u64,
    #[serde(flatten)]
    pub selection: Selection,
    pub remark: Option<String>,
}

/// `POST .../recall` body.
#[derive(Debug, Deserialize)]
pub struct RecallRequest {
    #[serde(flatten)]
    pub selection: Selection,
    pub remark: Option<String>,
}

/// Why one selected asset did not move.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not found")]
    NotFound,
    #[error("not in your stock")]
    NotInYourStock,
    #[error("in platform stock already")]
    InPlatformStock,
    #[error("not held by a direct subordinate shop")]
    NotFromDirectSubordinate,
    #[error("asset_status {0} cannot move")]
    Status(AssetStatus),
    #[error("bound to device {0}; move the device")]
    BoundToDevice(u64),
    #[error("changed concurrently; retry")]
    ChangedConcurrently,
}

/// What a batch move did with one selected asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchResult {
    /// Moved, with its allocation record.
    Moved,
    /// Left where it was.
    Refused(Refusal),
}

/// Outcome of an allocation or recall.
#[derive(Debug, Serialize)]
pub struct MoveResult {
    pub success_count: u64,
    pub failed: Vec<MoveFailure>,
}

impl MoveResult {
    /// Counts the moved assets and lists the others, in selection order.
    fn tally(t: AssetType, results: Vec<(String, BatchResult)>) -> Self {
        let mut out = MoveResult {
            success_count: 0,
            failed: Vec::new(),
        };
        for (identifier, result) in results {
            match result {
                BatchResult::Moved => out.success_count += 1,
                BatchResult::Refused(reason) => out.failed.push(MoveFailure {
                    asset_type: t,
                    identifier,
                    reason,
                }),
            }
        }
        out
    }
}

/// One asset that did not move: `{iccid, reason}` for a card, `{virtual_no, reason}`
/// for a device (an asset given by an unknown id is named by that id).
#[derive(Debug)]
pub struct MoveFailure {
    pub asset_type: AssetType,
    pub identifier: String,
    pub reason: Refusal,
}

impl Serialize for MoveFailure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(self.asset_type.identifier_field(), &self.identifier)?;
        map.serialize_entry("reason", &self.reason.to_string())?;
        map.end()
    }
}

/// Most assets one allocation or recall request may move.
pub const MAX_MOVE: usize = 10_000;

/// A selection, checked: exactly one way of naming the assets.
enum Chosen<'a> {
    Ids(&'a [u64]),
    Identifiers(Vec<String>),
    Pick(Pick),
}

fn choose<'a>(sel: &'a Selection, t: AssetType) -> Result<Chosen<'a>, AssetError> {
    let given = [
        sel.ids.is_some(),
        sel.identifiers.is_some(),
        sel.range_start.is_some() || sel.range_end.is_some(),
        sel.batch_no.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(Invalid::new(
            "ids、标识列表(iccids/virtual_nos)、号段(start和end)、batch_no须且只能填写一种",
            "give exactly one of ids, identifiers (iccids/virtual_nos), a range (start and end) or batch_no",
        ).into());
    }
    let chosen = match (&sel.ids, &sel.identifiers, &sel.batch_no) {
        (Some(ids), _, _) => Chosen::Ids(ids),
        (_, Some(given), _) => Chosen::Identifiers(given.iter().map(|i| t.normalise(i)).collect()),
        (_, _, Some(b)) => Chosen::Pick(Pick::Batch(b.clone())),
        _ => match (&sel.range_start, &sel.range_end) {
            (Some(a), Some(b)) => {
                let (a, b) = (t.normalise(a), t.normalise(b));
                // Refused here, before anything is read, if it cannot be read by key.
                range_buckets(&a, &b)?;
                Chosen::Pick(Pick::Range(a, b))
            }
            _ => {
                return Err(Invalid::new(
                    "号段必须同时填写start和end",
                    "a range needs both start and end",
                )
                .into())
            }
        },
    };
    check_size(match &chosen {
        Chosen::Ids(list) => list.len(),
        Chosen::Identifiers(list) => list.len(),
        Chosen::Pick(_) => 0,
    })?;
    Ok(chosen)
}

/// Loads the selected assets: by ids or identifiers (any owner; checked per asset
/// later; the unknown ones are refused), or by range / batch with `queries` (a range
/// holds the identifiers of its bounds' length between them).
async fn select<A: Asset>(
    store: &Store,
    chosen: Chosen<'_>,
    queries: impl FnOnce(&Pick) -> Result<Vec<Query>, Invalid>,
    keep: impl Fn(&A) -> bool,
) -> Result<(Vec<A>, Vec<(String, BatchResult)>), AssetError> {
    let not_found = |i: String| (i, BatchResult::Refused(Refusal::NotFound));
    match chosen {
        Chosen::Ids(ids) => {
            let keys_: Vec<Key> = ids.iter().map(|id| A::key(*id)).collect();
            let list: Vec<A> = store.entities(&keys_).await?;
            let missing = ids
                .iter()
                .filter(|id| !list.iter().any(|a| a.id() == **id))
                .map(|id| not_found(id.to_string()))
                .collect();
            Ok((list, missing))
        }
        Chosen::Identifiers(wanted) => {
            let kind = IdentifierKind::primary(A::TYPE);
            let list: Vec<A> = store.assets_by_identifier(kind, &wanted).await?;
            let missing = wanted
                .into_iter()
                .filter(|i| !list.iter().any(|a| a.identifier() == i))
                .map(not_found)
                .collect();
            Ok((list, missing))
        }
        Chosen::Pick(pick) => {
            let length = match &pick {
                Pick::Range(a, _) => Some(a.chars().count()),
                Pick::Batch(_) => None,
            };
            let in_pick = |a: &A| length.is_none_or(|l| a.identifier().chars().count() == l);
            let list = store
                .read_all(queries(&pick)?, MAX_MOVE, |a: &A| keep(a) && in_pick(a))
                .await?;
            check_size(list.len())?;
            Ok((list, Vec::new()))
        }
    }
}

fn check_size(n: usize) -> Result<(), AssetError> {
    if n > MAX_MOVE {
        return Err(Invalid::new(
            format!("每次最多{MAX_MOVE}个资产"),
            format!("at most {MAX_MOVE} assets per request"),
        )
        .into());
    }
    Ok(())
}

/// Gives assets of the caller's own stock (platform: platform stock) to a direct
/// subordinate shop (platform: a level-1 shop).
pub async fn allocate<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: AllocateRequest,
) -> Result<MoveResult, AssetError> {
    require_asset_admin(caller)?;
    let target: Shop = store
        .live_entity(&keys::shop(req.to_shop_id))
        .await?
        .filter(|s: &Shop| caller.sees_shop_owned(Some(&s.path)))
        .ok_or(AssetError::NotFound("shop"))?;
    let direct = match &caller.shop_path {
        Some(mine) => target.parent_id == Some(mine.shop_id()),
        None => target.level == 1,
    };
    if !direct {
        return Err(AssetError::NotDirectSubordinate);
    }
    let source = caller.shop_path.as_ref();
    let chosen = choose(&req.selection, A::TYPE)?;
    let (selected, mut results) = select::<A>(
        store,
        chosen,
        |pick| own_stock_selection(A::TYPE, source, pick),
        |_| true,
    )
    .await?;
    let moves = triage(selected, &mut results, |a| {
        if out_of_reach(caller, a) {
            return Some(Refusal::NotFound);
        }
        (a.owner() != source).then_some(Refusal::NotInYourStock)
    });
    let to = Destination {
        shop: Some(&target),
        op: MoveOp::Allocate,
    };
    results.extend(run_moves(store, caller, now, moves, to, req.remark).await?);
    Ok(MoveResult::tally(A::TYPE, results))
}

/// Takes assets back from direct subordinate shops (platform: from any shop, back to
/// platform stock); each asset's current shop is detected.
pub async fn recall<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: RecallRequest,
) -> Result<MoveResult, AssetError> {
    require_asset_admin(caller)?;
    let me: Option<Shop> = match caller.shop_id {
        Some(id) => Some(
            store
                .entity::<Shop>(&keys::shop(id))
                .await?
                .ok_or(AssetError::NotFound("shop"))?,
        ),
        None => None,
    };
    let chosen = choose(&req.selection, A::TYPE)?;
    let (selected, mut results) = select::<A>(
        store,
        chosen,
        |pick| held_selection(A::TYPE, caller.shop_path.as_ref(), pick),
        |a: &A| a.owner().is_some(),
    )
    .await?;
    let not_held = if caller.is_platform() {
        Refusal::InPlatformStock
    } else {
        Refusal::NotFromDirectSubordinate
    };
    let moves = triage(selected, &mut results, |a| {
        let from_direct_child = match (&caller.shop_path, a.owner()) {
            (Some(mine), Some(owner)) => mine.contains(owner) && owner.level() == mine.level() + 1,
            (None, Some(_)) => true,
            _ => false,
        };
        if out_of_reach(caller, a) {
            return Some(Refusal::NotFound);
        }
        (!from_direct_child).then(|| not_held.clone())
    });
    let to = Destination {
        shop: me.as_ref(),
        op: MoveOp::Recall,
    };
    results.extend(run_moves(store, caller, now, moves, to, req.remark).await?);
    Ok(MoveResult::tally(A::TYPE, results))
}

/// Whether an explicitly named asset is deleted or outside the caller's scope: it is
/// refused exactly as an unknown identifier is, so naming another tenant's ICCIDs
/// tells nothing about them.
fn out_of_reach<A: Asset>(caller: &Caller, a: &A) -> bool {
    a.deleted() || !caller.sees_shop_owned(a.owner())
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
struct Destination<'a> {
    /// The receiving shop; `None` = platform stock.
    shop: Option<&'a Shop>,
    op: MoveOp,
}

/// Moves each asset in its own transaction, eight at a time; an asset changed
/// meanwhile is refused, any other failure fails the request.
async fn run_moves<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    moves: Vec<A>,
    to: Destination<'_>,
    remark: Option<String>,
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
                let to = Destination {
                    shop: shop.as_ref(),
                    op,
                };
                (id, move_one(&store, a, to, by, now, remark).await)
            }));
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (identifier, res) =
            done.map_err(|e| AssetError::Store(StoreError::Dynamo(e.to_string())))?;
        match res {
            Ok(()) => results.push((identifier, BatchResult::Moved)),
            Err(StoreError::ConditionFailed { .. }) => results.push((
                identifier,
                BatchResult::Refused(Refusal::ChangedConcurrently),
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(results)
}

/// Moves one asset (and, for a device, its bound cards) and records it, atomically.
async fn move_one<A: Asset>(
    store: &Store,
    asset: A,
    to: Destination<'_>,
    by: u64,
    now: i64,
    remark: Option<String>,
) -> Result<(), StoreError> {
    let at = rfc3339(now);
    let mut moved = asset.clone();
    moved.set_owner(to.shop);
    moved.touch(by, now);
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
            followers.push((c.item()?, version));
        }
    }
    store
        .move_asset(
            moved.item()?,
            asset.version(),
            allocation_item(&record, subordinate)?,
            followers,
        )
        .await
}
