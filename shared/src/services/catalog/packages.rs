//! Packages (api.md §13): created and changed by the platform; agents read the
//! packages allocated to their own shop with their own prices, and set their own
//! retail price and shelf status.

use serde::{Deserialize, Serialize};

use super::{
    agent_shop, conflict, effective_allocation, live_package, CatalogError, NAME_MAX, PACKAGE_CODE,
};
use crate::domain::caller::{Caller, SA_PL, SA_PL_AG};
use crate::domain::catalog::{CalendarType, Package, PackageType, ResetCycle};
use crate::domain::grants::{PackageAllocation, ShelfStatus};
use crate::domain::org::Status;
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, money, Invalid};
use crate::services::org::{check_version, save_tx, soft_delete_tx, stamp, Rename};
use crate::store::catalog::{allocation_item, package_item, package_unallocated};
use crate::store::keys;
use crate::store::org::unique_item;
use crate::store::tally::{self, Counted};
use crate::store::tx::{Cond, Tx, Upd};
use crate::store::Store;

/// `POST /api/admin/packages` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
) -> Result<PackageView, CatalogError> {
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
        allocation_count: 0,
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
    let tx = tally::count(tx, None, &[(Counted::Packages, 1)]);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicatePackageCode,
            Some("series") => Invalid::new(
                "package_series_id对应的套餐系列不存在",
                "package_series_id does not name a live series",
            )
            .into(),
            _ => e.into(),
        })?;
    Ok(PackageView::of(&p, None))
}

/// A package as returned: every field of the package with `virtual_ratio` as a
/// number, and for agents their own allocation (its `cost_price` replacing the
/// platform's base cost).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PackageView {
    pub id: u64,
    pub package_code: String,
    pub package_name: String,
    pub package_series_id: u64,
    pub package_type: PackageType,
    pub real_data_mb: i64,
    pub virtual_data_mb: i64,
    pub enable_virtual_data: bool,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub virtual_ratio: rust_decimal::Decimal,
    pub calendar_type: CalendarType,
    pub duration_months: i64,
    pub duration_days: i64,
    pub data_reset_cycle: ResetCycle,
    pub enable_realname_activation: bool,
    pub has_independent_expiry: bool,
    pub suggested_retail_price: i64,
    /// The platform's base cost, or the agent's own cost price.
    pub cost_price: i64,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
    /// Agents only (absent for the platform).
    #[serde(flatten)]
    #[schema(value_type = OwnAllocationView)]
    pub own: Option<OwnAllocationView>,
}

/// What an agent's own allocation adds to a package it sees. Flattened into
/// [`PackageView`] for agents only, so each field is optional in the document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OwnAllocationView {
    #[schema(required = false)]
    pub retail_price: i64,
    #[schema(required = false)]
    pub shelf_status: ShelfStatus,
    /// `retail_price − cost_price`.
    #[schema(required = false)]
    pub profit: i64,
    #[schema(required = false)]
    pub allocation_id: u64,
    #[schema(required = false)]
    pub cost_price_locked: bool,
}

impl PackageView {
    /// Package `p` as seen by the platform (`own` = `None`) or by the agent whose
    /// allocation `own` is.
    pub fn of(p: &Package, own: Option<&PackageAllocation>) -> Self {
        PackageView {
            id: p.id,
            package_code: p.package_code.clone(),
            package_name: p.package_name.clone(),
            package_series_id: p.package_series_id,
            package_type: p.package_type,
            real_data_mb: p.real_data_mb,
            virtual_data_mb: p.virtual_data_mb,
            enable_virtual_data: p.enable_virtual_data,
            virtual_ratio: p.virtual_ratio,
            calendar_type: p.calendar_type,
            duration_months: p.duration_months,
            duration_days: p.duration_days,
            data_reset_cycle: p.data_reset_cycle,
            enable_realname_activation: p.enable_realname_activation,
            has_independent_expiry: p.has_independent_expiry,
            suggested_retail_price: p.suggested_retail_price,
            cost_price: own.map_or(p.cost_price, |a| a.cost_price),
            status: p.status,
            created_at: p.created_at.clone(),
            updated_at: p.updated_at.clone(),
            deleted_at: p.deleted_at.clone(),
            creator: p.creator,
            updater: p.updater,
            version: p.version,
            own: own.map(|a| OwnAllocationView {
                retail_price: a.retail_price,
                shelf_status: a.shelf_status,
                profit: a.retail_price - a.cost_price,
                allocation_id: a.id,
                cost_price_locked: a.cost_locked(),
            }),
        }
    }
}

/// One package (agents: only one allocated to their shop).
pub async fn get_package(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<PackageView, CatalogError> {
    caller.require(SA_PL_AG)?;
    let p = live_package(store, id).await?;
    if caller.is_platform() {
        return Ok(PackageView::of(&p, None));
    }
    let shop = agent_shop(caller)?;
    let own = effective_allocation(store, shop, id)
        .await?
        .ok_or(CatalogError::NotFound("package"))?;
    Ok(PackageView::of(&p, Some(&own)))
}

/// Partially updates a package; moving it to another series is refused while shops
/// hold allocations of it.
pub async fn update_package(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdatePackage,
) -> Result<PackageView, CatalogError> {
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
    // The versioned save below fails if an allocation was made since the read.
    if moved && old.allocation_count > 0 {
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
            Some("series") => Invalid::new(
                "package_series_id对应的套餐系列不存在",
                "package_series_id does not name a live series",
            )
            .into(),
            _ => conflict(e),
        })?;
    Ok(PackageView::of(&p, None))
}

/// Enables or disables a package (its global status).
pub async fn set_package_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<PackageView, CatalogError> {
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
    if old.allocation_count > 0 {
        return Err(CatalogError::PackageInUse);
    }
    let mut p = old.clone();
    p.touch(caller.account_id, now);
    // Allocating the package moves its count and version, so this write fails if one
    // was made since the read.
    let tx = soft_delete_tx(
        package_item(&p)?,
        old.version,
        now,
        Some(package_unallocated()),
        &[keys::unique(PACKAGE_CODE, &old.package_code)],
    )
    .update(
        "series",
        &keys::series(old.package_series_id),
        Upd::counter("package_count", -1),
        None,
    );
    let tx = tally::count(tx, None, &[(Counted::Packages, -1)]);
    store.transact(tx).await.map_err(conflict)
}

// ---------------------------------------------------------------- own allocation

/// `PATCH /api/admin/packages/:id/retail-price` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RetailPrice {
    pub retail_price: i64,
}

/// `PATCH /api/admin/packages/:id/shelf-status` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
) -> Result<PackageView, CatalogError> {
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
    Ok(PackageView::of(&p, Some(&a)))
}

/// An agent sets its own retail price (never below its cost price). The route acts on
/// the caller's own allocation only, so a grantor cannot set a grantee's price.
pub async fn set_retail_price(
    store: &Store,
    caller: &Caller,
    now: i64,
    package_id: u64,
    req: RetailPrice,
) -> Result<PackageView, CatalogError> {
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
) -> Result<PackageView, CatalogError> {
    let old = own_allocation(store, caller, package_id).await?;
    let mut a = old.clone();
    a.shelf_status = req.shelf_status;
    save_own(store, caller, now, &old, a).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::virtual_ratio;
    use crate::domain::grants::Grantor;
    use serde_json::json;

    /// The view answers every stored field of the package under its own name,
    /// `virtual_ratio` as a number, and for an agent its own allocation's fields.
    #[test]
    fn package_view_answers_the_package_fields_and_the_agents_own() {
        let p = Package {
            id: 3,
            package_code: "P".into(),
            package_name: "Package P".into(),
            package_series_id: 2,
            package_type: PackageType::Formal,
            real_data_mb: 10240,
            virtual_data_mb: 8000,
            enable_virtual_data: true,
            virtual_ratio: virtual_ratio(10240, 8000, true),
            calendar_type: CalendarType::NaturalMonth,
            duration_months: 1,
            duration_days: 0,
            data_reset_cycle: ResetCycle::Monthly,
            enable_realname_activation: false,
            has_independent_expiry: false,
            suggested_retail_price: 15000,
            cost_price: 5000,
            status: Status::Enabled,
            allocation_count: 0,
            created_at: "c".into(),
            updated_at: "u".into(),
            deleted_at: None,
            creator: 1,
            updater: 2,
            version: 4,
        };
        let mut want = serde_json::to_value(&p).unwrap();
        want["virtual_ratio"] = json!(1.28);
        // The allocation count is bookkeeping: it would tell agents how many shops
        // hold the package.
        want.as_object_mut().unwrap().remove("allocation_count");
        assert_eq!(
            serde_json::to_value(PackageView::of(&p, None)).unwrap(),
            want
        );

        let a = PackageAllocation {
            id: 9,
            shop_id: 5,
            package_id: 3,
            series_id: 2,
            allocator_shop_id: Grantor::Platform,
            series_allocation_id: 8,
            cost_price: 8000,
            retail_price: 12000,
            shelf_status: ShelfStatus::Off,
            status: Status::Enabled,
            sub_allocation_count: 1,
            created_at: "c".into(),
            updated_at: "u".into(),
            deleted_at: None,
            creator: 1,
            updater: 1,
            version: 1,
        };
        for (k, v) in [
            ("cost_price", json!(8000)),
            ("retail_price", json!(12000)),
            ("shelf_status", json!(2)),
            ("profit", json!(4000)),
            ("allocation_id", json!(9)),
            ("cost_price_locked", json!(true)),
        ] {
            want[k] = v;
        }
        assert_eq!(
            serde_json::to_value(PackageView::of(&p, Some(&a))).unwrap(),
            want
        );
    }
}
