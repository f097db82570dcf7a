//! What cards and devices share: scope, cursor-paged lists, deactivation, and
//! allocation/recall between shops with their allocation records (api.md §7–§9,
//! domain.md §3.3, §5.9).

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::assets::{asset_status, AllocationRecord, AssetType, Device, IotCard};
use crate::domain::caller::{Caller, NotAllowed, Scope, SA_PL_AG};
use crate::domain::entities::Shop;
use crate::domain::shop_path::ShopPath;
use crate::domain::stamp::Stamped;
use crate::domain::validate::{filter_term, Invalid};
use crate::services::shops::shop_names;
use crate::store::assets::{self, allocation_item, Cursor, Kind, SHARDS};
use crate::store::org::unique_item;
use crate::store::tx::{Cond, Tx};
use crate::store::{
    from_item, keys, n, num_attr, s, Item, Key, On, Query, SkCond, Store, StoreError,
};

/// Failures of asset use cases.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("insufficient permission: {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("asset not found")]
    AssetNotFound,
    #[error("not allowed while asset_status is {0}")]
    StatusInvalid(i64),
    #[error("virtual number already exists")]
    DuplicateVirtualNo,
    #[error("{0} already used by another asset")]
    DuplicateIdentifier(&'static str),
    #[error("slot {0} already holds a card")]
    SlotOccupied(u32),
    #[error("the card is already bound to a device")]
    CardBound,
    #[error("the target shop must be a direct subordinate of your shop")]
    NotDirectSubordinate,
    #[error("the object was changed concurrently, retry")]
    VersionConflict,
    #[error(transparent)]
    Storage(#[from] crate::services::storage::StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for AssetError {
    fn code(&self) -> Code {
        use AssetError::*;
        match self {
            Invalid(_) => Code::INVALID_PARAM,
            NotAllowed(_) | Forbidden(_) => Code::FORBIDDEN,
            NotFound(_) => Code::NOT_FOUND,
            AssetNotFound => Code::ASSET_NOT_FOUND,
            StatusInvalid(_) => Code::ASSET_STATUS_INVALID,
            DuplicateVirtualNo => Code::DUPLICATE_VIRTUAL_NO,
            DuplicateIdentifier(_) => Code::DUPLICATE_IDENTIFIER,
            SlotOccupied(_) => Code::SLOT_OCCUPIED,
            CardBound => Code::CARD_ALREADY_BOUND,
            NotDirectSubordinate => Code::NOT_DIRECT_SUBORDINATE,
            VersionConflict => Code::VERSION_CONFLICT,
            Storage(e) => e.code(),
            Store(_) => Code::DATABASE,
        }
    }
}

/// A card or a device, as the shared use cases see it.
pub trait Asset: Stamped + Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Card or device.
    const TYPE: AssetType;
    /// List partitions.
    const KIND: Kind;
    /// Item key of asset `id`.
    fn key(id: u64) -> Key;
    /// The stored item (with index attributes).
    fn item(&self) -> Result<Item, StoreError>;
    /// Id.
    fn id(&self) -> u64;
    /// ICCID or device virtual number (the list sort key).
    fn identifier(&self) -> &str;
    /// Owner shop.
    fn shop_id(&self) -> Option<u64>;
    /// Owner path.
    fn owner(&self) -> Option<&ShopPath>;
    /// Moves the asset to `shop` (`None` = platform stock).
    fn set_owner(&mut self, shop: Option<&Shop>);
    /// `asset_status`.
    fn asset_status(&self) -> i64;
    /// Sets `asset_status`.
    fn set_asset_status(&mut self, status: i64);
    /// Soft-deleted?
    fn deleted(&self) -> bool;
    /// Optimistic-lock version.
    fn version(&self) -> i64;
    /// Uniqueness kinds that identify it exactly (`iccid`, `card_virtual_no`, ...).
    fn lookup_kinds() -> &'static [&'static str];
}

macro_rules! asset_common {
    () => {
        fn id(&self) -> u64 {
            self.id
        }
        fn shop_id(&self) -> Option<u64> {
            self.shop_id
        }
        fn owner(&self) -> Option<&ShopPath> {
            self.owner_path.as_ref()
        }
        fn set_owner(&mut self, shop: Option<&Shop>) {
            self.shop_id = shop.map(|s| s.id);
            self.owner_path = shop.map(|s| s.path.clone());
        }
        fn asset_status(&self) -> i64 {
            self.asset_status
        }
        fn set_asset_status(&mut self, status: i64) {
            self.asset_status = status;
        }
        fn deleted(&self) -> bool {
            self.deleted_at.is_some()
        }
        fn version(&self) -> i64 {
            self.version
        }
    };
}

impl Asset for IotCard {
    const TYPE: AssetType = AssetType::Card;
    const KIND: Kind = Kind::Cards;
    fn key(id: u64) -> Key {
        assets::card_key(id)
    }
    fn item(&self) -> Result<Item, StoreError> {
        assets::card_item(self)
    }
    fn identifier(&self) -> &str {
        &self.iccid
    }
    fn lookup_kinds() -> &'static [&'static str] {
        &["iccid", "card_virtual_no", "msisdn"]
    }
    asset_common!();
}

impl Asset for Device {
    const TYPE: AssetType = AssetType::Device;
    const KIND: Kind = Kind::Devices;
    fn key(id: u64) -> Key {
        assets::device_key(id)
    }
    fn item(&self) -> Result<Item, StoreError> {
        assets::device_item(self)
    }
    fn identifier(&self) -> &str {
        &self.virtual_no
    }
    fn lookup_kinds() -> &'static [&'static str] {
        &["device_virtual_no", "imei", "sn"]
    }
    asset_common!();
}

/// Refuses enterprise accounts (their card views arrive with authorisations) and
/// other non-admin-agent callers.
pub fn require_asset_admin(caller: &Caller) -> Result<(), AssetError> {
    Ok(caller.require(SA_PL_AG)?)
}

/// The asset holding `value` of uniqueness kind `kind` (`iccid`, `imei`, ...), if any.
pub async fn find<A: Asset>(
    store: &Store,
    kind: &str,
    value: &str,
) -> Result<Option<A>, AssetError> {
    let Some(unique) = store.get(&keys::unique(kind, value)).await? else {
        return Ok(None);
    };
    let Some(id) = num_attr(&unique, "target_id") else {
        return Ok(None);
    };
    Ok(store.get_as(&A::key(id as u64)).await?)
}

/// Releases the old value's uniqueness item and claims the new one when they differ.
pub fn swap_unique(
    mut tx: Tx,
    kind: &str,
    label: &'static str,
    old: Option<&String>,
    new: Option<&String>,
    id: u64,
) -> Tx {
    if old == new {
        return tx;
    }
    if let Some(o) = old {
        tx = tx.delete("release", &keys::unique(kind, o), None);
    }
    if let Some(v) = new {
        tx = tx.put_new(label, unique_item(kind, v, id));
    }
    tx
}

/// A live asset the caller may see; others answer not found.
pub async fn visible<A: Asset>(store: &Store, caller: &Caller, id: u64) -> Result<A, AssetError> {
    let a: A = store
        .get_as(&A::key(id))
        .await?
        .ok_or(AssetError::AssetNotFound)?;
    if a.deleted() || !caller.sees_shop_owned(a.owner()) {
        return Err(AssetError::AssetNotFound);
    }
    Ok(a)
}

/// Filters of asset lists.
#[derive(Debug, Default, Deserialize)]
pub struct AssetFilter {
    /// Opaque position from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page (default 20, at most 100).
    pub page_size: Option<u32>,
    /// Only the stock of this shop (its own, not its descendants'); `0` = platform stock.
    pub shop_id: Option<u64>,
    /// Identifier prefix (ICCID for cards, virtual number for devices).
    pub prefix: Option<String>,
    pub batch_no: Option<String>,
    pub asset_status: Option<i64>,
    pub carrier_id: Option<u64>,
    pub network_status: Option<i64>,
    pub real_name_status: Option<i64>,
}

pub use crate::paging::CursorPage;

/// Most Query calls one page may take when filters drop items.
const MAX_QUERIES_PER_PAGE: usize = 10;

fn parse_cursor(raw: Option<&str>) -> Result<Cursor, AssetError> {
    match raw {
        Some(raw) => Ok(Cursor::decode(raw).ok_or_else(|| Invalid("invalid cursor".into()))?),
        None => Ok(Cursor::default()),
    }
}

/// Reads one page of `source` from `cursor`: Query calls (at most
/// [`MAX_QUERIES_PER_PAGE`]) until `page_size` items pass the filter and `keep`, moving
/// on to the next partition (shard) when one is exhausted.
async fn read_page<T: DeserializeOwned>(
    store: &Store,
    source: &Source,
    filter: Option<Cond>,
    page_size: u32,
    mut cursor: Cursor,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, Option<String>), AssetError> {
    let mut list: Vec<T> = Vec::new();
    let mut next = None;
    for _ in 0..MAX_QUERIES_PER_PAGE {
        let Some(pk) = source.partitions.get(cursor.shard as usize) else {
            break;
        };
        let q = Query {
            on: source.on,
            pk: pk.clone(),
            sk: source.sk.clone(),
            filter: filter.clone(),
            limit: Some((page_size as usize - list.len()) as i32),
            start: cursor.start_key(),
        };
        let (items, last) = store.query(&q).await?;
        for item in items {
            let t: T = from_item(item)?;
            if keep(&t) {
                list.push(t);
            }
        }
        cursor = match last {
            Some(k) => Cursor::after(cursor.shard, &k),
            None => Cursor {
                shard: cursor.shard + 1,
                key: None,
            },
        };
        let exhausted = cursor.shard as usize >= source.partitions.len();
        next = (!exhausted).then(|| cursor.encode());
        if list.len() >= page_size as usize || exhausted {
            break;
        }
    }
    Ok((list, next))
}

/// Where a list reads from.
struct Source {
    on: On,
    /// Partitions in order (one per shard for platform-wide lists).
    partitions: Vec<String>,
    sk: SkCond,
}

/// A page of assets visible to the caller, matching `f` (and `extra`, an additional
/// filter such as "standalone").
pub async fn list<A: Asset>(
    store: &Store,
    caller: &Caller,
    f: &AssetFilter,
    extra: Option<Cond>,
) -> Result<CursorPage<A>, AssetError> {
    require_asset_admin(caller)?;
    let page_size = f.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(Invalid("page_size must be 1..=100".into()).into());
    }
    let cursor = parse_cursor(f.cursor.as_deref())?;
    let prefix = filter_term(f.prefix.as_deref()).map(str::to_ascii_uppercase);
    let (source, prefix_filter) =
        list_source::<A>(store, caller, f.shop_id, prefix.as_deref()).await?;
    let filter = filters::<A>(f, extra, prefix_filter);
    let (list, next) = read_page(store, &source, filter, page_size, cursor, |a: &A| {
        !a.deleted() && caller.sees_shop_owned(a.owner())
    })
    .await?;
    Ok(CursorPage {
        list,
        page_size,
        next_cursor: next,
    })
}

async fn list_source<A: Asset>(
    store: &Store,
    caller: &Caller,
    shop_id: Option<u64>,
    prefix: Option<&str>,
) -> Result<(Source, Option<String>), AssetError> {
    let kind = A::KIND;
    let p = prefix.unwrap_or("");
    Ok(match (shop_id, caller.scope()) {
        (Some(0), Scope::All) => (
            Source {
                on: On::Gsi1,
                partitions: (0..SHARDS).map(|sh| kind.platform_partition(sh)).collect(),
                sk: SkCond::Prefix(p.to_string()),
            },
            None,
        ),
        (Some(0), _) => return Err(AssetError::NotFound("shop")),
        (Some(id), _) => {
            let shop: Shop = store
                .live_entity(&keys::shop(id))
                .await?
                .filter(|s: &Shop| caller.sees_shop_owned(Some(&s.path)))
                .ok_or(AssetError::NotFound("shop"))?;
            let root = shop.path.ids()[0];
            (
                Source {
                    on: On::Gsi1,
                    partitions: vec![kind.tree_partition(root)],
                    sk: SkCond::Prefix(format!("{}#{p}", shop.path.as_str())),
                },
                None,
            )
        }
        (None, Scope::Subtree(path)) => (
            Source {
                on: On::Gsi1,
                partitions: vec![kind.tree_partition(path.ids()[0])],
                sk: SkCond::Prefix(path.as_str().to_string()),
            },
            prefix.map(str::to_string),
        ),
        (None, Scope::All) => (
            Source {
                on: On::Gsi2,
                partitions: (0..SHARDS).map(|sh| kind.all_partition(sh)).collect(),
                sk: SkCond::Prefix(p.to_string()),
            },
            None,
        ),
        (None, Scope::Enterprise(_)) => return Err(AssetError::Forbidden("enterprise accounts")),
    })
}

fn filters<A: Asset>(f: &AssetFilter, extra: Option<Cond>, prefix: Option<String>) -> Option<Cond> {
    let mut conds: Vec<Cond> = Vec::new();
    if let Some(p) = prefix {
        let attr = if A::TYPE == AssetType::Card {
            "iccid"
        } else {
            "virtual_no"
        };
        conds.push(Cond::new(format!("begins_with({attr}, :prefix_f)")).value(":prefix_f", s(p)));
    }
    if let Some(b) = f.batch_no.as_deref().filter(|b| !b.is_empty()) {
        conds.push(Cond::new("batch_no = :batch").value(":batch", s(b)));
    }
    for (name, value) in [
        ("asset_status", f.asset_status),
        ("network_status", f.network_status),
        ("real_name_status", f.real_name_status),
        ("carrier_id", f.carrier_id.map(|c| c as i64)),
    ] {
        if let Some(v) = value {
            conds.push(Cond::new(format!("{name} = :{name}")).value(&format!(":{name}"), n(v)));
        }
    }
    conds.extend(extra);
    conds.into_iter().reduce(Cond::and)
}

/// Shop names of the owners of `list` (soft-deleted shops included), one batch read.
pub async fn owner_names<A: Asset>(
    store: &Store,
    list: &[A],
) -> Result<HashMap<u64, String>, StoreError> {
    let mut ids: Vec<u64> = list.iter().filter_map(|a| a.shop_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(shop_names(store, &ids).await?.into_iter().collect())
}

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
        asset_status::DEACTIVATED => return Ok(()),
        asset_status::IN_STOCK | asset_status::SOLD => {}
        other => return Err(AssetError::StatusInvalid(other)),
    }
    let mut changed = a.clone();
    changed.set_asset_status(asset_status::DEACTIVATED);
    changed.touch(caller.account_id, now);
    let cond = Cond::live()
        .and(Cond::new("asset_status IN (:in_stock, :sold)"))
        .value(":in_stock", n(asset_status::IN_STOCK))
        .value(":sold", n(asset_status::SOLD));
    match store.put_if("asset", changed.item()?, cond).await {
        Ok(()) => Ok(()),
        // Deactivated meanwhile by someone else: the same end state.
        Err(StoreError::ConditionFailed { old: Some(old), .. })
            if num_attr(&old, "asset_status") == Some(asset_status::DEACTIVATED) =>
        {
            Ok(())
        }
        Err(StoreError::ConditionFailed { old: Some(old), .. }) => Err(AssetError::StatusInvalid(
            num_attr(&old, "asset_status").unwrap_or(0),
        )),
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

/// Outcome of an allocation or recall.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MoveResult {
    pub success_count: u64,
    pub failed: Vec<MoveFailure>,
}

/// One asset that did not move.
#[derive(Debug, Serialize, Deserialize)]
pub struct MoveFailure {
    pub identifier: String,
    pub reason: String,
}

/// Most assets one allocation or recall request may move.
pub const MAX_MOVE: usize = 10_000;

/// Loads the selected assets: by ids or identifiers (any owner; checked per asset
/// later), or by range / batch within `partitions` (the stock the caller moves from).
async fn select<A: Asset>(
    store: &Store,
    sel: &Selection,
    partitions: &[(String, String)],
) -> Result<(Vec<A>, Vec<MoveFailure>), AssetError> {
    let mut failures = Vec::new();
    let given = [
        sel.ids.is_some(),
        sel.identifiers.is_some(),
        sel.range_start.is_some() || sel.range_end.is_some(),
        sel.batch_no.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(Invalid("give exactly one of ids, identifiers (iccids/virtual_nos), a range (start and end) or batch_no".into()).into());
    }
    let mut list: Vec<A> = Vec::new();
    if let Some(ids) = &sel.ids {
        check_size(ids.len())?;
        let keys_: Vec<Key> = ids.iter().map(|id| A::key(*id)).collect();
        list = store.entities(&keys_).await?;
        for id in ids {
            if !list.iter().any(|a| a.id() == *id) {
                failures.push(MoveFailure {
                    identifier: id.to_string(),
                    reason: "not found".into(),
                });
            }
        }
    } else if let Some(identifiers) = &sel.identifiers {
        check_size(identifiers.len())?;
        let kind = A::lookup_kinds()[0];
        let wanted: Vec<String> = identifiers
            .iter()
            .map(|i| {
                if A::TYPE == AssetType::Card {
                    i.trim().to_ascii_uppercase()
                } else {
                    i.trim().to_string()
                }
            })
            .collect();
        let uniq: Vec<Key> = wanted.iter().map(|i| keys::unique(kind, i)).collect();
        let found = store.get_many(&uniq).await?;
        let ids: Vec<Key> = found
            .iter()
            .filter_map(|i| num_attr(i, "target_id"))
            .map(|id| A::key(id as u64))
            .collect();
        list = store.entities(&ids).await?;
        for i in &wanted {
            if !list.iter().any(|a| a.identifier() == i) {
                failures.push(MoveFailure {
                    identifier: i.clone(),
                    reason: "not found".into(),
                });
            }
        }
    } else {
        let range = match (&sel.range_start, &sel.range_end, &sel.batch_no) {
            (Some(a), Some(b), None) => {
                let (a, b) = (a.trim().to_ascii_uppercase(), b.trim().to_ascii_uppercase());
                if a > b {
                    return Err(Invalid("range start must not be after range end".into()).into());
                }
                Some((a, b))
            }
            (None, None, Some(_)) => None,
            _ => return Err(Invalid("a range needs both start and end".into()).into()),
        };
        let filter = sel
            .batch_no
            .as_ref()
            .map(|b| Cond::new("batch_no = :batch").value(":batch", s(b)));
        for (pk, base) in partitions {
            let sk = match &range {
                Some((a, b)) => SkCond::Between(format!("{base}{a}"), format!("{base}{b}")),
                None => SkCond::Prefix(base.clone()),
            };
            let mut q = Query {
                on: On::Gsi1,
                pk: pk.clone(),
                sk,
                filter: filter.clone(),
                limit: None,
                start: None,
            };
            loop {
                let (items, last) = store.query(&q).await?;
                for item in items {
                    list.push(from_item(item)?);
                }
                check_size(list.len())?;
                match last {
                    Some(k) => q.start = Some(k),
                    None => break,
                }
            }
        }
    }
    Ok((list, failures))
}

fn check_size(n: usize) -> Result<(), AssetError> {
    if n > MAX_MOVE {
        return Err(Invalid(format!("at most {MAX_MOVE} assets per request")).into());
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
    let source = caller.shop_path.clone();
    let partitions = own_stock_partitions(A::KIND, source.as_ref());
    let (selected, mut failed) = select::<A>(store, &req.selection, &partitions).await?;
    let mut moves = Vec::new();
    for a in selected {
        if a.deleted() || a.owner() != source.as_ref() {
            failed.push(MoveFailure {
                identifier: a.identifier().into(),
                reason: "not in your stock".into(),
            });
        } else if let Some(reason) = unmovable(&a) {
            failed.push(MoveFailure {
                identifier: a.identifier().into(),
                reason,
            });
        } else {
            moves.push(a);
        }
    }
    run_moves(
        store,
        caller,
        now,
        moves,
        Some(&target),
        "allocate",
        req.remark,
        failed,
    )
    .await
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
    let sel = &req.selection;
    let (selected, mut failed) =
        if sel.range_start.is_some() || sel.range_end.is_some() || sel.batch_no.is_some() {
            select_in_scope::<A>(store, sel, caller.shop_path.as_ref()).await?
        } else {
            select::<A>(store, sel, &[]).await?
        };
    let mut moves = Vec::new();
    for a in selected {
        let from_direct_child = match (&caller.shop_path, a.owner()) {
            (Some(mine), Some(owner)) => mine.contains(owner) && owner.level() == mine.level() + 1,
            (None, Some(_)) => true,
            _ => false,
        };
        if a.deleted() || !from_direct_child {
            let reason = if caller.is_platform() {
                "in platform stock already"
            } else {
                "not held by a direct subordinate shop"
            };
            failed.push(MoveFailure {
                identifier: a.identifier().into(),
                reason: reason.into(),
            });
        } else if let Some(reason) = unmovable(&a) {
            failed.push(MoveFailure {
                identifier: a.identifier().into(),
                reason,
            });
        } else {
            moves.push(a);
        }
    }
    run_moves(
        store,
        caller,
        now,
        moves,
        me.as_ref(),
        "recall",
        req.remark,
        failed,
    )
    .await
}

/// Range/batch selection of shop-held assets in a subtree (agent recall: one `gsi1`
/// partition, the range as a filter) or everywhere (platform recall: the `gsi2`
/// shards, the range as a key condition).
async fn select_in_scope<A: Asset>(
    store: &Store,
    sel: &Selection,
    subtree: Option<&ShopPath>,
) -> Result<(Vec<A>, Vec<MoveFailure>), AssetError> {
    let attr = if A::TYPE == AssetType::Card {
        "iccid"
    } else {
        "virtual_no"
    };
    let range = match (&sel.range_start, &sel.range_end, &sel.batch_no) {
        (Some(a), Some(b), None) => {
            Some((a.trim().to_ascii_uppercase(), b.trim().to_ascii_uppercase()))
        }
        (None, None, Some(_)) => None,
        _ => return Err(Invalid("give a range (start and end) or batch_no".into()).into()),
    };
    let batch = sel
        .batch_no
        .as_ref()
        .map(|b| Cond::new("batch_no = :batch").value(":batch", s(b)));
    let sources: Vec<(On, String, SkCond, Option<Cond>)> = match subtree {
        Some(p) => {
            let filter = match &range {
                Some((a, b)) => Some(
                    Cond::new(format!("{attr} BETWEEN :from AND :to"))
                        .value(":from", s(a))
                        .value(":to", s(b)),
                ),
                None => batch,
            };
            vec![(
                On::Gsi1,
                A::KIND.tree_partition(p.ids()[0]),
                SkCond::Prefix(p.as_str().to_string()),
                filter,
            )]
        }
        None => (0..SHARDS)
            .map(|sh| match &range {
                Some((a, b)) => (
                    On::Gsi2,
                    A::KIND.all_partition(sh),
                    SkCond::Between(a.clone(), b.clone()),
                    None,
                ),
                None => (
                    On::Gsi2,
                    A::KIND.all_partition(sh),
                    SkCond::Any,
                    batch.clone(),
                ),
            })
            .collect(),
    };
    let mut list = Vec::new();
    for (on, pk, sk, filter) in sources {
        let mut q = Query {
            on,
            pk,
            sk,
            filter,
            limit: None,
            start: None,
        };
        loop {
            let (items, last) = store.query(&q).await?;
            for item in items {
                let a: A = from_item(item)?;
                if a.owner().is_some() {
                    list.push(a);
                }
            }
            check_size(list.len())?;
            match last {
                Some(k) => q.start = Some(k),
                None => break,
            }
        }
    }
    Ok((list, Vec::new()))
}

/// Partitions and sort-key bases of the stock a caller gives out: its own shop's
/// assets (not its descendants'), or the platform stock shards.
fn own_stock_partitions(kind: Kind, source: Option<&ShopPath>) -> Vec<(String, String)> {
    match source {
        Some(p) => vec![(kind.tree_partition(p.ids()[0]), format!("{}#", p.as_str()))],
        None => (0..SHARDS)
            .map(|sh| (kind.platform_partition(sh), String::new()))
            .collect(),
    }
}

/// Why an asset cannot move at all, if it cannot.
fn unmovable<A: Asset>(a: &A) -> Option<String> {
    if matches!(
        a.asset_status(),
        asset_status::EXCHANGED | asset_status::DEACTIVATED
    ) {
        return Some(format!("asset_status {} cannot move", a.asset_status()));
    }
    let bound = serde_json::to_value(a)
        .ok()
        .and_then(|v| v.get("bound_device_id").and_then(|d| d.as_u64()));
    bound.map(|d| format!("bound to device {d}; move the device"))
}

#[allow(clippy::too_many_arguments)]
async fn run_moves<A: Asset>(
    store: &Store,
    caller: &Caller,
    now: i64,
    moves: Vec<A>,
    to: Option<&Shop>,
    operation: &'static str,
    remark: Option<String>,
    mut failed: Vec<MoveFailure>,
) -> Result<MoveResult, AssetError> {
    let mut result = MoveResult::default();
    let mut set = tokio::task::JoinSet::new();
    let remark = remark.map(|r| r.chars().take(200).collect::<String>());
    let mut pending = moves.into_iter();
    loop {
        while set.len() < 8 {
            let Some(a) = pending.next() else { break };
            let store = store.clone();
            let to = to.cloned();
            let remark = remark.clone();
            let by = caller.account_id;
            set.spawn(crate::store::calls::inherit(async move {
                let id = a.identifier().to_string();
                (
                    id,
                    move_one(&store, a, to.as_ref(), by, now, operation, remark).await,
                )
            }));
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (identifier, res) =
            done.map_err(|e| AssetError::Store(StoreError::Dynamo(e.to_string())))?;
        match res {
            Ok(()) => result.success_count += 1,
            Err(StoreError::ConditionFailed { .. }) => failed.push(MoveFailure {
                identifier,
                reason: "changed concurrently; retry".into(),
            }),
            Err(e) => return Err(e.into()),
        }
    }
    result.failed = failed;
    Ok(result)
}

/// Moves one asset (and, for a device, its bound cards) and records it, atomically.
async fn move_one<A: Asset>(
    store: &Store,
    asset: A,
    to: Option<&Shop>,
    by: u64,
    now: i64,
    operation: &'static str,
    remark: Option<String>,
) -> Result<(), StoreError> {
    let at = rfc3339(now);
    let from_path = asset.owner().cloned();
    let from_id = asset.shop_id();
    let mut moved = asset.clone();
    moved.set_owner(to);
    moved.touch(by, now);
    let record = AllocationRecord {
        id: format!(
            "{}{}",
            &at[..19].replace(['-', ':', 'T'], ""),
            uuid::Uuid::new_v4().simple()
        ),
        asset_type: A::TYPE,
        asset_id: asset.id(),
        identifier: asset.identifier().to_string(),
        from_shop_id: from_id,
        to_shop_id: to.map(|s| s.id),
        operation: operation.into(),
        operator_id: by,
        remark,
        created_at: at.clone(),
    };
    // Indexed under the subordinate side: the receiver of an allocation, the giver of a recall.
    let subordinate = if operation == "allocate" {
        to.map(|s| s.path.clone())
    } else {
        from_path
    };
    let mut tx = Tx::new()
        .put(
            "asset",
            moved.item()?,
            Some(Cond::live().and(Cond::version(asset.version()))),
        )
        .put_new("record", allocation_item(&record, subordinate.as_ref())?);
    if A::TYPE == AssetType::Device {
        // Bound cards follow their device.
        let bindings = store
            .query_prefix(On::Table, &A::key(asset.id()).pk, "SLOT#")
            .await?;
        let card_keys: Vec<Key> = bindings
            .iter()
            .filter_map(|b| num_attr(b, "iot_card_id"))
            .map(|id| assets::card_key(id as u64))
            .collect();
        for card in store.entities::<IotCard>(&card_keys).await? {
            let mut c = card.clone();
            c.set_owner(to);
            c.touch(by, now);
            tx = tx.put("card", c.item()?, Some(Cond::version(card.version)));
        }
    }
    store.transact(tx).await
}

/// Filters of the allocation-record list.
#[derive(Debug, Default, Deserialize)]
pub struct RecordFilter {
    pub cursor: Option<String>,
    pub page_size: Option<u32>,
    pub asset_type: Option<AssetType>,
    pub identifier: Option<String>,
    pub operation: Option<String>,
    pub from_shop_id: Option<u64>,
    pub to_shop_id: Option<u64>,
}

/// An allocation record with shop names (soft-deleted shops included).
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordView {
    #[serde(flatten)]
    pub record: AllocationRecord,
    pub from_shop_name: Option<String>,
    pub to_shop_name: Option<String>,
}

/// Allocation records the caller may see: those of its subtree's shops (platform: all).
pub async fn records(
    store: &Store,
    caller: &Caller,
    f: &RecordFilter,
) -> Result<CursorPage<RecordView>, AssetError> {
    require_asset_admin(caller)?;
    let page_size = f.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(Invalid("page_size must be 1..=100".into()).into());
    }
    let cursor = parse_cursor(f.cursor.as_deref())?;
    let source = match &caller.shop_path {
        Some(p) => Source {
            on: On::Gsi1,
            partitions: vec![format!("ALLOCS#{}", p.ids()[0])],
            sk: SkCond::Prefix(p.as_str().to_string()),
        },
        None => Source {
            on: On::Gsi2,
            partitions: (0..SHARDS).map(|sh| format!("ALLOCS#ALL#{sh}")).collect(),
            sk: SkCond::Any,
        },
    };
    let mut conds = Vec::new();
    if let Some(t) = f.asset_type {
        conds.push(Cond::new("asset_type = :t").value(":t", s(t.as_str())));
    }
    if let Some(i) = f.identifier.as_deref().filter(|i| !i.is_empty()) {
        conds.push(Cond::new("identifier = :i").value(":i", s(i.trim())));
    }
    if let Some(o) = f.operation.as_deref().filter(|o| !o.is_empty()) {
        conds.push(
            Cond::new("#op = :o")
                .name("#op", "operation")
                .value(":o", s(o)),
        );
    }
    if let Some(id) = f.from_shop_id {
        conds.push(Cond::new("from_shop_id = :from").value(":from", n(id)));
    }
    if let Some(id) = f.to_shop_id {
        conds.push(Cond::new("to_shop_id = :to").value(":to", n(id)));
    }
    let filter = conds.into_iter().reduce(Cond::and);
    let (list, next): (Vec<AllocationRecord>, _) =
        read_page(store, &source, filter, page_size, cursor, |_| true).await?;
    let mut ids: Vec<u64> = list
        .iter()
        .flat_map(|r| [r.from_shop_id, r.to_shop_id])
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<u64, String> = shop_names(store, &ids).await?.into_iter().collect();
    let name = |id: Option<u64>| id.and_then(|i| names.get(&i).cloned());
    let list = list
        .into_iter()
        .map(|record| RecordView {
            from_shop_name: name(record.from_shop_id),
            to_shop_name: name(record.to_shop_id),
            record,
        })
        .collect();
    Ok(CursorPage {
        list,
        page_size,
        next_cursor: next,
    })
}

/// One allocation record, if the caller may see it.
pub async fn record(store: &Store, caller: &Caller, id: &str) -> Result<RecordView, AssetError> {
    require_asset_admin(caller)?;
    let r: AllocationRecord = store
        .get_as(&assets::allocation_key(id))
        .await?
        .ok_or(AssetError::NotFound("allocation record"))?;
    if let Some(mine) = &caller.shop_path {
        let mut ids: Vec<u64> = [r.from_shop_id, r.to_shop_id]
            .into_iter()
            .flatten()
            .collect();
        ids.sort_unstable();
        let shops: Vec<Shop> = store
            .entities(&ids.iter().map(|i| keys::shop(*i)).collect::<Vec<_>>())
            .await?;
        // Visible when the subordinate side lies in the caller's subtree.
        let sub = if r.operation == "allocate" {
            r.to_shop_id
        } else {
            r.from_shop_id
        };
        let visible = shops
            .iter()
            .any(|s| Some(s.id) == sub && mine.contains(&s.path));
        if !visible {
            return Err(AssetError::NotFound("allocation record"));
        }
    }
    let ids: Vec<u64> = [r.from_shop_id, r.to_shop_id]
        .into_iter()
        .flatten()
        .collect();
    let names: HashMap<u64, String> = shop_names(store, &ids).await?.into_iter().collect();
    Ok(RecordView {
        from_shop_name: r.from_shop_id.and_then(|i| names.get(&i).cloned()),
        to_shop_name: r.to_shop_id.and_then(|i| names.get(&i).cloned()),
        record: r,
    })
}
