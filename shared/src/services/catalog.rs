//! Package series and packages (domain.md §4.4, api.md §12–13), and what an agent
//! sees of them: the series granted to its shop and the packages allocated to it,
//! with its own cost, retail price and shelf status.

use std::collections::{HashMap, HashSet};

use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde_json::{json, Value};

use super::org::{check_version, save_tx, soft_delete_tx, stamp, Rename};
use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::caller::{Caller, NotAllowed, SA_PL, SA_PL_AG};
use crate::domain::catalog::{
    CalendarType, CommissionType, Package, PackageSeries, PackageType, ResetCycle, SeriesTier,
    Trigger,
};
use crate::domain::grants::{PackageAllocation, SeriesGrant, ShelfStatus};
use crate::domain::org::{Status, UserType};
use crate::domain::pricing::{GrantRule, NotSellable};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, filter_term, money, Invalid};
use crate::store::catalog::{allocation_item, package_item, series_item};
use crate::store::keys::{self, gsi1};
use crate::store::org::unique_item;
use crate::store::tx::{Cond, Tx, Upd};
use crate::store::{On, Store, StoreError};

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
            Store(_) => Code::DATABASE,
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

/// The grants a shop holds (live claims → grants), in effect or not.
pub async fn shop_grants(store: &Store, shop_id: u64) -> Result<Vec<SeriesGrant>, StoreError> {
    let claims = store
        .query_prefix(
            On::Table,
            &format!("SHOP#{shop_id}"),
            keys::GRANT_CLAIM_PREFIX,
        )
        .await?;
    let ids: Vec<_> = claims
        .iter()
        .filter_map(|c| crate::store::num_attr(c, "target_id"))
        .map(|id| keys::grant(id as u64))
        .collect();
    store.entities(&ids).await
}

/// The grant in effect of `shop_id` for `series_id`, if any.
pub async fn grant_in_effect(
    store: &Store,
    shop_id: u64,
    series_id: u64,
) -> Result<Option<SeriesGrant>, StoreError> {
    let Some(claim) = store.get(&keys::grant_claim(shop_id, series_id)).await? else {
        return Ok(None);
    };
    let Some(id) = crate::store::num_attr(&claim, "target_id") else {
        return Ok(None);
    };
    let g: Option<SeriesGrant> = store.entity(&keys::grant(id as u64)).await?;
    Ok(g.filter(SeriesGrant::in_effect))
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

/// One effective allocation of a shop: allocation and its grant in one batch read.
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

fn agent_shop(caller: &Caller) -> Result<u64, CatalogError> {
    match (caller.user_type, caller.shop_id) {
        (UserType::Agent, Some(shop)) => Ok(shop),
        (t, _) => Err(NotAllowed(t).into()),
    }
}

// ---------------------------------------------------------------- series

/// `POST /api/admin/package-series` body.
#[derive(Debug, Deserialize)]
pub struct CreateSeries {
    pub series_name: String,
    pub series_code: String,
    pub status: Option<Status>,
    #[serde(default)]
    pub enable_one_time_commission: bool,
    /// Default `accumulated_recharge`.
    pub one_time_commission_trigger: Option<Trigger>,
    #[serde(default)]
    pub one_time_commission_threshold: i64,
    /// Default `fixed`.
    pub commission_type: Option<CommissionType>,
    #[serde(default)]
    pub commission_amount: i64,
    #[serde(default)]
    pub tiers: Vec<SeriesTier>,
    #[serde(default)]
    pub enable_force_recharge: bool,
    #[serde(default)]
    pub force_recharge_amount: i64,
}

/// `PUT /api/admin/package-series/:id` body: absent fields are kept.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateSeries {
    pub series_name: Option<String>,
    pub series_code: Option<String>,
    pub status: Option<Status>,
    pub enable_one_time_commission: Option<bool>,
    pub one_time_commission_trigger: Option<Trigger>,
    pub one_time_commission_threshold: Option<i64>,
    pub commission_type: Option<CommissionType>,
    pub commission_amount: Option<i64>,
    pub tiers: Option<Vec<SeriesTier>>,
    pub enable_force_recharge: Option<bool>,
    pub force_recharge_amount: Option<i64>,
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/package-series`.
#[derive(Debug, Default, Deserialize)]
pub struct SeriesFilter {
    /// Substring of the name.
    pub series_name: Option<String>,
    pub series_code: Option<String>,
    pub status: Option<i64>,
    pub commission_type: Option<CommissionType>,
}

/// Creates a series.
pub async fn create_series(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateSeries,
) -> Result<PackageSeries, CatalogError> {
    caller.require(SA_PL)?;
    let mut x = PackageSeries {
        id: 0,
        series_name: validate::text("series_name", &req.series_name, NAME_MAX)?,
        series_code: validate::code("series_code", &req.series_code)?,
        status: req.status.unwrap_or(Status::Enabled),
        enable_one_time_commission: req.enable_one_time_commission,
        one_time_commission_trigger: req
            .one_time_commission_trigger
            .unwrap_or(Trigger::AccumulatedRecharge),
        one_time_commission_threshold: req.one_time_commission_threshold,
        commission_type: req.commission_type.unwrap_or(CommissionType::Fixed),
        commission_amount: req.commission_amount,
        tiers: req.tiers,
        enable_force_recharge: req.enable_force_recharge,
        force_recharge_amount: req.force_recharge_amount,
        package_count: 0,
        grant_count: 0,
        created_at: stamp(now),
        updated_at: stamp(now),
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    x.check()?;
    x.id = store.next_id("series").await?;
    let tx = Tx::new()
        .put_new("entity", series_item(&x)?)
        .put_new("unique", unique_item(SERIES_CODE, &x.series_code, x.id));
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicateSeriesCode,
            _ => e.into(),
        })?;
    Ok(x)
}

/// Series visible to the caller: all for the platform, those granted to its own shop
/// (grant in effect) for an agent.
pub async fn list_series(
    store: &Store,
    caller: &Caller,
    f: &SeriesFilter,
) -> Result<Vec<PackageSeries>, CatalogError> {
    caller.require(SA_PL_AG)?;
    let all: Vec<PackageSeries> = if caller.is_platform() {
        store.list_scope(gsi1::SERIES, "").await?
    } else {
        let shop = agent_shop(caller)?;
        let mut ids: Vec<u64> = shop_grants(store, shop)
            .await?
            .into_iter()
            .filter(SeriesGrant::in_effect)
            .map(|g| g.series_id)
            .collect();
        ids.sort_unstable();
        let keys: Vec<_> = ids.into_iter().map(keys::series).collect();
        let mut found: Vec<PackageSeries> = store.entities(&keys).await?;
        found.retain(|x| x.deleted_at.is_none());
        found.sort_by_key(|x| x.id);
        found
    };
    let name = filter_term(f.series_name.as_deref());
    let code = filter_term(f.series_code.as_deref());
    Ok(all
        .into_iter()
        .filter(|x| name.is_none_or(|n| x.series_name.contains(n)))
        .filter(|x| code.is_none_or(|c| x.series_code == c))
        .filter(|x| f.status.is_none_or(|s| i64::from(x.status) == s))
        .filter(|x| f.commission_type.is_none_or(|t| x.commission_type == t))
        .collect())
}

/// One series (agents: only one granted to their shop).
pub async fn get_series(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<PackageSeries, CatalogError> {
    caller.require(SA_PL_AG)?;
    if !caller.is_platform() {
        let shop = agent_shop(caller)?;
        if grant_in_effect(store, shop, id).await?.is_none() {
            return Err(CatalogError::NotFound("package series"));
        }
    }
    live_series(store, id).await
}

/// Partially updates a series. While grants of it exist its commission type and tier
/// thresholds are fixed (grants hold amounts per threshold); amounts, operators,
/// dimensions, scopes and the forced-recharge settings may change.
pub async fn update_series(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateSeries,
) -> Result<PackageSeries, CatalogError> {
    caller.require(SA_PL)?;
    let old = live_series(store, id).await?;
    check_version(req.version, old.version).map_err(|_| CatalogError::VersionConflict)?;
    let mut x = old.clone();
    if let Some(v) = &req.series_name {
        x.series_name = validate::text("series_name", v, NAME_MAX)?;
    }
    if let Some(v) = &req.series_code {
        x.series_code = validate::code("series_code", v)?;
    }
    if let Some(v) = req.status {
        x.status = v;
    }
    if let Some(v) = req.enable_one_time_commission {
        x.enable_one_time_commission = v;
    }
    if let Some(v) = req.one_time_commission_trigger {
        x.one_time_commission_trigger = v;
    }
    if let Some(v) = req.one_time_commission_threshold {
        x.one_time_commission_threshold = v;
    }
    if let Some(v) = req.commission_type {
        x.commission_type = v;
        if v == CommissionType::Fixed && req.tiers.is_none() {
            x.tiers.clear();
        }
    }
    if let Some(v) = req.commission_amount {
        x.commission_amount = v;
    }
    if let Some(v) = req.tiers {
        x.tiers = v;
    }
    if let Some(v) = req.enable_force_recharge {
        x.enable_force_recharge = v;
    }
    if let Some(v) = req.force_recharge_amount {
        x.force_recharge_amount = v;
    }
    x.check()?;
    let mut before = old.thresholds();
    let mut after = x.thresholds();
    before.sort_unstable();
    after.sort_unstable();
    if old.grant_count > 0 && (old.commission_type != x.commission_type || before != after) {
        return Err(CatalogError::SeriesInUse(
            "the series has grants: its commission type and tier thresholds cannot change".into(),
        ));
    }
    x.touch(caller.account_id, now);
    let rename = Rename::of(SERIES_CODE, &old.series_code, &x.series_code, id);
    let tx = save_tx(series_item(&x)?, old.version, rename);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicateSeriesCode,
            _ => conflict(e),
        })?;
    Ok(x)
}

/// Enables or disables a series.
pub async fn set_series_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<PackageSeries, CatalogError> {
    update_series(
        store,
        caller,
        now,
        id,
        UpdateSeries {
            status: Some(status),
            ..Default::default()
        },
    )
    .await
}

/// Soft-deletes a series without packages or grants, freeing its code.
pub async fn delete_series(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), CatalogError> {
    caller.require(SA_PL)?;
    let old = live_series(store, id).await?;
    if old.package_count > 0 || old.grant_count > 0 {
        return Err(CatalogError::SeriesInUse(format!(
            "the series still has {} packages and {} grants",
            old.package_count, old.grant_count
        )));
    }
    let mut x = old.clone();
    x.touch(caller.account_id, now);
    let tx = soft_delete_tx(
        series_item(&x)?,
        old.version,
        now,
        None,
        &[keys::unique(SERIES_CODE, &old.series_code)],
    );
    store.transact(tx).await.map_err(conflict)
}

// ---------------------------------------------------------------- packages

/// `POST /api/admin/packages` body.
#[derive(Debug, Deserialize)]
pub struct CreatePackage {
    pub package_code: String,
    pub package_name: String,
    pub package_series_id: u64,
    pub package_type: PackageType,
    pub real_data_mb: i64,
    #[serde(default)]
    pub virtual_data_mb: i64,
    #[serde(default)]
    pub enable_virtual_data: bool,
    pub calendar_type: CalendarType,
    #[serde(default)]
    pub duration_months: i64,
    #[serde(default)]
    pub duration_days: i64,
    pub data_reset_cycle: ResetCycle,
    #[serde(default)]
    pub enable_realname_activation: bool,
    #[serde(default)]
    pub has_independent_expiry: bool,
    pub suggested_retail_price: i64,
    #[serde(default)]
    pub cost_price: i64,
    pub status: Option<Status>,
}

/// `PUT /api/admin/packages/:id` body: absent fields are kept; `virtual_ratio` is
/// recomputed.
#[derive(Debug, Default, Deserialize)]
pub struct UpdatePackage {
    pub package_code: Option<String>,
    pub package_name: Option<String>,
    pub package_series_id: Option<u64>,
    pub package_type: Option<PackageType>,
    pub real_data_mb: Option<i64>,
    pub virtual_data_mb: Option<i64>,
    pub enable_virtual_data: Option<bool>,
    pub calendar_type: Option<CalendarType>,
    pub duration_months: Option<i64>,
    pub duration_days: Option<i64>,
    pub data_reset_cycle: Option<ResetCycle>,
    pub enable_realname_activation: Option<bool>,
    pub has_independent_expiry: Option<bool>,
    pub suggested_retail_price: Option<i64>,
    pub cost_price: Option<i64>,
    pub status: Option<Status>,
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/packages`.
#[derive(Debug, Default, Deserialize)]
pub struct PackageFilter {
    /// Substring of the name.
    pub package_name: Option<String>,
    pub package_code: Option<String>,
    pub package_series_id: Option<u64>,
    pub package_type: Option<PackageType>,
    pub status: Option<i64>,
    /// Agents: their own shelf status.
    pub shelf_status: Option<i64>,
}

/// Creates a package in a live series.
pub async fn create_package(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreatePackage,
) -> Result<Value, CatalogError> {
    caller.require(SA_PL)?;
    let mut p = Package {
        id: 0,
        package_code: validate::code("package_code", &req.package_code)?,
        package_name: validate::text("package_name", &req.package_name, NAME_MAX)?,
        package_series_id: req.package_series_id,
        package_type: req.package_type,
        real_data_mb: req.real_data_mb,
        virtual_data_mb: req.virtual_data_mb,
        enable_virtual_data: req.enable_virtual_data,
        virtual_ratio: rust_decimal::Decimal::ONE,
        calendar_type: req.calendar_type,
        duration_months: req.duration_months,
        duration_days: req.duration_days,
        data_reset_cycle: req.data_reset_cycle,
        enable_realname_activation: req.enable_realname_activation,
        has_independent_expiry: req.has_independent_expiry,
        suggested_retail_price: req.suggested_retail_price,
        cost_price: req.cost_price,
        status: req.status.unwrap_or(Status::Enabled),
        created_at: stamp(now),
        updated_at: stamp(now),
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    p.normalise()?;
    p.id = store.next_id("package").await?;
    let tx = Tx::new()
        .put_new("entity", package_item(&p)?)
        .put_new("unique", unique_item(PACKAGE_CODE, &p.package_code, p.id))
        .update(
            "series",
            &keys::series(p.package_series_id),
            Upd::counter("package_count", 1),
            Some(Cond::live()),
        );
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicatePackageCode,
            Some("series") => {
                Invalid("package_series_id does not name a live series".into()).into()
            }
            _ => e.into(),
        })?;
    Ok(package_view(&p, None))
}

/// A package as returned: every field, `virtual_ratio` as a number, and for agents
/// their own allocation's `cost_price` (replacing the platform's base cost),
/// `retail_price`, `shelf_status` and `profit`.
pub fn package_view(p: &Package, own: Option<&PackageAllocation>) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    v["virtual_ratio"] = json!(p.virtual_ratio.to_f64().unwrap_or(1.0));
    if let Some(a) = own {
        v["cost_price"] = json!(a.cost_price);
        v["retail_price"] = json!(a.retail_price);
        v["shelf_status"] = json!(i64::from(a.shelf_status));
        v["profit"] = json!(a.retail_price - a.cost_price);
        v["allocation_id"] = json!(a.id);
        v["cost_price_locked"] = json!(a.cost_locked());
    }
    v
}

/// Packages visible to the caller: all for the platform; for an agent, those
/// allocated to its own shop (allocation in effect), with its prices.
pub async fn list_packages(
    store: &Store,
    caller: &Caller,
    f: &PackageFilter,
) -> Result<Vec<Value>, CatalogError> {
    caller.require(SA_PL_AG)?;
    let name = filter_term(f.package_name.as_deref());
    let code = filter_term(f.package_code.as_deref());
    let keep = |p: &Package| {
        name.is_none_or(|n| p.package_name.contains(n))
            && code.is_none_or(|c| p.package_code == c)
            && f.package_series_id.is_none_or(|s| p.package_series_id == s)
            && f.package_type.is_none_or(|t| p.package_type == t)
            && f.status.is_none_or(|s| i64::from(p.status) == s)
    };
    if caller.is_platform() {
        let all: Vec<Package> = store.list_scope(gsi1::PACKAGES, "").await?;
        return Ok(all
            .iter()
            .filter(|p| keep(p))
            .map(|p| package_view(p, None))
            .collect());
    }
    let shop = agent_shop(caller)?;
    let own = effective_allocations(store, shop).await?;
    let mut ids: Vec<u64> = own.keys().copied().collect();
    ids.sort_unstable();
    let keys: Vec<_> = ids.into_iter().map(keys::package).collect();
    let mut packages: Vec<Package> = store.entities(&keys).await?;
    packages.sort_by_key(|p| p.id);
    Ok(packages
        .iter()
        .filter(|p| p.deleted_at.is_none() && keep(p))
        .filter_map(|p| own.get(&p.id).map(|a| (p, a)))
        .filter(|(_, a)| {
            f.shelf_status
                .is_none_or(|s| i64::from(a.shelf_status) == s)
        })
        .map(|(p, a)| package_view(p, Some(a)))
        .collect())
}

/// One package (agents: only one allocated to their shop).
pub async fn get_package(store: &Store, caller: &Caller, id: u64) -> Result<Value, CatalogError> {
    caller.require(SA_PL_AG)?;
    let p = live_package(store, id).await?;
    if caller.is_platform() {
        return Ok(package_view(&p, None));
    }
    let shop = agent_shop(caller)?;
    let own = effective_allocation(store, shop, id)
        .await?
        .ok_or(CatalogError::NotFound("package"))?;
    Ok(package_view(&p, Some(&own)))
}

/// Partially updates a package; moving it to another series is refused while shops
/// hold allocations of it.
pub async fn update_package(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdatePackage,
) -> Result<Value, CatalogError> {
    caller.require(SA_PL)?;
    let old = live_package(store, id).await?;
    check_version(req.version, old.version).map_err(|_| CatalogError::VersionConflict)?;
    let mut p = old.clone();
    if let Some(v) = &req.package_code {
        p.package_code = validate::code("package_code", v)?;
    }
    if let Some(v) = &req.package_name {
        p.package_name = validate::text("package_name", v, NAME_MAX)?;
    }
    macro_rules! set {
        ($($f:ident),*) => {$( if let Some(v) = req.$f { p.$f = v; } )*};
    }
    set!(
        package_series_id,
        package_type,
        real_data_mb,
        virtual_data_mb,
        enable_virtual_data,
        calendar_type,
        duration_months,
        duration_days,
        data_reset_cycle,
        enable_realname_activation,
        has_independent_expiry,
        suggested_retail_price,
        cost_price,
        status
    );
    p.normalise()?;
    let moved = p.package_series_id != old.package_series_id;
    if moved && store.package_allocated(id).await? {
        return Err(CatalogError::PackageInUse);
    }
    p.touch(caller.account_id, now);
    let rename = Rename::of(PACKAGE_CODE, &old.package_code, &p.package_code, id);
    let mut tx = save_tx(package_item(&p)?, old.version, rename);
    if moved {
        tx = tx
            .update(
                "old_series",
                &keys::series(old.package_series_id),
                Upd::counter("package_count", -1),
                None,
            )
            .update(
                "series",
                &keys::series(p.package_series_id),
                Upd::counter("package_count", 1),
                Some(Cond::live()),
            );
    }
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicatePackageCode,
            Some("series") => {
                Invalid("package_series_id does not name a live series".into()).into()
            }
            _ => conflict(e),
        })?;
    Ok(package_view(&p, None))
}

/// Enables or disables a package (its global status).
pub async fn set_package_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<Value, CatalogError> {
    update_package(
        store,
        caller,
        now,
        id,
        UpdatePackage {
            status: Some(status),
            ..Default::default()
        },
    )
    .await
}

/// Soft-deletes a package no shop holds, freeing its code.
pub async fn delete_package(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), CatalogError> {
    caller.require(SA_PL)?;
    let old = live_package(store, id).await?;
    if store.package_allocated(id).await? {
        return Err(CatalogError::PackageInUse);
    }
    let mut p = old.clone();
    p.touch(caller.account_id, now);
    let tx = soft_delete_tx(
        package_item(&p)?,
        old.version,
        now,
        None,
        &[keys::unique(PACKAGE_CODE, &old.package_code)],
    )
    .update(
        "series",
        &keys::series(old.package_series_id),
        Upd::counter("package_count", -1),
        None,
    );
    store.transact(tx).await.map_err(conflict)
}

// ---------------------------------------------------------------- own allocation

/// `PATCH /api/admin/packages/:id/retail-price` body.
#[derive(Debug, Deserialize)]
pub struct RetailPrice {
    pub retail_price: i64,
}

/// `PATCH /api/admin/packages/:id/shelf-status` body.
#[derive(Debug, Deserialize)]
pub struct ShelfRequest {
    pub shelf_status: ShelfStatus,
}

/// The calling agent's own allocation in effect, or `NoAllocation`.
async fn own_allocation(
    store: &Store,
    caller: &Caller,
    package_id: u64,
) -> Result<PackageAllocation, CatalogError> {
    let shop = agent_shop(caller)?;
    effective_allocation(store, shop, package_id)
        .await?
        .ok_or_else(|| {
            CatalogError::NoAllocation(format!(
                "your shop has no allocation of package {package_id}"
            ))
        })
}

/// Writes the caller's changed allocation, guarded by its version.
async fn save_own(
    store: &Store,
    caller: &Caller,
    now: i64,
    old: &PackageAllocation,
    mut a: PackageAllocation,
) -> Result<Value, CatalogError> {
    a.touch(caller.account_id, now);
    store
        .put_if(
            "allocation",
            allocation_item(&a)?,
            Cond::live().and(Cond::version(old.version)),
        )
        .await
        .map_err(conflict)?;
    let p = live_package(store, a.package_id).await?;
    Ok(package_view(&p, Some(&a)))
}

/// An agent sets its own retail price (never below its cost price). The route acts on
/// the caller's own allocation only, so a grantor cannot set a grantee's price.
pub async fn set_retail_price(
    store: &Store,
    caller: &Caller,
    now: i64,
    package_id: u64,
    req: RetailPrice,
) -> Result<Value, CatalogError> {
    let retail = money("retail_price", req.retail_price)?;
    let old = own_allocation(store, caller, package_id).await?;
    if retail < old.cost_price {
        return Err(CatalogError::RetailBelowCost {
            retail,
            cost: old.cost_price,
        });
    }
    let mut a = old.clone();
    a.retail_price = retail;
    save_own(store, caller, now, &old, a).await
}

/// An agent puts an allocated package on or off its own shelf.
pub async fn set_shelf_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    package_id: u64,
    req: ShelfRequest,
) -> Result<Value, CatalogError> {
    let old = own_allocation(store, caller, package_id).await?;
    let mut a = old.clone();
    a.shelf_status = req.shelf_status;
    save_own(store, caller, now, &old, a).await
}
