//! Series grants, the agent price chain (domain.md §5.6, api.md §15): grants with
//! their package allocations. Batch allocation and batch pricing are in
//! `services::allocations`; the sweeper that settles interrupted grants in
//! `jobs::grant_sweeper`.
//!
//! A grant and its allocations can exceed one transaction (3 + 2 per package for an
//! agent grantor). A grant is therefore written in phases: the grant item first, as
//! `creating` (it takes no effect and holds the shop+series claim), then its
//! allocations in chunks guarded by that phase (`store::steps`), then the flip to
//! `ready`. Deletion flips a ready grant to `deleting` (from that instant nothing of
//! it takes effect), removes its allocations in chunks and finally the grant. A
//! failure or a crash in between leaves a grant that is not `ready`; [`retire`] (run
//! by the failing request and by the sweeper) removes what was written, so every
//! grant ends all or nothing. The phase writes themselves are repository methods of
//! `store::catalog`.
//!
//! Here: the request and response types and reading grants; `plan` turns package
//! items into checked changes, `lifecycle` creates, updates, manages packages of and
//! deletes grants, `retire` rolls back or settles unsettled ones.

mod lifecycle;
mod plan;
mod retire;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use lifecycle::{create_grant, delete_grant, manage_packages, update_grant};
pub(crate) use plan::{change_failed, plan_packages};
pub use retire::retire;

use super::catalog::{grant_in_effect, CatalogError};
use crate::domain::caller::{Caller, NotAllowed};
use crate::domain::catalog::{
    CommissionType, Dimension, Operator, Package, PackageSeries, StatScope,
};
use crate::domain::grants::{GrantPhase, GrantTier, Grantor, SeriesGrant, ShelfStatus};
use crate::domain::org::{Status, UserType};
use crate::domain::pricing::{effective_force_recharge, EffectiveForceRecharge};
use crate::paging::{CursorPage, PageQuery};
use crate::store::keys;
use crate::store::lists::{issued_grants_source, ready_grants};
use crate::store::tally::{Counted, Tallied, Tally};
use crate::store::{Key, Store, StoreError};

/// A grant stuck in `creating` or `deleting` longer than this is settled by the sweeper.
pub const STALE_AFTER_SECS: i64 = 60;
/// Most package items in one request.
pub const MAX_ITEMS: usize = 1000;

/// One package of a grant request.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct GrantPackage {
    pub package_id: u64,
    pub cost_price: Option<i64>,
    /// `PUT /:id/packages` only: remove the allocation (ignored when absent).
    #[serde(default)]
    pub remove: bool,
}

/// `POST /api/admin/shop-series-grants` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateGrant {
    pub shop_id: u64,
    pub series_id: u64,
    pub one_time_commission_amount: Option<i64>,
    pub commission_tiers: Option<Vec<GrantTier>>,
    pub enable_force_recharge: Option<bool>,
    pub force_recharge_amount: Option<i64>,
    #[serde(default)]
    pub packages: Vec<GrantPackage>,
}

/// `PUT /api/admin/shop-series-grants/:id` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateGrant {
    pub one_time_commission_amount: Option<i64>,
    pub commission_tiers: Option<Vec<GrantTier>>,
    pub enable_force_recharge: Option<bool>,
    pub force_recharge_amount: Option<i64>,
    pub status: Option<Status>,
    pub version: Option<i64>,
}

/// `PUT /api/admin/shop-series-grants/:id/packages` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ManagePackages {
    pub packages: Vec<GrantPackage>,
}

/// List filters of `GET /api/admin/shop-series-grants`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantFilter {
    pub shop_id: Option<u64>,
    pub series_id: Option<u64>,
    /// The grantor's shop id, `0` for the platform.
    pub allocator_shop_id: Option<Grantor>,
    pub status: Option<i64>,
}

/// A tier of a grant as returned: the grantee's amount merged with the series tier.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TierView {
    pub operator: Operator,
    pub threshold: i64,
    pub amount: i64,
    pub dimension: Dimension,
    pub stat_scope: StatScope,
}

/// A package of a grant as returned.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantPackageView {
    pub package_id: u64,
    pub package_name: String,
    pub package_code: String,
    pub cost_price: i64,
    pub shelf_status: ShelfStatus,
    pub status: Status,
    pub cost_price_locked: bool,
}

/// `ShopSeriesGrantResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub id: u64,
    pub shop_id: u64,
    pub shop_name: Option<String>,
    pub series_id: u64,
    pub series_name: String,
    pub series_code: String,
    pub commission_type: CommissionType,
    /// 0 in tiered mode.
    pub one_time_commission_amount: i64,
    /// Empty in fixed mode.
    pub commission_tiers: Vec<TierView>,
    #[serde(flatten)]
    pub force: EffectiveForceRecharge,
    /// Answered as the grantor's shop id, `0` for the platform.
    pub allocator_shop_id: Grantor,
    pub allocator_shop_name: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<GrantPackageView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_count: Option<usize>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// Who the caller grants as: the platform, or the agent's shop.
pub(crate) fn grantor_of(caller: &Caller) -> Result<Grantor, CatalogError> {
    match (caller.user_type, caller.shop_id) {
        (t, _) if t.is_platform() => Ok(Grantor::Platform),
        (UserType::Agent, Some(shop)) => Ok(Grantor::Shop(shop)),
        (t, _) => Err(NotAllowed(t).into()),
    }
}

/// The grant an existing grant was passed down from (its grantor's own grant), read
/// by id; `None` for platform grants. It must still be in effect.
pub(crate) async fn parent_of(
    store: &Store,
    g: &SeriesGrant,
) -> Result<Option<SeriesGrant>, CatalogError> {
    let Some(parent) = g.allocator_grant_id else {
        return Ok(None);
    };
    store
        .entity::<SeriesGrant>(&keys::grant(parent))
        .await?
        .filter(SeriesGrant::in_effect)
        .map(Some)
        .ok_or(CatalogError::GrantorLacksGrant)
}

/// The grantor's own grant of `series` (agents must hold one in effect).
async fn grantor_grant(
    store: &Store,
    grantor: Grantor,
    series: u64,
) -> Result<Option<SeriesGrant>, CatalogError> {
    let Grantor::Shop(shop) = grantor else {
        return Ok(None);
    };
    grant_in_effect(store, shop, series)
        .await?
        .map(Some)
        .ok_or(CatalogError::GrantorLacksGrant)
}

/// Reads items by key into a map (one batch read per 100 keys).
pub(crate) async fn read_map<T: serde::de::DeserializeOwned>(
    store: &Store,
    keys: &[(u64, Key)],
) -> Result<HashMap<u64, T>, StoreError> {
    let all: Vec<Key> = keys.iter().map(|(_, k)| k.clone()).collect();
    let items = store.get_many(&all).await?;
    let mut out = HashMap::new();
    for (id, key) in keys {
        if let Some(item) = items.iter().find(|i| key.matches(i)) {
            out.insert(*id, crate::store::from_item(item.clone())?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- read

/// A live grant the caller may see: the platform sees all, an agent those it issued.
async fn visible_grant(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<SeriesGrant, CatalogError> {
    let grantor = grantor_of(caller)?;
    let g: SeriesGrant = store
        .live_entity(&keys::grant(id))
        .await?
        .ok_or(CatalogError::NotFound("grant"))?;
    if grantor != Grantor::Platform && g.allocator_shop_id != grantor {
        return Err(CatalogError::NotFound("grant"));
    }
    Ok(g)
}

/// A grant the caller issued, for changes: platform staff change platform grants,
/// agents their own; others' grants answer 403 (platform) or 404 (agents).
async fn own_grant(store: &Store, caller: &Caller, id: u64) -> Result<SeriesGrant, CatalogError> {
    let g = visible_grant(store, caller, id).await?;
    if g.allocator_shop_id != grantor_of(caller)? {
        return Err(NotAllowed(caller.user_type).into());
    }
    Ok(g)
}

/// Builds views; reads the series and shops of all grants in one batch.
async fn views(store: &Store, grants: Vec<SeriesGrant>) -> Result<Vec<GrantView>, CatalogError> {
    Ok(views_with(store, grants, None).await?.0)
}

/// [`views`], reading the count `tally` in the same batch.
async fn views_with(
    store: &Store,
    grants: Vec<SeriesGrant>,
    tally: Option<&Tally>,
) -> Result<(Vec<GrantView>, Option<u64>), CatalogError> {
    let mut keys_: Vec<Key> = vec![];
    for g in &grants {
        keys_.push(keys::series(g.series_id));
        keys_.push(keys::shop(g.shop_id));
        if let Grantor::Shop(grantor) = g.allocator_shop_id {
            keys_.push(keys::shop(grantor));
        }
    }
    let (items, total) = store.get_with_tally(&keys_, tally).await?;
    let find = |k: &Key| items.iter().find(|i| k.matches(i)).cloned();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        let series: PackageSeries = find(&keys::series(g.series_id))
            .map(crate::store::from_item)
            .transpose()?
            .ok_or(CatalogError::NotFound("package series"))?;
        let name = |id: u64| -> Option<String> {
            find(&keys::shop(id))
                .and_then(|i| crate::store::str_attr(&i, "shop_name").map(str::to_string))
        };
        let commission_tiers = match series.commission_type {
            CommissionType::Fixed => vec![],
            CommissionType::Tiered => series
                .tiers
                .iter()
                .map(|t| TierView {
                    operator: t.operator,
                    threshold: t.threshold,
                    amount: g.amount_at(t.threshold),
                    dimension: t.dimension,
                    stat_scope: t.stat_scope,
                })
                .collect(),
        };
        out.push(GrantView {
            id: g.id,
            shop_id: g.shop_id,
            shop_name: name(g.shop_id),
            series_id: g.series_id,
            series_name: series.series_name.clone(),
            series_code: series.series_code.clone(),
            commission_type: series.commission_type,
            one_time_commission_amount: match series.commission_type {
                CommissionType::Fixed => g.one_time_commission_amount,
                CommissionType::Tiered => 0,
            },
            commission_tiers,
            force: effective_force_recharge(&series, &g),
            allocator_shop_id: g.allocator_shop_id,
            allocator_shop_name: g.allocator_shop_id.shop().and_then(name),
            status: g.status,
            packages: None,
            package_count: None,
            created_at: g.created_at,
            updated_at: g.updated_at,
            version: g.version,
        });
    }
    Ok((out, total))
}

/// One grant with its packages.
pub async fn get_grant(store: &Store, caller: &Caller, id: u64) -> Result<GrantView, CatalogError> {
    let g = visible_grant(store, caller, id).await?;
    if g.phase != GrantPhase::Ready {
        return Err(CatalogError::NotFound("grant"));
    }
    let allocs = store.grant_allocations(g.shop_id, g.id).await?;
    let pkeys: Vec<(u64, Key)> = allocs
        .iter()
        .map(|a| (a.package_id, keys::package(a.package_id)))
        .collect();
    let packages: HashMap<u64, Package> = read_map(store, &pkeys).await?;
    let mut view = views(store, vec![g])
        .await?
        .pop()
        .ok_or(CatalogError::NotFound("grant"))?;
    let mut list: Vec<GrantPackageView> = allocs
        .iter()
        .map(|a| {
            let p = packages.get(&a.package_id);
            GrantPackageView {
                package_id: a.package_id,
                package_name: p.map(|p| p.package_name.clone()).unwrap_or_default(),
                package_code: p.map(|p| p.package_code.clone()).unwrap_or_default(),
                cost_price: a.cost_price,
                shelf_status: a.shelf_status,
                status: a.status,
                cost_price_locked: a.cost_locked(),
            }
        })
        .collect();
    list.sort_by_key(|p| p.package_id);
    view.package_count = Some(list.len());
    view.packages = Some(list);
    Ok(view)
}

/// One page of the grants visible to the caller (agents: those they issued), in key
/// order (grantor, series, id), each with its `package_count` (kept on the grant, so
/// no allocation is read): one Query (two when filters drop items), then one batch
/// read of the series and shops and, unfiltered, of the grant count.
pub async fn list_grants(
    store: &Store,
    caller: &Caller,
    f: &GrantFilter,
    page: &PageQuery,
) -> Result<CursorPage<GrantView>, CatalogError> {
    let own = grantor_of(caller)?;
    let (cursor, size) = page.parse()?;
    let issued_by = match own {
        Grantor::Platform => f.allocator_shop_id,
        agent if f.allocator_shop_id.is_none_or(|a| a == agent) => Some(agent),
        // An agent asking for another grantor's grants: there are none to see.
        _ => return Ok(CursorPage::empty(size)),
    };
    let filtered = f.shop_id.is_some()
        || f.series_id.is_some()
        || f.allocator_shop_id.is_some()
        || f.status.is_some();
    // With a grantor, the series narrows the key; otherwise it is a filter.
    let series_in_key = issued_by.and(f.series_id);
    let source = issued_grants_source(issued_by, series_in_key);
    let filter = ready_grants()
        .eq_id("shop_id", f.shop_id)
        .eq_id("series_id", f.series_id.filter(|_| series_in_key.is_none()))
        .eq("status", f.status);
    let mut grants = store
        .read_page(&source, filter.cond(), size, cursor, |_: &SeriesGrant| true)
        .await?;
    let scope = match own {
        Grantor::Platform => Tallied::Platform,
        Grantor::Shop(shop) => Tallied::Shop(shop),
    };
    let tally = (!filtered).then(|| Tally::of(scope, Counted::Grants));
    let list = std::mem::take(&mut grants.list);
    let counts: Vec<usize> = list.iter().map(|g| g.package_count as usize).collect();
    let (mut views, total) = views_with(store, list, tally.as_ref()).await?;
    for (v, count) in views.iter_mut().zip(counts) {
        v.package_count = Some(count);
    }
    Ok(grants.with_list(views).with_total(total))
}
