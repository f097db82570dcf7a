//! What cards and devices share (api.md §7–§9, domain.md §3.3, §5.9): the [`Asset`]
//! trait, errors, lookups and visibility; scoped cursor lists ([`list`]), moves
//! between shops and deactivation ([`moves`], carried out by [`transfer`]), bulk
//! tasks for large ones ([`bulk`]), allocation records ([`records`]).

mod bulk;
mod list;
mod moves;
mod records;
mod transfer;

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) use bulk::queue as queue_bulk;
pub use bulk::{
    allocate, bulk_task, bulk_task_results, recall, run_slice, BulkTaskView, MoveAnswer, SliceDone,
};
pub use list::{list, list_authorized, with_shop_names, AssetFilter, StockHolder};
pub(crate) use moves::out_of_reach;
pub use moves::{
    deactivate, AllocateRequest, BatchResult, MoveFailure, MoveResult, Moved, RecallRequest,
    Refusal, Selection, MAX_MOVE,
};
pub(crate) use records::time_range;
pub use records::{record, records, RecordFilter, RecordView};

pub use crate::paging::CursorPage;

use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code};
use crate::domain::assets::{AssetStatus, AssetType, Device, IdentifierKind, IotCard};
use crate::domain::authorization::{ended, remove_grants, EndReason, Ended, EnterpriseAuth};
use crate::domain::caller::{Caller, NotAllowed, SA_PL_AG};
use crate::domain::entities::Shop;
use crate::domain::shop_path::ShopPath;
use crate::domain::stamp::Stamped;
use crate::domain::validate::Invalid;
use crate::services::shops::shop_names;
use crate::store::assets::{card_item, device_item, taken_identifier};
use crate::store::cursor::Cursor;
use crate::store::{keys, Item, Key, Store, StoreError};

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
    StatusInvalid(AssetStatus),
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
    #[error("the bulk task has not finished")]
    BulkUnfinished,
    #[error(transparent)]
    Storage(#[from] crate::services::storage::StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for AssetError {
    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            AssetError::Invalid(i) => Some(i.text().clone()),
            AssetError::Storage(e) => e.detail(),
            _ => None,
        }
    }

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
            BulkUnfinished => Code::BULK_TASK_UNFINISHED,
            Storage(e) => e.code(),
            Store(e) => e.code(),
        }
    }
}

/// A card or a device, as the shared use cases see it.
pub trait Asset: Stamped + Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Card or device.
    const TYPE: AssetType;
    /// Item key of asset `id`.
    fn key(id: u64) -> Key {
        keys::asset(Self::TYPE, id)
    }
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
    fn asset_status(&self) -> AssetStatus;
    /// Sets `asset_status`.
    fn set_asset_status(&mut self, status: AssetStatus);
    /// Soft-deleted?
    fn deleted(&self) -> bool;
    /// Optimistic-lock version.
    fn version(&self) -> i64;
    /// The device a card is bound to (never for a device).
    fn bound_device(&self) -> Option<u64>;
    /// Not bound to a device (always for a device).
    fn standalone(&self) -> bool;
    /// The enterprise the asset is authorised to, with its live grants.
    fn authorization(&self) -> Option<&EnterpriseAuth>;
    /// The same, to change.
    fn authorization_mut(&mut self) -> &mut Option<EnterpriseAuth>;
    /// Whether `caller` may see the asset (its owner's line, or the enterprise it is
    /// authorised to).
    fn seen_by(&self, caller: &Caller) -> bool {
        caller.sees_asset(self.owner(), self.authorization().map(|a| a.enterprise_id))
    }
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
        fn asset_status(&self) -> AssetStatus {
            self.asset_status
        }
        fn set_asset_status(&mut self, status: AssetStatus) {
            self.asset_status = status;
        }
        fn deleted(&self) -> bool {
            self.deleted_at.is_some()
        }
        fn version(&self) -> i64 {
            self.version
        }
        fn authorization(&self) -> Option<&EnterpriseAuth> {
            self.authorization.as_ref()
        }
        fn authorization_mut(&mut self) -> &mut Option<EnterpriseAuth> {
            &mut self.authorization
        }
    };
}

impl Asset for IotCard {
    const TYPE: AssetType = AssetType::Card;
    fn item(&self) -> Result<Item, StoreError> {
        card_item(self)
    }
    fn identifier(&self) -> &str {
        &self.iccid
    }
    fn bound_device(&self) -> Option<u64> {
        self.bound_device_id
    }
    fn standalone(&self) -> bool {
        self.is_standalone
    }
    asset_common!();
}

impl Asset for Device {
    const TYPE: AssetType = AssetType::Device;
    fn item(&self) -> Result<Item, StoreError> {
        device_item(self)
    }
    fn identifier(&self) -> &str {
        &self.virtual_no
    }
    fn bound_device(&self) -> Option<u64> {
        None
    }
    fn standalone(&self) -> bool {
        true
    }
    asset_common!();
}

/// Refuses enterprise accounts: the routes that change, move or import assets (an
/// enterprise only reads and operates the assets authorised to it).
pub fn require_asset_admin(caller: &Caller) -> Result<(), AssetError> {
    Ok(caller.require(SA_PL_AG)?)
}

/// The asset (live or soft-deleted) holding `value` of uniqueness kind `kind`.
pub async fn find<A: Asset>(
    store: &Store,
    kind: IdentifierKind,
    value: &str,
) -> Result<Option<A>, AssetError> {
    Ok(store
        .assets_by_identifier::<A>(kind, &[value.to_string()])
        .await?
        .into_iter()
        .next())
}

/// A live asset the caller may see (an enterprise account: one authorised to it);
/// others answer not found.
pub async fn visible<A: Asset>(store: &Store, caller: &Caller, id: u64) -> Result<A, AssetError> {
    let a: A = store
        .get_as(&A::key(id))
        .await?
        .ok_or(AssetError::AssetNotFound)?;
    if a.deleted() || !a.seen_by(caller) {
        return Err(AssetError::AssetNotFound);
    }
    Ok(a)
}

/// Card `card` without its grant through device `device`, changed by `by` at `now`,
/// and that grant ended for `reason`; `None` when it held none.
pub fn without_device_grant(
    card: &IotCard,
    device: u64,
    reason: EndReason,
    by: u64,
    now: i64,
) -> Option<(IotCard, Vec<Ended>)> {
    let mut c = card.clone();
    let gone = remove_grants(&mut c.authorization, |g| g.via_device_id == Some(device));
    if gone.is_empty() {
        return None;
    }
    c.touch(by, now);
    Some((c, ended(&gone, reason, Some(by), &rfc3339(now))))
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

/// The business error of a failed [`Store::save_asset`]: an identifier another
/// asset holds, or a concurrent change.
pub fn save_error(e: StoreError) -> AssetError {
    match (taken_identifier(&e), e.failed_label()) {
        (Some(IdentifierKind::CardVirtualNo | IdentifierKind::DeviceVirtualNo), _) => {
            AssetError::DuplicateVirtualNo
        }
        (Some(kind), _) => AssetError::DuplicateIdentifier(kind.as_str()),
        (None, Some(_)) => AssetError::VersionConflict,
        (None, None) => e.into(),
    }
}

/// The position and size of a cursor page (see [`crate::paging::page_params`]).
fn page_params(cursor: Option<&str>, page_size: Option<u32>) -> Result<(Cursor, u32), AssetError> {
    Ok(crate::paging::page_params(cursor, page_size)?)
}
