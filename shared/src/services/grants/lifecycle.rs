//! A grant's life (§5.6): creation in phases (grant `creating`, allocations in
//! chunks, flip to `ready`), changes of its commission and forced-recharge settings,
//! management of its packages, and deletion (flip to `deleting`, then [`retire`]).

use super::plan::{change_failed, commission, plan_packages};
use super::retire::retire;
use super::{
    get_grant, grantor_grant, grantor_of, own_grant, parent_of, CreateGrant, GrantView,
    ManagePackages, UpdateGrant,
};
use crate::clock::rfc3339;
use crate::domain::caller::Caller;
use crate::domain::catalog::CommissionType;
use crate::domain::entities::Shop;
use crate::domain::grants::{GrantPhase, Grantor, SeriesGrant};
use crate::domain::org::Status;
use crate::domain::stamp::Stamped;
use crate::domain::validate::{money, Invalid};
use crate::services::catalog::{conflict, live_series, CatalogError};
use crate::store::catalog::{grant_item, grant_phase_guard};
use crate::store::keys;
use crate::store::{Store, StoreError};

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
        return Err(Invalid::new("该套餐系列已停用", "the series is disabled").into());
    }
    let shop: Shop = store
        .live_entity(&keys::shop(req.shop_id))
        .await?
        .filter(|s: &Shop| grantor == Grantor::Platform || caller.sees_shop_owned(Some(&s.path)))
        .ok_or(CatalogError::NotFound("shop"))?;
    if shop.parent_id != grantor.shop() {
        return Err(CatalogError::NotDirectSubordinate(match grantor {
            Grantor::Platform => "the platform grants series to level-1 shops",
            Grantor::Shop(_) => "the target shop must be a direct subordinate",
        }));
    }
    if store.claimed_grant_id(shop.id, series.id).await?.is_some() {
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
        return Err(Invalid::new(
            "只有管理授权套餐时才能使用remove",
            "remove is only allowed when managing a grant's packages",
        )
        .into());
    }
    let at = rfc3339(now);
    let g = SeriesGrant {
        id: store.next_id("grant").await?,
        shop_id: shop.id,
        series_id: series.id,
        allocator_shop_id: grantor,
        allocator_grant_id: parent.as_ref().map(|p| p.id),
        one_time_commission_amount: amount,
        commission_tiers: tiers,
        enable_force_recharge: force,
        force_recharge_amount: force_amount,
        status: Status::Enabled,
        phase: GrantPhase::Creating,
        sub_grant_count: 0,
        package_count: 0,
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
    store
        .open_grant(&g, &series, parent.as_ref())
        .await
        .map_err(|e| match e.failed_label() {
            Some("claim") => CatalogError::DuplicateGrant,
            _ => conflict(e),
        })?;

    // 2. The allocations, in as many transactions as they need; 3. the flip to ready.
    let mut result = store
        .apply_changes(&[grant_phase_guard(g.id, GrantPhase::Creating)], changes)
        .await
        .map_err(change_failed);
    if result.is_ok() {
        result = store.finish_grant(&g).await.map_err(conflict);
    }
    if let Err(e) = result {
        if let Err(r) = retire(store, g.id, now).await {
            tracing::warn!(grant = g.id, error = %r, "rollback of a failed grant left for the sweeper");
        }
        return Err(e);
    }
    get_grant(store, caller, g.id).await
}

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
        let below = store.grants_passed_down(g.shop_id, g.series_id).await?;
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
    // New amounts were checked against the parent as read: it must still be so.
    let checked_against = parent.as_ref().filter(|_| amounts_changed);
    store
        .save_grant(grant_item(&g)?, old.version, checked_against)
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
        .apply_changes(&[grant_phase_guard(g.id, GrantPhase::Ready)], changes)
        .await
        .map_err(change_failed)?;
    get_grant(store, caller, id).await
}

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
    store
        .start_grant_deletion(&g, caller.account_id, &rfc3339(now))
        .await
        .map_err(|e| match &e {
            StoreError::ConditionFailed { old: Some(old), .. }
                if crate::store::from_item::<SeriesGrant>(old.as_ref().clone())
                    .is_ok_and(|stored| stored.sub_grant_count > 0) =>
            {
                CatalogError::GrantHasSubordinates
            }
            _ => conflict(e),
        })?;
    retire(store, id, now).await
}
