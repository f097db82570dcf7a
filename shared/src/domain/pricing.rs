//! Pure rules of the price chain: what a buyer pays for a package and whether they
//! may buy it (domain.md §5.1), the forced-recharge requirement (§5.3.2), the
//! one-time commission tier matcher (§5.5) and the ceiling checks of grants (§5.6).

use super::catalog::{Dimension, Package, PackageSeries, SeriesTier, StatScope};
use super::grants::{GrantTier, PackageAllocation, SeriesGrant, ShelfStatus};
use super::org::Status;
use super::validate::{money, Invalid};

/// Who buys, through which channel. Allocations passed in must be the effective ones
/// (live, enabled, under a grant in effect); `None` means the shop has none.
#[derive(Clone, Copy, Debug)]
pub enum Sale<'a> {
    /// A customer buys for an asset of the platform's stock: suggested retail price.
    PlatformChannel,
    /// A customer buys for an asset owned by a shop: that shop's retail price.
    Client {
        seller: Option<&'a PackageAllocation>,
    },
    /// An agent buys in the admin console: the buyer shop's cost price. Call once for
    /// the asset's shop (the order's total) and once for the operator's shop (what the
    /// operator pays) when an agent buys for a subordinate.
    AgentPurchase {
        buyer: Option<&'a PackageAllocation>,
    },
    /// The platform buys offline for a shop's asset: allocation and shelf checks are
    /// skipped; the basis is the buyer shop's cost price, or the suggested retail
    /// price when the shop holds no allocation.
    PlatformForShop {
        buyer: Option<&'a PackageAllocation>,
    },
}

/// Why a package cannot be sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotSellable {
    #[error("the package is disabled")]
    PackageDisabled,
    #[error("the shop has no allocation of this package")]
    NoAllocation,
    #[error("the package is off the shop's shelf")]
    OffShelf,
    #[error("the shop's retail price is below its cost price")]
    RetailBelowCost,
}

/// The unit price a buyer pays, in fen.
pub fn unit_price(package: &Package, sale: Sale<'_>) -> Result<i64, NotSellable> {
    if package.status != Status::Enabled || package.deleted_at.is_some() {
        return Err(NotSellable::PackageDisabled);
    }
    let shop_allocation = |a: Option<&PackageAllocation>| {
        let a = a
            .filter(|a| a.status == Status::Enabled)
            .ok_or(NotSellable::NoAllocation)?;
        if a.shelf_status != ShelfStatus::On {
            return Err(NotSellable::OffShelf);
        }
        if a.retail_price < a.cost_price {
            return Err(NotSellable::RetailBelowCost);
        }
        Ok(a.clone())
    };
    match sale {
        Sale::PlatformChannel => Ok(package.suggested_retail_price),
        Sale::Client { seller } => shop_allocation(seller).map(|a| a.retail_price),
        Sale::AgentPurchase { buyer } => shop_allocation(buyer).map(|a| a.cost_price),
        Sale::PlatformForShop { buyer } => {
            Ok(buyer.map_or(package.suggested_retail_price, |a| a.cost_price))
        }
    }
}

/// Where an asset stands towards its series' one-time commission trigger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RechargeProgress {
    /// The asset (this generation) has completed a first recharge.
    pub first_recharge_done: bool,
    /// Sum of its recharges, in fen.
    pub accumulated: i64,
}

/// Whose rule requires a forced recharge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForceBy {
    Platform,
    Agent,
}

/// Answer of [`force_recharge_requirement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForceRecharge {
    pub need: bool,
    /// Amount to recharge (fen); 0 when not needed.
    pub amount: i64,
    pub by: Option<ForceBy>,
}

impl ForceRecharge {
    const NONE: ForceRecharge = ForceRecharge {
        need: false,
        amount: 0,
        by: None,
    };
}

/// The forced-recharge requirement of §5.3.2 (`checkForceRechargeRequirement`) for an
/// asset whose package belongs to `series`; `seller_grant` is the selling shop's grant
/// of the series (the asset's shop), `None` for platform stock or when missing.
///
/// 1. Trigger `first_recharge`: the platform rule applies; agents are ignored.
/// 2. Trigger `accumulated_recharge` with the platform switch on: platform rule.
/// 3. Otherwise the seller's grant, when it enables forced recharge.
/// 4. Else nothing is required.
///
/// A rule requires the recharge only until the trigger is reached (first recharge
/// done, or accumulated recharges at the threshold): after that a forced recharge
/// could no longer fire the commission it exists for. An amount of 0 means the
/// series threshold.
pub fn force_recharge_requirement(
    series: &PackageSeries,
    seller_grant: Option<&SeriesGrant>,
    progress: RechargeProgress,
) -> ForceRecharge {
    use super::catalog::Trigger;
    let threshold = series.one_time_commission_threshold;
    let reached = match series.one_time_commission_trigger {
        Trigger::FirstRecharge => progress.first_recharge_done,
        Trigger::AccumulatedRecharge => progress.accumulated >= threshold,
    };
    let amount = |a: i64| if a > 0 { a } else { threshold };
    let by = if series.force_recharge_locked() {
        Some((ForceBy::Platform, amount(series.force_recharge_amount)))
    } else {
        seller_grant
            .filter(|g| g.in_effect() && g.enable_force_recharge)
            .map(|g| (ForceBy::Agent, amount(g.force_recharge_amount)))
    };
    match by {
        Some((by, amount)) if !reached && amount > 0 => ForceRecharge {
            need: true,
            amount,
            by: Some(by),
        },
        _ => ForceRecharge::NONE,
    }
}

/// The forced-recharge values a grant response shows (§5.6 "Read").
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EffectiveForceRecharge {
    pub force_recharge_locked: bool,
    pub force_recharge_enabled: bool,
    pub force_recharge_amount: i64,
}

/// Effective forced recharge of a grant: the platform's when locked, else the grant's.
pub fn effective_force_recharge(
    series: &PackageSeries,
    grant: &SeriesGrant,
) -> EffectiveForceRecharge {
    let threshold = series.one_time_commission_threshold;
    let amount = |a: i64| if a > 0 { a } else { threshold };
    if series.force_recharge_locked() {
        EffectiveForceRecharge {
            force_recharge_locked: true,
            force_recharge_enabled: true,
            force_recharge_amount: amount(series.force_recharge_amount),
        }
    } else {
        EffectiveForceRecharge {
            force_recharge_locked: false,
            force_recharge_enabled: grant.enable_force_recharge,
            force_recharge_amount: if grant.enable_force_recharge {
                amount(grant.force_recharge_amount)
            } else {
                0
            },
        }
    }
}

/// A shop's one-time commission amount from its sales statistics
/// (`matchOneTimeCommissionTier`). `stat` answers a statistic per dimension and scope.
///
/// Among the series tiers whose condition `stat <op> threshold` holds, the one whose
/// threshold is nearest to the statistic wins (ties go to the higher threshold): for
/// `>=` tiers that is the highest tier reached, for `<=` tiers the tightest bound.
/// The amount is the grant's entry at that threshold; no tier holding gives 0. A grant
/// without tiers (historical data) falls back to its fixed amount.
pub fn match_tier(
    series_tiers: &[SeriesTier],
    grant: &SeriesGrant,
    stat: impl Fn(Dimension, StatScope) -> i64,
) -> i64 {
    if grant.commission_tiers.is_empty() {
        return grant.one_time_commission_amount;
    }
    series_tiers
        .iter()
        .filter_map(|t| {
            let s = stat(t.dimension, t.stat_scope);
            t.operator
                .holds(s, t.threshold)
                .then(|| ((s - t.threshold).unsigned_abs(), t.threshold))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
        .map_or(0, |(_, threshold)| grant.amount_at(threshold))
}

/// A refused commission configuration of a grant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantRule {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    TierMismatch(String),
    #[error("{0}")]
    CeilingExceeded(String),
}

/// Checks a fixed-mode amount against the grantor's ceiling (`None`: the platform
/// grants without a ceiling, decision C5).
pub fn check_fixed(amount: Option<i64>, ceiling: Option<&SeriesGrant>) -> Result<i64, GrantRule> {
    let amount = amount.ok_or_else(|| {
        Invalid::new(
            "固定佣金系列必须填写one_time_commission_amount",
            "one_time_commission_amount is required for a fixed-commission series",
        )
    })?;
    money("one_time_commission_amount", amount)?;
    if let Some(limit) = ceiling.map(|g| g.one_time_commission_amount) {
        if amount > limit {
            return Err(GrantRule::CeilingExceeded(format!(
                "one_time_commission_amount {amount} exceeds your own amount {limit}"
            )));
        }
    }
    Ok(amount)
}

/// Checks tiered amounts: exactly the series' thresholds (same count, each once),
/// every amount a valid sum within the grantor's amount at the same threshold.
/// Returns the tiers in the series' order.
pub fn check_tiers(
    series: &PackageSeries,
    tiers: Option<&[GrantTier]>,
    ceiling: Option<&SeriesGrant>,
) -> Result<Vec<GrantTier>, GrantRule> {
    let tiers = tiers.ok_or_else(|| {
        Invalid::new(
            "梯度佣金系列必须填写commission_tiers",
            "commission_tiers is required for a tiered-commission series",
        )
    })?;
    let expected = series.thresholds();
    let mut given: Vec<i64> = tiers.iter().map(|t| t.threshold).collect();
    given.sort_unstable();
    let mut want = expected.clone();
    want.sort_unstable();
    if given != want {
        return Err(GrantRule::TierMismatch(format!(
            "commission_tiers must have exactly the series thresholds {want:?}, got {given:?}"
        )));
    }
    let mut out = tiers.to_vec();
    out.sort_by_key(|t| expected.iter().position(|&x| x == t.threshold));
    for t in &out {
        money("commission_tiers.amount", t.amount)?;
        if let Some(g) = ceiling {
            let limit = g.amount_at(t.threshold);
            if t.amount > limit {
                return Err(GrantRule::CeilingExceeded(format!(
                    "amount {} at threshold {} exceeds your own amount {limit}",
                    t.amount, t.threshold
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
