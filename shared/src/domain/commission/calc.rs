//! The commission maths of one order (domain.md §5.5 with its inferred formulas,
//! jobs.md J14 steps 3–4): price differences along the chain and one-time
//! commissions with tier matching. Pure: the job reads the inputs and writes the
//! shares.
//!
//! The chain runs from the selling shop `S` (index 0) up to its level-1 ancestor.
//! - Price difference of an item for a client order: `S` earns `amount − cost(S)·q`
//!   (the amount the customer paid for the item, at `S`'s retail price), each
//!   ancestor `P` earns `cost(child)·q − cost(P)·q`. For a platform purchase on
//!   behalf `S` earns nothing (the basis is its cost) and the ancestors earn as above.
//!   A negative difference (a child priced below its parent) gives nothing.
//! - One-time, per series: each shop's matched amount (fixed, or the tier its
//!   sales statistics reach) minus the matched amount of its child on the chain,
//!   never negative.

use std::collections::BTreeMap;

use super::{CommissionKind, RecordItem, MAX_CHAIN};
use crate::domain::catalog::{CommissionType, Dimension, PackageSeries, StatScope, Trigger};
use crate::domain::grants::SeriesGrant;
use crate::domain::pricing::match_tier;

/// One shop of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainShop {
    pub shop_id: u64,
    pub level: u8,
}

/// Whose sale an order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// A customer bought from the selling shop (`source = client`).
    Client,
    /// The platform bought for the selling shop (offline, nothing collected).
    PlatformOnBehalf,
}

/// One order item as the calculation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub package_id: u64,
    pub series_id: u64,
    pub quantity: i64,
    /// What was paid for the item (fen).
    pub amount: i64,
}

/// One shop's commission of one kind from the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    pub shop_id: u64,
    pub level: u8,
    pub kind: CommissionKind,
    /// Fen, positive.
    pub amount: i64,
    pub items: Vec<RecordItem>,
}

/// Why an order's commission cannot be calculated (configuration is missing; the
/// order is marked `failed` with this reason, not retried).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalcFailure {
    #[error("shop {shop} has no allocation of package {package}")]
    NoAllocation { shop: u64, package: u64 },
    #[error("shop {shop} holds no grant of series {series}")]
    NoGrant { shop: u64, series: u64 },
    #[error("series {0} does not exist")]
    NoSeries(u64),
    #[error("the shop chain is empty or longer than {MAX_CHAIN}")]
    BadChain,
    #[error("the order has no seller shop")]
    NoSeller,
    #[error("the order is not paid")]
    NotPaid,
    #[error("an amount overflows")]
    Overflow,
}

/// Price-difference shares of an order, one per shop that earns something, in chain
/// order. `cost(shop, package)` is the shop's cost price of the package.
pub fn price_difference(
    basis: Basis,
    chain: &[ChainShop],
    lines: &[Line],
    cost: impl Fn(u64, u64) -> Option<i64>,
) -> Result<Vec<Share>, CalcFailure> {
    if chain.is_empty() || chain.len() > MAX_CHAIN {
        return Err(CalcFailure::BadChain);
    }
    let mut shares: Vec<Share> = chain
        .iter()
        .map(|c| Share {
            shop_id: c.shop_id,
            level: c.level,
            kind: CommissionKind::PriceDifference,
            amount: 0,
            items: Vec::new(),
        })
        .collect();
    for line in lines {
        let mut child_total: Option<i64> = None;
        for (i, shop) in chain.iter().enumerate() {
            let own = cost(shop.shop_id, line.package_id).ok_or(CalcFailure::NoAllocation {
                shop: shop.shop_id,
                package: line.package_id,
            })?;
            let own_total = own
                .checked_mul(line.quantity)
                .ok_or(CalcFailure::Overflow)?;
            let earned = match (i, basis, child_total) {
                (0, Basis::Client, _) => line.amount - own_total,
                (0, Basis::PlatformOnBehalf, _) => 0,
                (_, _, Some(child)) => child - own_total,
                (_, _, None) => 0,
            };
            child_total = Some(own_total);
            if let Some(s) = shares.get_mut(i).filter(|_| earned > 0) {
                s.amount = s.amount.checked_add(earned).ok_or(CalcFailure::Overflow)?;
                s.items.push(RecordItem {
                    package_id: line.package_id,
                    series_id: line.series_id,
                    amount: earned,
                });
            }
        }
    }
    Ok(shares.into_iter().filter(|s| s.amount > 0).collect())
}

/// An asset's recharges in its current generation (the asset wallet's
/// first-recharge and accumulated-recharge fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recharges {
    /// Amount of the first recharge (0: none yet).
    pub first_recharge_amount: i64,
    /// Sum of every recharge.
    pub total_recharged: i64,
}

/// Whether the series' one-time trigger holds for an asset with `r`: a recharge
/// happened and the first one (`first_recharge`) or their sum
/// (`accumulated_recharge`) reaches the threshold.
pub fn trigger_reached(series: &PackageSeries, r: Recharges) -> bool {
    let measured = match series.one_time_commission_trigger {
        Trigger::FirstRecharge => r.first_recharge_amount,
        Trigger::AccumulatedRecharge => r.total_recharged,
    };
    measured > 0 && measured >= series.one_time_commission_threshold
}

/// A shop's sales of one series in one month (ShopSeriesCommissionStats), the
/// current order included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SalesStats {
    /// Packages sold on the shop's own assets.
    pub own_count: i64,
    /// Their amount (fen).
    pub own_amount: i64,
    /// Packages sold on the assets of the shop and every shop below it.
    pub tree_count: i64,
    pub tree_amount: i64,
}

impl SalesStats {
    /// The statistic a tier measures.
    pub fn get(self, dimension: Dimension, scope: StatScope) -> i64 {
        match (dimension, scope) {
            (Dimension::SalesCount, StatScope::OwnShop) => self.own_count,
            (Dimension::SalesAmount, StatScope::OwnShop) => self.own_amount,
            (Dimension::SalesCount, StatScope::SelfAndSubordinates) => self.tree_count,
            (Dimension::SalesAmount, StatScope::SelfAndSubordinates) => self.tree_amount,
        }
    }
}

/// A shop's one-time amount for `series` from its `grant`: the fixed amount, or for
/// a tiered series the tier its statistics reach ([`match_tier`]).
pub fn matched_amount(series: &PackageSeries, grant: &SeriesGrant, stats: SalesStats) -> i64 {
    match series.commission_type {
        CommissionType::Fixed => grant.one_time_commission_amount,
        CommissionType::Tiered => match_tier(&series.tiers, grant, |d, s| stats.get(d, s)),
    }
}

/// One-time shares of one series along the chain: `grants[i]` and `stats[i]` belong
/// to `chain[i]`. Each shop gets its matched amount minus its child's, never
/// negative.
pub fn one_time(
    series: &PackageSeries,
    chain: &[ChainShop],
    grants: &[Option<&SeriesGrant>],
    stats: &[SalesStats],
) -> Result<Vec<Share>, CalcFailure> {
    if chain.is_empty() || chain.len() > MAX_CHAIN {
        return Err(CalcFailure::BadChain);
    }
    let mut shares = Vec::new();
    let mut child = 0;
    for (i, shop) in chain.iter().enumerate() {
        let grant = grants
            .get(i)
            .copied()
            .flatten()
            .ok_or(CalcFailure::NoGrant {
                shop: shop.shop_id,
                series: series.id,
            })?;
        let own = matched_amount(series, grant, stats.get(i).copied().unwrap_or_default());
        let effective = own - child;
        child = own;
        if effective > 0 {
            shares.push(Share {
                shop_id: shop.shop_id,
                level: shop.level,
                kind: CommissionKind::OneTime,
                amount: effective,
                items: vec![RecordItem {
                    package_id: 0,
                    series_id: series.id,
                    amount: effective,
                }],
            });
        }
    }
    Ok(shares)
}

/// Adds `more` to `shares` (one share per shop and kind; items appended).
pub fn merge(shares: &mut Vec<Share>, more: Vec<Share>) -> Result<(), CalcFailure> {
    for m in more {
        match shares
            .iter_mut()
            .find(|s| s.shop_id == m.shop_id && s.kind == m.kind)
        {
            Some(s) => {
                s.amount = s
                    .amount
                    .checked_add(m.amount)
                    .ok_or(CalcFailure::Overflow)?;
                s.items.extend(m.items);
            }
            None => shares.push(m),
        }
    }
    Ok(())
}

/// This order's sales per series: `(count, amount)`.
pub fn sales_by_series(lines: &[Line]) -> BTreeMap<u64, (i64, i64)> {
    let mut out: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    for l in lines {
        let e = out.entry(l.series_id).or_default();
        e.0 = e.0.saturating_add(l.quantity);
        e.1 = e.1.saturating_add(l.amount);
    }
    out
}

#[cfg(test)]
mod tests;
