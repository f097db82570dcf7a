//! Batch allocation and batch pricing (api.md §13): the same packages allocated to
//! one or several shops, or their cost prices changed, under the series grants the
//! caller issued to them. Planned with the grant's own package planning (every check
//! before any write) and applied guarded by each grant being `ready`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::catalog::{effective_allocations, grant_in_effect, CatalogError};
use super::grants::{
    change_failed, grantor_of, parent_of, plan_packages, read_map, GrantPackage, MAX_ITEMS,
};
use crate::domain::caller::Caller;
use crate::domain::catalog::Package;
use crate::domain::entities::Shop;
use crate::domain::grants::{GrantPhase, Grantor, SeriesGrant};
use crate::domain::validate::{money, Invalid, MAX_MONEY};
use crate::store::catalog::grant_phase_guard;
use crate::store::keys;
use crate::store::steps::{Change, Op};
use crate::store::{Key, Store};

/// Most shops in one batch allocation.
pub const MAX_BATCH_SHOPS: usize = 50;

/// `POST /api/admin/shop-package-batch-allocations` body: the same packages to one or
/// several shops, at a cost price or at the caller's own cost plus an adjustment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchAllocation {
    pub shop_id: Option<u64>,
    #[serde(default)]
    pub shop_ids: Vec<u64>,
    pub package_ids: Vec<u64>,
    pub cost_price: Option<i64>,
    pub price_adjustment: Option<i64>,
}

/// `POST /api/admin/shop-package-batch-pricing` body: new cost prices of a shop's
/// allocations (cost price only).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchPricing {
    pub shop_id: u64,
    pub package_ids: Vec<u64>,
    pub cost_price: Option<i64>,
    pub price_adjustment: Option<i64>,
}

/// What a batch did with one shop's package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchResult {
    /// Allocated now.
    Created,
    /// Cost price changed.
    Updated,
    /// Cost price already at the requested value.
    Unchanged,
    /// Already allocated: left as it was.
    Skipped,
}

/// Outcome for one shop and package of a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    pub shop_id: u64,
    pub package_id: u64,
    pub cost_price: i64,
    pub result: BatchResult,
}

/// How a batch sets a cost price.
#[derive(Clone, Copy)]
enum Price {
    Fixed(i64),
    Adjust(i64),
}

fn price_of(cost: Option<i64>, adjustment: Option<i64>) -> Result<Price, CatalogError> {
    match (cost, adjustment) {
        (Some(c), None) => Ok(Price::Fixed(money("cost_price", c)?)),
        (None, Some(a)) if a.abs() <= MAX_MONEY => Ok(Price::Adjust(a)),
        (None, Some(_)) => Err(Invalid::new(
            "price_adjustment超出范围",
            "price_adjustment is out of range",
        )
        .into()),
        _ => Err(Invalid::new(
            "cost_price和price_adjustment必须且只能填写一个",
            "give exactly one of cost_price and price_adjustment",
        )
        .into()),
    }
}

fn apply_price(price: Price, base: i64, pid: u64) -> Result<i64, CatalogError> {
    match price {
        Price::Fixed(c) => Ok(c),
        Price::Adjust(a) => money("cost_price", base + a).map_err(|_| {
            Invalid::new(
                format!("套餐 {pid} 调整后的成本价将为 {}", base + a),
                format!(
                    "the adjusted cost price of package {pid} would be {}",
                    base + a
                ),
            )
            .into()
        }),
    }
}

fn check_ids(ids: &[u64], what: &str) -> Result<(), CatalogError> {
    if ids.is_empty() || ids.len() > MAX_ITEMS {
        return Err(Invalid::new(
            format!("{what}须包含1-{MAX_ITEMS}个ID"),
            format!("{what} must list 1-{MAX_ITEMS} ids"),
        )
        .into());
    }
    Ok(())
}

/// The grant in effect of `shop` for `series` issued by `grantor`.
async fn issued_grant(
    store: &Store,
    grantor: Grantor,
    shop: u64,
    series: u64,
) -> Result<SeriesGrant, CatalogError> {
    grant_in_effect(store, shop, series)
        .await?
        .filter(|g| g.allocator_shop_id == grantor)
        .ok_or_else(|| {
            CatalogError::ShopHasNoGrant(format!(
                "shop {shop} holds no grant of series {series} from you"
            ))
        })
}

/// Refuses any target but the caller's direct sub-shops (the platform's: level-1
/// shops) as missing; called for every target before anything of theirs is read.
async fn check_target(store: &Store, grantor: Grantor, shop: u64) -> Result<(), CatalogError> {
    let target: Option<Shop> = store.live_entity(&keys::shop(shop)).await?;
    if target.is_none_or(|s| s.parent_id != grantor.shop()) {
        return Err(CatalogError::NotFound("shop"));
    }
    Ok(())
}

/// Plans the changes of one shop's packages (a checked direct sub-shop of the caller)
/// grouped by series grant; returns the
/// changes, the guards (one per grant) and what each package becomes.
async fn plan_for_shop(
    store: &Store,
    caller: &Caller,
    now: i64,
    shop: u64,
    package_ids: &[u64],
    price: Price,
    create: bool,
) -> Result<(Vec<Change>, Vec<Op>, Vec<BatchItem>), CatalogError> {
    let grantor = grantor_of(caller)?;
    let pkeys: Vec<(u64, Key)> = package_ids.iter().map(|&p| (p, keys::package(p))).collect();
    let packages: HashMap<u64, Package> = read_map(store, &pkeys).await?;
    let mine = match grantor {
        Grantor::Platform => HashMap::new(),
        Grantor::Shop(own) => effective_allocations(store, own).await?,
    };
    let theirs = store.shop_allocations(shop).await?;
    let mut by_series: HashMap<u64, Vec<GrantPackage>> = HashMap::new();
    let mut report = vec![];
    for &pid in package_ids {
        let p = packages
            .get(&pid)
            .filter(|p| p.deleted_at.is_none())
            .ok_or(CatalogError::NotFound("package"))?;
        let base = match grantor {
            Grantor::Platform => p.cost_price,
            Grantor::Shop(_) => mine.get(&pid).map(|a| a.cost_price).ok_or_else(|| {
                CatalogError::NoAllocation(format!("your shop has no allocation of package {pid}"))
            })?,
        };
        // Only allocations the caller made are reported (never a price set by another).
        let existing = theirs
            .iter()
            .find(|a| a.package_id == pid && a.allocator_shop_id == grantor);
        let (cost, result) = match (create, existing) {
            (true, Some(a)) => (a.cost_price, BatchResult::Skipped),
            (true, None) => (apply_price(price, base, pid)?, BatchResult::Created),
            (false, Some(a)) => {
                let cost = apply_price(price, a.cost_price, pid)?;
                let result = if cost == a.cost_price {
                    BatchResult::Unchanged
                } else {
                    BatchResult::Updated
                };
                (cost, result)
            }
            (false, _) => {
                return Err(CatalogError::NoAllocation(format!(
                    "shop {shop} has no allocation of package {pid} from you"
                )))
            }
        };
        report.push(BatchItem {
            shop_id: shop,
            package_id: pid,
            cost_price: cost,
            result,
        });
        if matches!(result, BatchResult::Created | BatchResult::Updated) {
            by_series
                .entry(p.package_series_id)
                .or_default()
                .push(GrantPackage {
                    package_id: pid,
                    cost_price: Some(cost),
                    remove: false,
                });
        }
    }
    let mut changes = vec![];
    let mut guards = vec![];
    let mut series: Vec<_> = by_series.into_iter().collect();
    series.sort_by_key(|(s, _)| *s);
    for (series_id, items) in series {
        let g = issued_grant(store, grantor, shop, series_id).await?;
        let parent = parent_of(store, &g).await?;
        changes.extend(
            plan_packages(store, caller.account_id, now, &g, parent.as_ref(), &items).await?,
        );
        guards.push(grant_phase_guard(g.id, GrantPhase::Ready));
    }
    Ok((changes, guards, report))
}

/// Allocates packages to one or more shops that hold the packages' series grants from
/// the caller; packages a shop already holds are skipped. Each shop's allocations are
/// written all or nothing; every shop is checked before any is written.
pub async fn batch_allocate(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: BatchAllocation,
) -> Result<Vec<BatchItem>, CatalogError> {
    let grantor = grantor_of(caller)?;
    let mut shops = req.shop_ids.clone();
    shops.extend(req.shop_id);
    shops.sort_unstable();
    shops.dedup();
    if shops.is_empty() || shops.len() > MAX_BATCH_SHOPS {
        return Err(Invalid::new(
            format!("shop_id或shop_ids须指定1-{MAX_BATCH_SHOPS}个店铺"),
            format!("give 1-{MAX_BATCH_SHOPS} shops in shop_id or shop_ids"),
        )
        .into());
    }
    check_ids(&req.package_ids, "package_ids")?;
    let price = price_of(req.cost_price, req.price_adjustment)?;
    for &shop in &shops {
        check_target(store, grantor, shop).await?;
    }
    let mut plans = vec![];
    for &shop in &shops {
        plans.push(plan_for_shop(store, caller, now, shop, &req.package_ids, price, true).await?);
    }
    let mut out = vec![];
    for (changes, guards, report) in plans {
        store
            .apply_changes(&guards, changes)
            .await
            .map_err(change_failed)?;
        out.extend(report);
    }
    Ok(out)
}

/// Sets the cost price of packages the caller allocated to a shop (never the retail
/// price); refused as a whole when one of them is locked by sub-allocations.
pub async fn batch_price(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: BatchPricing,
) -> Result<Vec<BatchItem>, CatalogError> {
    let grantor = grantor_of(caller)?;
    check_ids(&req.package_ids, "package_ids")?;
    let price = price_of(req.cost_price, req.price_adjustment)?;
    check_target(store, grantor, req.shop_id).await?;
    let (changes, guards, report) = plan_for_shop(
        store,
        caller,
        now,
        req.shop_id,
        &req.package_ids,
        price,
        false,
    )
    .await?;
    store
        .apply_changes(&guards, changes)
        .await
        .map_err(change_failed)?;
    Ok(report)
}
