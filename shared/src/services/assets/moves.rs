//! Moves between shops (allocation down the tree, recall back up; api.md §7, §8)
//! with their allocation records, and deactivation. A selection of more than
//! [`BULK_THRESHOLD`] assets is handed back as a [`BulkOrder`] (see [`super::bulk`]),
//! whose worker moves it slice by slice with the same rules.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::transfer::{move_selected, Destination};
use super::{require_asset_admin, visible, without_device_grant, Asset, AssetError};
use crate::clock::rfc3339;
use crate::domain::assets::ranges::range_buckets;
use crate::domain::assets::{AssetStatus, AssetType, IdentifierKind, MoveOp};
use crate::domain::authorization::{ended, remove_grants, EndReason};
use crate::domain::bulk::{BulkOrder, BulkSelection, BULK_THRESHOLD};
use crate::domain::caller::Caller;
use crate::domain::entities::Shop;
use crate::domain::validate::Invalid;
use crate::store::asset_lists::{held_selection, own_stock_selection, Pick};
use crate::store::assets::old_state;
use crate::store::authorizations::AuthWrite;
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
    if a.authorization().is_some() {
        return deactivate_authorized(store, caller.account_id, now, a).await;
    }
    match store
        .deactivate_asset(&A::key(id), caller.account_id, &rfc3339(now))
        .await
    {
        Ok(()) => Ok(()),
        Err(e @ StoreError::ConditionFailed { .. }) => match old_state::<A>(&e) {
            // Deactivated meanwhile by someone else: the same end state.
            Some(old) if old.asset_status() == AssetStatus::Deactivated => Ok(()),
            // Authorised meanwhile: deactivated with its grants ended.
            Some(old) if !old.deleted() && old.authorization().is_some() => {
                deactivate_authorized(store, caller.account_id, now, old).await
            }
            Some(old) if !old.deleted() => Err(AssetError::StatusInvalid(old.asset_status())),
            _ => Err(AssetError::AssetNotFound),
        },
        Err(e) => Err(e.into()),
    }
}

/// Deactivates `a`, authorised to an enterprise, ending its grants (a device's also
/// those of its cards through it) in the same transaction, conditioned on the
/// versions read.
async fn deactivate_authorized<A: Asset>(
    store: &Store,
    by: u64,
    now: i64,
    a: A,
) -> Result<(), AssetError> {
    let at = rfc3339(now);
    let mut d = a.clone();
    let gone = remove_grants(d.authorization_mut(), |_| true);
    d.set_asset_status(AssetStatus::Deactivated);
    d.touch(by, now);
    let mut w = AuthWrite {
        assets: vec![(d.item()?, a.version())],
        ended: ended(&gone, EndReason::Deactivated, Some(by), &at),
        ..AuthWrite::default()
    };
    if A::TYPE == AssetType::Device {
        for (_, card) in store.bound_cards(a.id()).await? {
            if let Some((c, gone)) =
                without_device_grant(&card, a.id(), EndReason::Deactivated, by, now)
            {
                w.ended.extend(gone);
                w.assets.push((c.item()?, card.version));
            }
        }
    }
    store.write_authorizations(w).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => AssetError::VersionConflict,
        other => other.into(),
    })
}

/// Which assets an allocation or recall moves.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AllocateRequest {
    pub to_shop_id: u64,
    #[serde(flatten)]
    pub selection: Selection,
    pub remark: Option<String>,
}

/// `POST .../recall` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    /// The move's write failed for another reason than a condition (throttled after
    /// its retries, a network error, an invalid transaction) and did not commit.
    #[error("system busy, not moved; retry")]
    Busy,
    /// The move's write failed and reading the asset back failed too: it may have
    /// moved.
    #[error("system error; whether it moved is unknown, check the asset")]
    Unconfirmed,
}

/// What a batch move did with one selected asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchResult {
    /// Moved, with its allocation record.
    Moved,
    /// Left where it was.
    Refused(Refusal),
}

/// What an allocation or recall request came to.
#[derive(Debug)]
pub enum Moved {
    /// Done inside the request.
    Done(MoveResult),
    /// More than [`BULK_THRESHOLD`] assets: checked, nothing moved, to be done by a
    /// bulk task.
    Deferred(BulkOrder),
}

/// Outcome of an allocation or recall.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

impl utoipa::PartialSchema for MoveFailure {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .description(Some("`iccid` for a card, `virtual_no` for a device"))
            .property("iccid", text())
            .property("virtual_no", text())
            .property("reason", text())
            .required("reason")
            .into()
    }
}

impl utoipa::ToSchema for MoveFailure {}

/// Most assets one allocation or recall request may move.
pub const MAX_MOVE: usize = 10_000;

/// A selection, checked: exactly one way of naming the assets.
pub(super) enum Chosen<'a> {
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
/// holds the identifiers of its bounds' length between them; reading stops once more
/// than `cap` were kept).
pub(super) async fn select<A: Asset>(
    store: &Store,
    chosen: Chosen<'_>,
    queries: impl FnOnce(&Pick) -> Result<Vec<Query>, Invalid>,
    keep: impl Fn(&A) -> bool,
    cap: usize,
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
                .read_all(queries(&pick)?, cap, |a: &A| keep(a) && in_pick(a))
                .await?;
            check_size(list.len())?;
            Ok((list, Vec::new()))
        }
    }
}

/// Loads the selection, or hands it back for a bulk task when it names more than
/// [`BULK_THRESHOLD`] assets: a list is counted, a range or batch read up to one
/// more than that (what was read is used when it stays within).
async fn select_or_defer<A: Asset>(
    store: &Store,
    chosen: Chosen<'_>,
    queries: impl FnOnce(&Pick) -> Result<Vec<Query>, Invalid>,
    keep: impl Fn(&A) -> bool,
) -> Result<Result<(Vec<A>, Vec<(String, BatchResult)>), BulkSelection>, AssetError> {
    let bulk = match &chosen {
        Chosen::Ids(ids) => BulkSelection::Ids(ids.to_vec()),
        Chosen::Identifiers(list) => BulkSelection::Identifiers(list.clone()),
        Chosen::Pick(Pick::Range(a, b)) => BulkSelection::Range(a.clone(), b.clone()),
        Chosen::Pick(Pick::Batch(b)) => BulkSelection::Batch(b.clone()),
    };
    if bulk.listed().is_some_and(|n| n > BULK_THRESHOLD) {
        return Ok(Err(bulk));
    }
    let (selected, results) = select(store, chosen, queries, keep, BULK_THRESHOLD).await?;
    if selected.len() > BULK_THRESHOLD {
        return Ok(Err(bulk));
    }
    Ok(Ok((selected, results)))
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
) -> Result<Moved, AssetError> {
    require_asset_admin(caller)?;
    let target = allocation_target(store, caller, req.to_shop_id).await?;
    let to = Destination {
        shop: Some(&target),
        op: MoveOp::Allocate,
    };
    move_or_defer::<A>(store, caller, now, to, &req.selection, req.remark).await
}

/// Moves the assets of `selection` to `to` within the request, or answers the order
/// of a bulk task when more than [`BULK_THRESHOLD`] are selected.
async fn move_or_defer<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    to: Destination<'_>,
    selection: &Selection,
    remark: Option<String>,
) -> Result<Moved, AssetError> {
    let chosen = choose(selection, A::TYPE)?;
    let op = to.op;
    let (selected, mut results) = match select_or_defer::<A>(
        store,
        chosen,
        |pick| pick_queries(op, A::TYPE, caller, pick),
        |a| keeps(op, a),
    )
    .await?
    {
        Ok(selected) => selected,
        Err(selection) => {
            return Ok(Moved::Deferred(BulkOrder {
                operation: op.into(),
                asset_type: A::TYPE,
                to_shop_id: to.shop.map(|s| s.id),
                enterprise_id: None,
                selection,
                remark,
            }))
        }
    };
    results.extend(move_selected(store, caller, now, selected, to, remark, None).await?);
    Ok(Moved::Done(MoveResult::tally(A::TYPE, results)))
}

/// The receiving shop of an allocation by `caller`: live, visible and a direct
/// subordinate (platform: a level-1 shop).
pub(super) async fn allocation_target(
    store: &Store,
    caller: &Caller,
    to_shop_id: u64,
) -> Result<Shop, AssetError> {
    let target: Shop = store
        .live_entity(&keys::shop(to_shop_id))
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
    Ok(target)
}

/// Takes assets back from direct subordinate shops (platform: from any shop, back to
/// platform stock); each asset's current shop is detected.
pub async fn recall<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: RecallRequest,
) -> Result<Moved, AssetError> {
    require_asset_admin(caller)?;
    let me = recall_home(store, caller).await?;
    let to = Destination {
        shop: me.as_ref(),
        op: MoveOp::Recall,
    };
    move_or_defer::<A>(store, caller, now, to, &req.selection, req.remark).await
}

/// Where a recall by `caller` takes assets: its own shop (platform: platform stock).
pub(super) async fn recall_home(
    store: &Store,
    caller: &Caller,
) -> Result<Option<Shop>, AssetError> {
    match caller.shop_id {
        Some(id) => Ok(Some(
            store
                .entity::<Shop>(&keys::shop(id))
                .await?
                .ok_or(AssetError::NotFound("shop"))?,
        )),
        None => Ok(None),
    }
}

/// The queries reading a range or batch `pick` for `op` by `caller`: an allocation
/// from its own stock (platform: platform stock), a recall among what its subtree
/// holds (platform: everywhere).
pub(super) fn pick_queries(
    op: MoveOp,
    t: AssetType,
    caller: &Caller,
    pick: &Pick,
) -> Result<Vec<Query>, Invalid> {
    match op {
        MoveOp::Allocate => own_stock_selection(t, caller.shop_path.as_ref(), pick),
        MoveOp::Recall => held_selection(t, caller.shop_path.as_ref(), pick),
    }
}

/// Whether an asset a range or batch read returned counts for `op` (a recall skips
/// platform stock).
pub(super) fn keeps<A: Asset>(op: MoveOp, a: &A) -> bool {
    match op {
        MoveOp::Allocate => true,
        MoveOp::Recall => a.owner().is_some(),
    }
}

/// Why `caller` may not move `a` by `op`, before the asset's own state counts: an
/// allocation moves only the caller's own stock; a recall takes back only from
/// direct subordinates (platform: from any shop).
pub(super) fn refusal<A: Asset>(op: MoveOp, caller: &Caller, a: &A) -> Option<Refusal> {
    if out_of_reach(caller, a) {
        return Some(Refusal::NotFound);
    }
    match op {
        MoveOp::Allocate => {
            (a.owner() != caller.shop_path.as_ref()).then_some(Refusal::NotInYourStock)
        }
        MoveOp::Recall => {
            let from_direct_child = match (&caller.shop_path, a.owner()) {
                (Some(mine), Some(owner)) => {
                    mine.contains(owner) && owner.level() == mine.level() + 1
                }
                (None, Some(_)) => true,
                _ => false,
            };
            (!from_direct_child).then(|| {
                if caller.is_platform() {
                    Refusal::InPlatformStock
                } else {
                    Refusal::NotFromDirectSubordinate
                }
            })
        }
    }
}

/// Whether an explicitly named asset is deleted or outside the caller's scope: it is
/// refused exactly as an unknown identifier is, so naming another tenant's ICCIDs
/// tells nothing about them.
pub(crate) fn out_of_reach<A: Asset>(caller: &Caller, a: &A) -> bool {
    a.deleted() || !caller.sees_shop_owned(a.owner())
}
