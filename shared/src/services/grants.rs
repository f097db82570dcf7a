//! Series grants and the agent price chain (domain.md §5.6, api.md §13 and §15):
//! grants with their package allocations, batch allocation and batch pricing, and the
//! sweeper that settles grants whose creation or deletion was interrupted.
//!
//! A grant and its allocations can exceed one transaction (3 + 2 per package for an
//! agent grantor). A grant is therefore written in phases: the grant item first, as
//! `creating` (it takes no effect and holds the shop+series claim), then its
//! allocations in chunks guarded by that phase, then the flip to `ready`. Deletion
//! flips a ready grant to `deleting` (from that instant nothing of it takes effect),
//! removes its allocations in chunks and finally the grant. A failure or a crash in
//! between leaves a grant that is not `ready`; [`retire`] (run by the failing request
//! and by the sweeper) removes what was written, so every grant ends all or nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::catalog::{conflict, grant_in_effect, live_series, CatalogError};
use crate::clock::rfc3339;
use crate::domain::caller::{Caller, NotAllowed};
use crate::domain::catalog::{
    CommissionType, Dimension, Operator, Package, PackageSeries, StatScope,
};
use crate::domain::entities::Shop;
use crate::domain::grants::{
    GrantPhase, GrantTier, PackageAllocation, PriceChange, SeriesGrant, ShelfStatus, PLATFORM,
};
use crate::domain::org::{Status, UserType};
use crate::domain::pricing::{
    check_fixed, check_tiers, effective_force_recharge, EffectiveForceRecharge,
};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{money, Invalid, MAX_MONEY};
use crate::paging::{PageQuery, Paged};
use crate::store::catalog::{
    allocation_free, allocation_item, claim_item, grant_item, grantor_prefix,
    grantor_series_prefix, price_change_item, unsettled_sort_key, UNSETTLED_GRANTS,
};
use crate::store::keys::{self, gsi1};
use crate::store::steps::{tx_of, Change, Op};
use crate::store::tx::{Cond, Upd};
use crate::store::{n, s, Key, Store, StoreError};

/// A grant stuck in `creating` or `deleting` longer than this is settled by the sweeper.
pub const STALE_AFTER_SECS: i64 = 60;
/// Most package items in one request.
pub const MAX_ITEMS: usize = 1000;
/// Most shops in one batch allocation.
pub const MAX_BATCH_SHOPS: usize = 50;

/// One package of a grant request.
#[derive(Clone, Debug, Deserialize)]
pub struct GrantPackage {
    pub package_id: u64,
    pub cost_price: Option<i64>,
    /// `PUT /:id/packages` only: remove the allocation (ignored when absent).
    #[serde(default)]
    pub remove: bool,
}

/// `POST /api/admin/shop-series-grants` body.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Default, Deserialize)]
pub struct UpdateGrant {
    pub one_time_commission_amount: Option<i64>,
    pub commission_tiers: Option<Vec<GrantTier>>,
    pub enable_force_recharge: Option<bool>,
    pub force_recharge_amount: Option<i64>,
    pub status: Option<Status>,
    pub version: Option<i64>,
}

/// `PUT /api/admin/shop-series-grants/:id/packages` body.
#[derive(Debug, Deserialize)]
pub struct ManagePackages {
    pub packages: Vec<GrantPackage>,
}

/// List filters of `GET /api/admin/shop-series-grants`.
#[derive(Debug, Default, Deserialize)]
pub struct GrantFilter {
    pub shop_id: Option<u64>,
    pub series_id: Option<u64>,
    pub allocator_shop_id: Option<u64>,
    pub status: Option<i64>,
}

/// A tier of a grant as returned: the grantee's amount merged with the series tier.
#[derive(Debug, Serialize)]
pub struct TierView {
    pub operator: Operator,
    pub threshold: i64,
    pub amount: i64,
    pub dimension: Dimension,
    pub stat_scope: StatScope,
}

/// A package of a grant as returned.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
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
    pub allocator_shop_id: u64,
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

/// The caller's grantor id: the platform (0) or the agent's shop.
fn grantor_of(caller: &Caller) -> Result<u64, CatalogError> {
    match (caller.user_type, caller.shop_id) {
        (t, _) if t.is_platform() => Ok(PLATFORM),
        (UserType::Agent, Some(shop)) => Ok(shop),
        (t, _) => Err(NotAllowed(t).into()),
    }
}

/// The grant an existing grant was passed down from (its grantor's own grant), read
/// by id; `None` for platform grants. It must still be in effect.
async fn parent_of(store: &Store, g: &SeriesGrant) -> Result<Option<SeriesGrant>, CatalogError> {
    if g.allocator_grant_id == 0 {
        return Ok(None);
    }
    store
        .entity::<SeriesGrant>(&keys::grant(g.allocator_grant_id))
        .await?
        .filter(SeriesGrant::in_effect)
        .map(Some)
        .ok_or(CatalogError::GrantorLacksGrant)
}

/// The grantor's own grant of `series` (agents must hold one in effect).
async fn grantor_grant(
    store: &Store,
    grantor: u64,
    series: u64,
) -> Result<Option<SeriesGrant>, CatalogError> {
    if grantor == PLATFORM {
        return Ok(None);
    }
    grant_in_effect(store, grantor, series)
        .await?
        .map(Some)
        .ok_or(CatalogError::GrantorLacksGrant)
}

// ---------------------------------------------------------------- package changes

/// Reads items by key into a map (one batch read per 100 keys).
async fn read_map<T: serde::de::DeserializeOwned>(
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

/// The changes that apply `items` to grant `g` (issued by `g.allocator_shop_id`,
/// whose own grant is `parent`): create allocations (retail = suggested retail, on
/// shelf), change cost prices (history written; refused when locked or below the
/// grantor's cost), remove allocations (ignored when absent; refused while
/// sub-allocated). Every refusal happens here, before anything is written.
async fn plan_packages(
    store: &Store,
    by: u64,
    now: i64,
    g: &SeriesGrant,
    parent: Option<&SeriesGrant>,
    items: &[GrantPackage],
) -> Result<Vec<Change>, CatalogError> {
    if items.len() > MAX_ITEMS {
        return Err(Invalid(format!("at most {MAX_ITEMS} packages per request")).into());
    }
    for (i, it) in items.iter().enumerate() {
        if items[..i].iter().any(|o| o.package_id == it.package_id) {
            return Err(Invalid(format!("package {} is listed twice", it.package_id)).into());
        }
        if let Some(c) = it.cost_price {
            money("cost_price", c)?;
        }
    }
    let ids: Vec<u64> = items.iter().map(|i| i.package_id).collect();
    let with = |f: &dyn Fn(u64) -> Key| ids.iter().map(|&id| (id, f(id))).collect::<Vec<_>>();
    let packages: HashMap<u64, Package> = read_map(store, &with(&keys::package)).await?;
    let existing: HashMap<u64, PackageAllocation> =
        read_map(store, &with(&|p| keys::allocation(g.shop_id, p))).await?;
    let grantor_allocs: HashMap<u64, PackageAllocation> = match parent {
        Some(_) => read_map(store, &with(&|p| keys::allocation(g.allocator_shop_id, p))).await?,
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
        let parent_key = keys::allocation(g.allocator_shop_id, pid);
        if it.remove {
            let Some(old) = current else { continue };
            if old.cost_locked() {
                return Err(CatalogError::AllocationInUse(pid));
            }
            let mut gone = old.clone();
            gone.touch(by, now);
            gone.deleted_at = Some(at.clone());
            let mut c = replace(old, &gone, false)?;
            if parent.is_some() {
                c.ops.push(Op::Update(
                    "parent",
                    parent_key.clone(),
                    Upd::counter("sub_allocation_count", -1),
                    None,
                ));
                c.undo.push(Op::Update(
                    "parent",
                    parent_key,
                    Upd::counter("sub_allocation_count", 1),
                    None,
                ));
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
        let floor = match parent {
            Some(pg) => {
                let own = grantor_allocs
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
                    })?;
                Some(own)
            }
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
                let mut c = replace(old, &new, true)?;
                let history = price_change_item(&PriceChange {
                    allocation_id: old.id,
                    shop_id: old.shop_id,
                    package_id: pid,
                    old_cost_price: old.cost_price,
                    new_cost_price: cost,
                    changed_by: by,
                    changed_at: at.clone(),
                })?;
                let history_key = Key::new(
                    crate::store::str_attr(&history, "pk").unwrap_or_default(),
                    crate::store::str_attr(&history, "sk").unwrap_or_default(),
                );
                c.ops
                    .push(Op::Put("history", history, Some(Cond::absent())));
                c.undo.push(Op::Delete("history", history_key, None));
                changes.push(c);
            }
            None => {
                let cost = it
                    .cost_price
                    .ok_or_else(|| Invalid(format!("cost_price is required for package {pid}")))?;
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
                let key = keys::allocation(g.shop_id, pid);
                let mut c = Change {
                    ops: vec![Op::Put(
                        "allocation",
                        allocation_item(&a)?,
                        Some(allocation_free()),
                    )],
                    undo: vec![Op::Delete(
                        "allocation",
                        key,
                        Some(Cond::new("id = :id").value(":id", n(a.id))),
                    )],
                };
                if let Some(f) = floor {
                    let guard = Cond::live().and(Cond::version(f.version));
                    c.ops.push(Op::Update(
                        "parent",
                        parent_key.clone(),
                        Upd::counter("sub_allocation_count", 1),
                        Some(guard),
                    ));
                    c.undo.push(Op::Update(
                        "parent",
                        parent_key,
                        Upd::counter("sub_allocation_count", -1),
                        None,
                    ));
                }
                changes.push(c);
            }
        }
    }
    Ok(changes)
}

/// Replacing allocation `old` by `new` (its touched state), and the inverse: `old`'s
/// content back with a further version, if nobody changed it in between.
fn replace(
    old: &PackageAllocation,
    new: &PackageAllocation,
    live: bool,
) -> Result<Change, CatalogError> {
    let mut back = old.clone();
    back.version = new.version + 1;
    let mut item = allocation_item(new)?;
    if !live {
        item = crate::store::org::soft_deleted(item, new.deleted_at.as_deref().unwrap_or_default());
    }
    Ok(Change {
        ops: vec![Op::Put(
            "allocation",
            item,
            Some(Cond::live().and(Cond::version(old.version))),
        )],
        undo: vec![Op::Put(
            "allocation",
            allocation_item(&back)?,
            Some(Cond::version(new.version)),
        )],
    })
}

/// Maps the failure of applying package changes.
fn change_failed(e: StoreError) -> CatalogError {
    match &e {
        StoreError::ConditionFailed { label: "grant", .. } => CatalogError::GrantInProgress,
        StoreError::ConditionFailed {
            label: "allocation",
            old: Some(old),
        } if crate::store::num_attr(old, "sub_allocation_count").unwrap_or(0) > 0 => {
            let pid = crate::store::num_attr(old, "package_id").unwrap_or(0) as u64;
            CatalogError::CostLocked(pid)
        }
        _ => conflict(e),
    }
}

/// The grant is in `phase` (`:phase`).
fn phase_is(phase: GrantPhase) -> Cond {
    Cond::new("phase = :phase").value(":phase", s(phase.as_str()))
}

/// Moves a grant to `phase` (`:new_phase`), bumping its version.
fn set_phase(phase: GrantPhase, also: &str) -> Upd {
    Upd::new(format!("SET phase = :new_phase{also} ADD version :one"))
        .value(":new_phase", s(phase.as_str()))
        .value(":one", n(1))
}

/// Guard of package changes: the grant must still be live and in `phase`.
fn phase_guard(g: &SeriesGrant, phase: GrantPhase) -> Op {
    Op::Check(
        "grant",
        keys::grant(g.id),
        Cond::live().and(phase_is(phase)),
    )
}

// ---------------------------------------------------------------- create

/// Creates a grant with its package allocations (§5.6 "Create").
pub async fn create_grant(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateGrant,
) -> Result<GrantView, CatalogError> {
    let grantor = grantor_of(caller)?;
    let series = live_series(store, req.series_id).await?;
    let parent = grantor_grant(store, grantor, series.id).await?;
    if series.status != Status::Enabled {
        return Err(Invalid("the series is disabled".into()).into());
    }
    let shop: Shop = store
        .live_entity(&keys::shop(req.shop_id))
        .await?
        .filter(|s: &Shop| grantor == PLATFORM || caller.sees_shop_owned(Some(&s.path)))
        .ok_or(CatalogError::NotFound("shop"))?;
    let expected_parent = (grantor != PLATFORM).then_some(grantor);
    if shop.parent_id != expected_parent {
        return Err(CatalogError::NotDirectSubordinate(if grantor == PLATFORM {
            "the platform grants series to level-1 shops"
        } else {
            "the target shop must be a direct subordinate"
        }));
    }
    if store
        .get(&keys::grant_claim(shop.id, series.id))
        .await?
        .is_some()
    {
        return Err(CatalogError::DuplicateGrant);
    }
    let (amount, tiers) = commission(
        &series,
        req.one_time_commission_amount,
        req.commission_tiers.as_deref(),
        parent.as_ref(),
    )?;
    let (force, force_amount) = if series.force_recharge_locked() {
        (false, 0)
    } else {
        (
            req.enable_force_recharge.unwrap_or(false),
            money(
                "force_recharge_amount",
                req.force_recharge_amount.unwrap_or(0),
            )?,
        )
    };
    if req.packages.iter().any(|p| p.remove) {
        return Err(
            Invalid("remove is only allowed when managing a grant's packages".into()).into(),
        );
    }
    let at = rfc3339(now);
    let g = SeriesGrant {
        id: store.next_id("grant").await?,
        shop_id: shop.id,
        series_id: series.id,
        allocator_shop_id: grantor,
        allocator_grant_id: parent.as_ref().map_or(0, |p| p.id),
        one_time_commission_amount: amount,
        commission_tiers: tiers,
        enable_force_recharge: force,
        force_recharge_amount: force_amount,
        status: Status::Enabled,
        phase: GrantPhase::Creating,
        sub_grant_count: 0,
        created_at: at.clone(),
        updated_at: at,
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let changes = plan_packages(
        store,
        caller.account_id,
        now,
        &g,
        parent.as_ref(),
        &req.packages,
    )
    .await?;

    // 1. The grant, not yet in effect, with its claim and the counters it moves.
    let mut head = vec![
        Op::Put("entity", grant_item(&g)?, Some(Cond::absent())),
        Op::Put("claim", claim_item(&g), Some(Cond::absent())),
        Op::Update(
            "series",
            keys::series(series.id),
            Upd::counter("grant_count", 1),
            Some(Cond::live().and(Cond::version(series.version))),
        ),
    ];
    if let Some(p) = &parent {
        let guard = Cond::live()
            .and(Cond::version(p.version))
            .and(phase_is(GrantPhase::Ready));
        head.push(Op::Update(
            "parent_grant",
            keys::grant(p.id),
            Upd::counter("sub_grant_count", 1),
            Some(guard),
        ));
    }
    store
        .transact(tx_of(head))
        .await
        .map_err(|e| match e.failed_label() {
            Some("claim") => CatalogError::DuplicateGrant,
            _ => conflict(e),
        })?;

    // 2. The allocations, in as many transactions as they need; 3. the flip to ready.
    let mut result = store
        .apply_changes(&[phase_guard(&g, GrantPhase::Creating)], changes)
        .await
        .map_err(change_failed);
    if result.is_ok() {
        let upd = set_phase(GrantPhase::Ready, " REMOVE gsi2pk, gsi2sk");
        let cond = phase_is(GrantPhase::Creating);
        result = store
            .update_if("grant", &keys::grant(g.id), upd, cond)
            .await
            .map_err(conflict);
    }
    if let Err(e) = result {
        if let Err(r) = retire(store, g.id, now).await {
            tracing::warn!(grant = g.id, error = %r, "rollback of a failed grant left for the sweeper");
        }
        return Err(e);
    }
    get_grant(store, caller, g.id).await
}

/// The commission fields of a grant for its series' mode (`(fixed amount, tiers)`).
fn commission(
    series: &PackageSeries,
    amount: Option<i64>,
    tiers: Option<&[GrantTier]>,
    parent: Option<&SeriesGrant>,
) -> Result<(i64, Vec<GrantTier>), CatalogError> {
    Ok(match series.commission_type {
        CommissionType::Fixed => {
            if tiers.is_some_and(|t| !t.is_empty()) {
                return Err(Invalid(
                    "commission_tiers are only allowed for a tiered-commission series".into(),
                )
                .into());
            }
            (check_fixed(amount, parent)?, vec![])
        }
        CommissionType::Tiered => (0, check_tiers(series, tiers, parent)?),
    })
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
    if grantor != PLATFORM && g.allocator_shop_id != grantor {
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
    let mut keys_: Vec<Key> = vec![];
    for g in &grants {
        keys_.push(keys::series(g.series_id));
        keys_.push(keys::shop(g.shop_id));
        if g.allocator_shop_id != PLATFORM {
            keys_.push(keys::shop(g.allocator_shop_id));
        }
    }
    let items = store.get_many(&keys_).await?;
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
            allocator_shop_name: (g.allocator_shop_id != PLATFORM)
                .then(|| name(g.allocator_shop_id))
                .flatten(),
            status: g.status,
            packages: None,
            package_count: None,
            created_at: g.created_at,
            updated_at: g.updated_at,
            version: g.version,
        });
    }
    Ok(out)
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
    let mut view = views(store, vec![g]).await?.remove(0);
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

/// Grants visible to the caller (agents: those they issued), filtered and paged; each
/// item carries `package_count`.
pub async fn list_grants(
    store: &Store,
    caller: &Caller,
    f: &GrantFilter,
    page: PageQuery,
) -> Result<Paged<GrantView>, CatalogError> {
    let grantor = grantor_of(caller)?;
    let prefix = if grantor == PLATFORM {
        f.allocator_shop_id.map(grantor_prefix).unwrap_or_default()
    } else {
        grantor_prefix(grantor)
    };
    let all: Vec<SeriesGrant> = store.list_scope(gsi1::GRANTS, &prefix).await?;
    let mut matching: Vec<SeriesGrant> = all
        .into_iter()
        .filter(|g| g.phase == GrantPhase::Ready)
        .filter(|g| f.shop_id.is_none_or(|v| g.shop_id == v))
        .filter(|g| f.series_id.is_none_or(|v| g.series_id == v))
        .filter(|g| f.allocator_shop_id.is_none_or(|v| g.allocator_shop_id == v))
        .filter(|g| f.status.is_none_or(|v| i64::from(g.status) == v))
        .collect();
    matching.sort_by_key(|g| std::cmp::Reverse(g.id));
    let paged = page.paginate(matching).map_err(Invalid::from)?;
    let mut list = views(store, paged.list.clone()).await?;
    for (v, g) in list.iter_mut().zip(&paged.list) {
        v.package_count = Some(store.grant_allocations(g.shop_id, g.id).await?.len());
    }
    Ok(Paged {
        list,
        total: paged.total,
        page: paged.page,
        page_size: paged.page_size,
    })
}

// ---------------------------------------------------------------- update

/// Changes a grant's commission amounts and forced-recharge settings (§5.6
/// "Update"): amounts stay within the grantor's ceiling and at or above what the
/// grantee already granted further down; forced-recharge changes are ignored while the
/// platform locks it.
pub async fn update_grant(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateGrant,
) -> Result<GrantView, CatalogError> {
    let old = own_grant(store, caller, id).await?;
    if old.phase != GrantPhase::Ready {
        return Err(CatalogError::GrantInProgress);
    }
    if req.version.is_some_and(|v| v != old.version) {
        return Err(CatalogError::VersionConflict);
    }
    let series = live_series(store, old.series_id).await?;
    let parent = parent_of(store, &old).await?;
    let mut g = old.clone();
    let amounts_changed =
        req.one_time_commission_amount.is_some() || req.commission_tiers.is_some();
    if amounts_changed {
        let amount = req
            .one_time_commission_amount
            .or(Some(old.one_time_commission_amount));
        let tiers = req
            .commission_tiers
            .clone()
            .unwrap_or_else(|| old.commission_tiers.clone());
        let (a, t) = commission(&series, amount, Some(&tiers), parent.as_ref())?;
        g.one_time_commission_amount = a;
        g.commission_tiers = t;
        // Subordinate grants must stay within the new amounts.
        let below: Vec<SeriesGrant> = store
            .list_scope(gsi1::GRANTS, &grantor_series_prefix(g.shop_id, g.series_id))
            .await?;
        for child in below.iter().filter(|c| c.deleted_at.is_none()) {
            let ok = match series.commission_type {
                CommissionType::Fixed => {
                    child.one_time_commission_amount <= g.one_time_commission_amount
                }
                CommissionType::Tiered => series
                    .thresholds()
                    .iter()
                    .all(|&t| child.amount_at(t) <= g.amount_at(t)),
            };
            if !ok {
                return Err(CatalogError::CeilingExceeded(format!(
                    "shop {} was already granted more than the new amount; lower its grant first",
                    child.shop_id
                )));
            }
        }
    }
    if !series.force_recharge_locked() {
        if let Some(v) = req.enable_force_recharge {
            g.enable_force_recharge = v;
        }
        if let Some(v) = req.force_recharge_amount {
            g.force_recharge_amount = money("force_recharge_amount", v)?;
        }
    }
    if let Some(s) = req.status {
        g.status = s;
    }
    g.touch(caller.account_id, now);
    store
        .put_if(
            "grant",
            grant_item(&g)?,
            Cond::live().and(Cond::version(old.version)),
        )
        .await
        .map_err(conflict)?;
    get_grant(store, caller, id).await
}

/// Applies package items to a ready grant the caller issued (§5.6 "Manage
/// packages"): all checks first, then one transaction, or several that are undone
/// together if one fails.
pub async fn manage_packages(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: ManagePackages,
) -> Result<GrantView, CatalogError> {
    let g = own_grant(store, caller, id).await?;
    if g.phase != GrantPhase::Ready {
        return Err(CatalogError::GrantInProgress);
    }
    let parent = parent_of(store, &g).await?;
    let changes = plan_packages(
        store,
        caller.account_id,
        now,
        &g,
        parent.as_ref(),
        &req.packages,
    )
    .await?;
    store
        .apply_changes(&[phase_guard(&g, GrantPhase::Ready)], changes)
        .await
        .map_err(change_failed)?;
    get_grant(store, caller, id).await
}

// ---------------------------------------------------------------- delete

/// Deletes a grant the caller issued with all its allocations (§5.6 "Delete"); refused
/// while the grantee issued grants of the series to its subordinates.
pub async fn delete_grant(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), CatalogError> {
    let g = own_grant(store, caller, id).await?;
    match g.phase {
        GrantPhase::Creating => return Err(CatalogError::GrantInProgress),
        GrantPhase::Deleting => return retire(store, id, now).await,
        GrantPhase::Ready => {}
    }
    if g.sub_grant_count > 0 {
        return Err(CatalogError::GrantHasSubordinates);
    }
    let at = rfc3339(now);
    let upd = set_phase(
        GrantPhase::Deleting,
        ", updated_at = :at, updater = :by, gsi2pk = :u, gsi2sk = :usk",
    )
    .value(":at", s(&at))
    .value(":by", n(caller.account_id))
    .value(":u", s(UNSETTLED_GRANTS))
    .value(":usk", s(unsettled_sort_key(&at, id)));
    let cond = Cond::live()
        .and(Cond::version(g.version))
        .and(Cond::new("sub_grant_count = :zero").value(":zero", n(0)));
    store
        .update_if("grant", &keys::grant(id), upd, cond)
        .await
        .map_err(|e| match &e {
            StoreError::ConditionFailed { old: Some(old), .. }
                if crate::store::num_attr(old, "sub_grant_count").unwrap_or(0) > 0 =>
            {
                CatalogError::GrantHasSubordinates
            }
            _ => conflict(e),
        })?;
    retire(store, id, now).await
}

/// Removes a grant that is not ready (being created or deleted) and everything it
/// wrote: its allocations (with their grantor counters) in chunks, then the grant,
/// its claim and its counters. Idempotent, safe to run concurrently with itself and
/// with an interrupted creation (which it first moves to `deleting`, so no more of
/// its chunks can commit).
pub async fn retire(store: &Store, id: u64, now: i64) -> Result<(), CatalogError> {
    let Some(g) = store.entity::<SeriesGrant>(&keys::grant(id)).await? else {
        return Ok(());
    };
    if g.deleted_at.is_some() {
        return Ok(());
    }
    if g.phase == GrantPhase::Ready {
        return Err(CatalogError::VersionConflict);
    }
    let at = rfc3339(now);
    if g.phase == GrantPhase::Creating {
        let upd = set_phase(GrantPhase::Deleting, "");
        let cond = Cond::live().and(phase_is(GrantPhase::Creating));
        if let Err(e) = store.update_if("grant", &keys::grant(id), upd, cond).await {
            return match e {
                StoreError::ConditionFailed { .. } => Box::pin(retire(store, id, now)).await,
                other => Err(other.into()),
            };
        }
    }
    for _round in 0..20 {
        let live = store.grant_allocations(g.shop_id, g.id).await?;
        if live.is_empty() {
            break;
        }
        for chunk in live.chunks(40) {
            let mut ops = vec![];
            for a in chunk {
                let upd = Upd::new("SET deleted_at = :at REMOVE gsi1pk, gsi1sk ADD version :one")
                    .value(":at", s(&at))
                    .value(":one", n(1));
                let cond =
                    Cond::live().and(Cond::new("series_allocation_id = :g").value(":g", n(g.id)));
                ops.push(Op::Update(
                    "allocation",
                    keys::allocation(a.shop_id, a.package_id),
                    upd,
                    Some(cond),
                ));
                if g.allocator_shop_id != PLATFORM {
                    ops.push(Op::Update(
                        "parent",
                        keys::allocation(g.allocator_shop_id, a.package_id),
                        Upd::counter("sub_allocation_count", -1),
                        Some(Cond::new("attribute_exists(pk)")),
                    ));
                }
            }
            match store.transact(tx_of(ops)).await {
                Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !store.grant_allocations(g.shop_id, g.id).await?.is_empty() {
        return Err(CatalogError::VersionConflict);
    }
    let upd =
        Upd::new("SET deleted_at = :at REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk ADD version :one")
            .value(":at", s(&at))
            .value(":one", n(1));
    let cond = Cond::live().and(phase_is(GrantPhase::Deleting));
    let mut ops = vec![
        Op::Update("grant", keys::grant(id), upd, Some(cond)),
        Op::Delete(
            "claim",
            keys::grant_claim(g.shop_id, g.series_id),
            Some(Cond::new("target_id = :g").value(":g", n(id))),
        ),
        Op::Update(
            "series",
            keys::series(g.series_id),
            Upd::counter("grant_count", -1),
            None,
        ),
    ];
    if g.allocator_grant_id != 0 {
        ops.push(Op::Update(
            "parent_grant",
            keys::grant(g.allocator_grant_id),
            Upd::counter("sub_grant_count", -1),
            None,
        ));
    }
    match store.transact(tx_of(ops)).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- batch

/// `POST /api/admin/shop-package-batch-allocations` body: the same packages to one or
/// several shops, at a cost price or at the caller's own cost plus an adjustment.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
pub struct BatchPricing {
    pub shop_id: u64,
    pub package_ids: Vec<u64>,
    pub cost_price: Option<i64>,
    pub price_adjustment: Option<i64>,
}

/// Outcome for one shop and package of a batch.
#[derive(Debug, Serialize)]
pub struct BatchItem {
    pub shop_id: u64,
    pub package_id: u64,
    pub cost_price: i64,
    /// `created`, `updated`, `unchanged` or `skipped` (already allocated).
    pub result: &'static str,
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
        (None, Some(_)) => Err(Invalid("price_adjustment is out of range".into()).into()),
        _ => Err(Invalid("give exactly one of cost_price and price_adjustment".into()).into()),
    }
}

fn apply_price(price: Price, base: i64, pid: u64) -> Result<i64, CatalogError> {
    match price {
        Price::Fixed(c) => Ok(c),
        Price::Adjust(a) => money("cost_price", base + a).map_err(|_| {
            Invalid(format!(
                "the adjusted cost price of package {pid} would be {}",
                base + a
            ))
            .into()
        }),
    }
}

fn check_ids(ids: &[u64], what: &str) -> Result<(), CatalogError> {
    if ids.is_empty() || ids.len() > MAX_ITEMS {
        return Err(Invalid(format!("{what} must list 1-{MAX_ITEMS} ids")).into());
    }
    Ok(())
}

/// The grant in effect of `shop` for `series` issued by `grantor`.
async fn issued_grant(
    store: &Store,
    grantor: u64,
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

/// Plans the changes of one shop's packages grouped by series grant; returns the
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
    let mine = if grantor == PLATFORM {
        HashMap::new()
    } else {
        super::catalog::effective_allocations(store, grantor).await?
    };
    let theirs = store.shop_allocations(shop).await?;
    let mut by_series: HashMap<u64, Vec<GrantPackage>> = HashMap::new();
    let mut report = vec![];
    for &pid in package_ids {
        let p = packages
            .get(&pid)
            .filter(|p| p.deleted_at.is_none())
            .ok_or(CatalogError::NotFound("package"))?;
        let base = if grantor == PLATFORM {
            p.cost_price
        } else {
            mine.get(&pid).map(|a| a.cost_price).ok_or_else(|| {
                CatalogError::NoAllocation(format!("your shop has no allocation of package {pid}"))
            })?
        };
        let existing = theirs.iter().find(|a| a.package_id == pid);
        let (cost, result) = match (create, existing) {
            (true, Some(a)) => (a.cost_price, "skipped"),
            (true, None) => (apply_price(price, base, pid)?, "created"),
            (false, Some(a)) if a.allocator_shop_id == grantor => {
                let cost = apply_price(price, a.cost_price, pid)?;
                (
                    cost,
                    if cost == a.cost_price {
                        "unchanged"
                    } else {
                        "updated"
                    },
                )
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
        if result == "created" || result == "updated" {
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
        guards.push(phase_guard(&g, GrantPhase::Ready));
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
    grantor_of(caller)?;
    let mut shops = req.shop_ids.clone();
    shops.extend(req.shop_id);
    shops.sort_unstable();
    shops.dedup();
    if shops.is_empty() || shops.len() > MAX_BATCH_SHOPS {
        return Err(Invalid(format!(
            "give 1-{MAX_BATCH_SHOPS} shops in shop_id or shop_ids"
        ))
        .into());
    }
    check_ids(&req.package_ids, "package_ids")?;
    let price = price_of(req.cost_price, req.price_adjustment)?;
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
    grantor_of(caller)?;
    check_ids(&req.package_ids, "package_ids")?;
    let price = price_of(req.cost_price, req.price_adjustment)?;
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
