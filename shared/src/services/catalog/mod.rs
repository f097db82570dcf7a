//! Package series and packages (domain.md §4.4, api.md §12–13), and what an agent
//! sees of them: the series granted to its shop and the packages allocated to it,
//! with its own cost, retail price and shelf status. Here: the error of the
//! catalogue and price-chain use cases and the reads they share; `series` and
//! `packages` hold the use cases of each, `lists` their lists.

mod lists;
mod packages;
mod series;

use std::collections::{HashMap, HashSet};

pub use lists::{list_packages, list_series};
pub use packages::{
    create_package, delete_package, get_package, set_package_status, set_retail_price,
    set_shelf_status, update_package, CreatePackage, OwnAllocationView, PackageFilter, PackageView,
    RetailPrice, ShelfRequest, UpdatePackage,
};
pub use series::{
    create_series, delete_series, get_series, set_series_status, update_series, CreateSeries,
    SeriesFilter, UpdateSeries,
};

use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::caller::{Caller, NotAllowed};
use crate::domain::catalog::{Package, PackageSeries};
use crate::domain::grants::{PackageAllocation, SeriesGrant};
use crate::domain::org::{Status, UserType};
use crate::domain::pricing::{GrantRule, NotSellable};
use crate::domain::validate::Invalid;
use crate::store::keys;
use crate::store::{Store, StoreError};

/// Failures of the catalogue and price-chain use cases.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("series code already exists")]
    DuplicateSeriesCode,
    #[error("package code already exists")]
    DuplicatePackageCode,
    #[error("{0}")]
    SeriesInUse(String),
    #[error("the package is allocated to shops; disable it instead")]
    PackageInUse,
    #[error("the agent already has a grant of this series")]
    DuplicateGrant,
    #[error("you hold no grant of this series and cannot pass it down")]
    GrantorLacksGrant,
    #[error("{0}")]
    CeilingExceeded(String),
    #[error("{0}")]
    TierMismatch(String),
    #[error("{0}")]
    NotDirectSubordinate(&'static str),
    #[error("cost price of package {0} is locked: the shop allocated it to subordinates")]
    CostLocked(u64),
    #[error("retail price {retail} is below the cost price {cost}")]
    RetailBelowCost { retail: i64, cost: i64 },
    #[error("{0}")]
    NoAllocation(String),
    #[error("cost price {cost} of package {package} is below the grantor's cost price {floor}")]
    CostBelowGrantorCost { package: u64, cost: i64, floor: i64 },
    #[error("package {0} does not belong to the grant's series")]
    PackageNotInSeries(u64),
    #[error("package {0} is allocated further down; remove those allocations first")]
    AllocationInUse(u64),
    #[error("subordinate grants depend on this grant")]
    GrantHasSubordinates,
    #[error("the grant is being created or deleted, retry shortly")]
    GrantInProgress,
    #[error("{0}")]
    ShopHasNoGrant(String),
    #[error("{0}")]
    NotSellable(#[from] NotSellable),
    #[error("the object was changed concurrently, retry")]
    VersionConflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for CatalogError {
    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            CatalogError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }

    fn code(&self) -> Code {
        use CatalogError::*;
        match self {
            Invalid(_) => Code::INVALID_PARAM,
            NotFound(_) => Code::NOT_FOUND,
            NotAllowed(_) => Code::FORBIDDEN,
            DuplicateSeriesCode => Code::DUPLICATE_SERIES_CODE,
            DuplicatePackageCode => Code::DUPLICATE_PACKAGE_CODE,
            SeriesInUse(_) => Code::SERIES_IN_USE,
            PackageInUse => Code::PACKAGE_IN_USE,
            DuplicateGrant => Code::DUPLICATE_GRANT,
            GrantorLacksGrant => Code::GRANTOR_LACKS_GRANT,
            CeilingExceeded(_) => Code::GRANT_CEILING_EXCEEDED,
            TierMismatch(_) => Code::TIER_MISMATCH,
            NotDirectSubordinate(_) => Code::NOT_DIRECT_SUBORDINATE,
            CostLocked(_) => Code::COST_PRICE_LOCKED,
            RetailBelowCost { .. } => Code::RETAIL_BELOW_COST,
            NoAllocation(_) => Code::NO_ALLOCATION,
            CostBelowGrantorCost { .. } => Code::COST_BELOW_GRANTOR_COST,
            PackageNotInSeries(_) => Code::PACKAGE_NOT_IN_SERIES,
            AllocationInUse(_) => Code::ALLOCATION_IN_USE,
            GrantHasSubordinates => Code::GRANT_HAS_SUBORDINATES,
            GrantInProgress => Code::GRANT_IN_PROGRESS,
            ShopHasNoGrant(_) => Code::SHOP_HAS_NO_GRANT,
            NotSellable(crate::domain::pricing::NotSellable::NoAllocation) => Code::NO_ALLOCATION,
            NotSellable(_) => Code::PACKAGE_NOT_SELLABLE,
            VersionConflict => Code::VERSION_CONFLICT,
            Store(e) => e.code(),
        }
    }
}

impl From<GrantRule> for CatalogError {
    fn from(e: GrantRule) -> Self {
        match e {
            GrantRule::Invalid(i) => CatalogError::Invalid(i),
            GrantRule::TierMismatch(m) => CatalogError::TierMismatch(m),
            GrantRule::CeilingExceeded(m) => CatalogError::CeilingExceeded(m),
        }
    }
}

/// Maps a failed condition of an optimistic write to `VersionConflict`.
pub(crate) fn conflict(e: StoreError) -> CatalogError {
    match e {
        StoreError::ConditionFailed { .. } => CatalogError::VersionConflict,
        other => other.into(),
    }
}

/// Uniqueness-item kinds.
const SERIES_CODE: &str = "series_code";
const PACKAGE_CODE: &str = "package_code";
/// Longest series or package name.
const NAME_MAX: usize = 100;

// ---------------------------------------------------------------- reads shared

/// A live series.
pub async fn live_series(store: &Store, id: u64) -> Result<PackageSeries, CatalogError> {
    store
        .live_entity(&keys::series(id))
        .await?
        .ok_or(CatalogError::NotFound("package series"))
}

/// A live package.
pub async fn live_package(store: &Store, id: u64) -> Result<Package, CatalogError> {
    store
        .live_entity(&keys::package(id))
        .await?
        .ok_or(CatalogError::NotFound("package"))
}

/// The grant in effect of `shop_id` for `series_id`, if any.
pub async fn grant_in_effect(
    store: &Store,
    shop_id: u64,
    series_id: u64,
) -> Result<Option<SeriesGrant>, StoreError> {
    Ok(store
        .claimed_grant(shop_id, series_id)
        .await?
        .filter(SeriesGrant::in_effect))
}

/// A shop's allocations that take effect (live, enabled, under a grant in effect),
/// by package id: one Query and one batch read of the grants.
pub async fn effective_allocations(
    store: &Store,
    shop_id: u64,
) -> Result<HashMap<u64, PackageAllocation>, StoreError> {
    let all = store.shop_allocations(shop_id).await?;
    let grant_keys: Vec<_> = all
        .iter()
        .map(|a| a.series_allocation_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .map(keys::grant)
        .collect();
    let grants: Vec<SeriesGrant> = store.entities(&grant_keys).await?;
    let live: HashSet<u64> = grants
        .iter()
        .filter(|g| g.in_effect())
        .map(|g| g.id)
        .collect();
    Ok(all
        .into_iter()
        .filter(|a| a.status == Status::Enabled && live.contains(&a.series_allocation_id))
        .map(|a| (a.package_id, a))
        .collect())
}

/// One effective allocation of a shop: the allocation, then its grant.
pub async fn effective_allocation(
    store: &Store,
    shop_id: u64,
    package_id: u64,
) -> Result<Option<PackageAllocation>, StoreError> {
    let Some(a) = store
        .live_entity::<PackageAllocation>(&keys::allocation(shop_id, package_id))
        .await?
    else {
        return Ok(None);
    };
    let g: Option<SeriesGrant> = store.entity(&keys::grant(a.series_allocation_id)).await?;
    Ok(g.filter(|g| g.in_effect())
        .filter(|_| a.status == Status::Enabled)
        .map(|_| a))
}

/// The calling agent's shop; anyone else is not allowed.
fn agent_shop(caller: &Caller) -> Result<u64, CatalogError> {
    match (caller.user_type, caller.shop_id) {
        (UserType::Agent, Some(shop)) => Ok(shop),
        (t, _) => Err(NotAllowed(t).into()),
    }
}
