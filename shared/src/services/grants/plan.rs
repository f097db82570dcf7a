//! Planning a grant's package allocations: every check of a package item (the
//! package, its series, the grantor's own allocation and cost floor, the cost-price
//! lock) happens here, before anything is written, and yields the changes that
//! apply the items; also the commission checks of a grant.

use std::collections::HashMap;

use super::{read_map, GrantPackage, MAX_ITEMS};
use crate::clock::rfc3339;
use crate::domain::catalog::{CommissionType, Package, PackageSeries};
use crate::domain::grants::{GrantTier, PackageAllocation, PriceChange, SeriesGrant, ShelfStatus};
use crate::domain::org::Status;
use crate::domain::pricing::{check_fixed, check_tiers};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{money, Invalid};
use crate::services::catalog::{conflict, CatalogError};
use crate::store::catalog::{
    allocation_created, allocation_replaced, count_sub_allocation, record_price_change,
};
use crate::store::keys;
use crate::store::steps::Change;
use crate::store::{Key, Store, StoreError};

/// The changes that apply `items` to grant `g` (issued by `g.allocator_shop_id`,
/// whose own grant is `parent`): create allocations (retail = suggested retail, on
/// shelf), change cost prices (history written; refused when locked or below the
/// grantor's cost), remove allocations (ignored when absent; refused while
/// sub-allocated). Every refusal happens here, before anything is written.
pub(crate) async fn plan_packages(
    store: &Store,
    by: u64,
    now: i64,
    g: &SeriesGrant,
    parent: Option<&SeriesGrant>,
    items: &[GrantPackage],
) -> Result<Vec<Change>, CatalogError> {
    if items.len() > MAX_ITEMS {
        return Err(Invalid::new(
            format!("每次最多{MAX_ITEMS}个套餐"),
            format!("at most {MAX_ITEMS} packages per request"),
        )
        .into());
    }
    for (i, it) in items.iter().enumerate() {
        if items.iter().take(i).any(|o| o.package_id == it.package_id) {
            return Err(Invalid::new(
                format!("套餐 {} 重复", it.package_id),
                format!("package {} is listed twice", it.package_id),
            )
            .into());
        }
        if let Some(c) = it.cost_price {
            money("cost_price", c)?;
        }
    }
    // The grantor's shop when it passes down its own grant (`parent`).
    let grantor = parent.and(g.allocator_shop_id.shop());
    let ids: Vec<u64> = items.iter().map(|i| i.package_id).collect();
    let with = |f: &dyn Fn(u64) -> Key| ids.iter().map(|&id| (id, f(id))).collect::<Vec<_>>();
    let packages: HashMap<u64, Package> = read_map(store, &with(&keys::package)).await?;
    let existing: HashMap<u64, PackageAllocation> =
        read_map(store, &with(&|p| keys::allocation(g.shop_id, p))).await?;
    let grantor_allocs: HashMap<u64, PackageAllocation> = match grantor {
        Some(shop) => read_map(store, &with(&|p| keys::allocation(shop, p))).await?,
        None => HashMap::new(),
    };
    let at = rfc3339(now);
    let new_count = items
        .iter()
        .filter(|i| {
            !i.remove
                && existing
                    .get(&i.package_id)
                    .is_none_or(|a| a.deleted_at.is_some())
        })
        .count() as u64;
    let mut next_id = if new_count > 0 {
        store.next_ids("allocation", new_count).await?
    } else {
        0
    };
    let mut changes = Vec::new();
    for it in items {
        let pid = it.package_id;
        let current = existing
            .get(&pid)
            .filter(|a| a.deleted_at.is_none() && a.series_allocation_id == g.id);
        if it.remove {
            let Some(old) = current else { continue };
            if old.cost_locked() {
                return Err(CatalogError::AllocationInUse(pid));
            }
            let mut gone = old.clone();
            gone.touch(by, now);
            gone.deleted_at = Some(at.clone());
            let mut c = allocation_replaced(old, &gone)?;
            if let Some(shop) = grantor {
                count_sub_allocation(&mut c, shop, pid, -1, None);
            }
            changes.push(c);
            continue;
        }
        let p = packages
            .get(&pid)
            .filter(|p| p.deleted_at.is_none())
            .ok_or(CatalogError::NotFound("package"))?;
        if p.package_series_id != g.series_id {
            return Err(CatalogError::PackageNotInSeries(pid));
        }
        // The grantor's own allocation of the package: its cost is the floor.
        let floor = match parent {
            Some(pg) => Some(
                grantor_allocs
                    .get(&pid)
                    .filter(|a| {
                        a.deleted_at.is_none()
                            && a.series_allocation_id == pg.id
                            && a.status == Status::Enabled
                    })
                    .ok_or_else(|| {
                        CatalogError::NoAllocation(format!(
                            "your shop has no allocation of package {pid}"
                        ))
                    })?,
            ),
            None => None,
        };
        let check_floor = |cost: i64| match floor {
            Some(f) if cost < f.cost_price => Err(CatalogError::CostBelowGrantorCost {
                package: pid,
                cost,
                floor: f.cost_price,
            }),
            _ => Ok(()),
        };
        match current {
            Some(old) => {
                let Some(cost) = it.cost_price.filter(|c| *c != old.cost_price) else {
                    continue;
                };
                if old.cost_locked() {
                    return Err(CatalogError::CostLocked(pid));
                }
                check_floor(cost)?;
                let mut new = old.clone();
                new.cost_price = cost;
                new.touch(by, now);
                let mut c = allocation_replaced(old, &new)?;
                record_price_change(
                    &mut c,
                    &PriceChange {
                        allocation_id: old.id,
                        shop_id: old.shop_id,
                        package_id: pid,
                        old_cost_price: old.cost_price,
                        new_cost_price: cost,
                        changed_by: by,
                        changed_at: at.clone(),
                    },
                )?;
                changes.push(c);
            }
            None => {
                let cost = it.cost_price.ok_or_else(|| {
                    Invalid::new(
                        format!("套餐 {pid} 必须填写cost_price"),
                        format!("cost_price is required for package {pid}"),
                    )
                })?;
                check_floor(cost)?;
                let a = PackageAllocation {
                    id: next_id,
                    shop_id: g.shop_id,
                    package_id: pid,
                    series_id: g.series_id,
                    allocator_shop_id: g.allocator_shop_id,
                    series_allocation_id: g.id,
                    cost_price: cost,
                    retail_price: p.suggested_retail_price,
                    shelf_status: ShelfStatus::On,
                    status: Status::Enabled,
                    sub_allocation_count: 0,
                    created_at: at.clone(),
                    updated_at: at.clone(),
                    deleted_at: None,
                    creator: by,
                    updater: by,
                    version: 1,
                };
                next_id += 1;
                let mut c = allocation_created(&a)?;
                if let (Some(shop), Some(f)) = (grantor, floor) {
                    count_sub_allocation(&mut c, shop, pid, 1, Some(f.version));
                }
                changes.push(c);
            }
        }
    }
    Ok(changes)
}

/// Maps the failure of applying package changes.
pub(crate) fn change_failed(e: StoreError) -> CatalogError {
    if let StoreError::ConditionFailed { label, old } = &e {
        match *label {
            "grant" => return CatalogError::GrantInProgress,
            "allocation" => {
                let stored = old
                    .as_deref()
                    .and_then(|i| crate::store::from_item::<PackageAllocation>(i.clone()).ok());
                if let Some(a) = stored.filter(PackageAllocation::cost_locked) {
                    return CatalogError::CostLocked(a.package_id);
                }
            }
            _ => {}
        }
    }
    conflict(e)
}

/// The commission fields of a grant for its series' mode (`(fixed amount, tiers)`),
/// within the grantor's own grant `parent` (the platform has no ceiling).
pub(super) fn commission(
    series: &PackageSeries,
    amount: Option<i64>,
    tiers: Option<&[GrantTier]>,
    parent: Option<&SeriesGrant>,
) -> Result<(i64, Vec<GrantTier>), CatalogError> {
    Ok(match series.commission_type {
        CommissionType::Fixed => {
            if tiers.is_some_and(|t| !t.is_empty()) {
                return Err(Invalid::new(
                    "只有梯度佣金系列才能填写commission_tiers",
                    "commission_tiers are only allowed for a tiered-commission series",
                )
                .into());
            }
            (check_fixed(amount, parent)?, vec![])
        }
        CommissionType::Tiered => (0, check_tiers(series, tiers, parent)?),
    })
}
