//! Worked examples of the commission maths.

use super::*;
use crate::domain::catalog::{CommissionType, Trigger};
use crate::domain::fixtures::{grant, series};

/// L3 (id 3) sells; L2 (id 2) above it; L1 (id 1) at the top.
fn chain() -> Vec<ChainShop> {
    vec![
        ChainShop {
            shop_id: 3,
            level: 3,
        },
        ChainShop {
            shop_id: 2,
            level: 2,
        },
        ChainShop {
            shop_id: 1,
            level: 1,
        },
    ]
}

/// Costs 80 (L1), 90 (L2), 100 (L3) of package 7.
fn cost(shop: u64, package: u64) -> Option<i64> {
    match (shop, package) {
        (1, 7) => Some(80),
        (2, 7) => Some(90),
        (3, 7) => Some(100),
        _ => None,
    }
}

fn line(quantity: i64, unit: i64) -> Line {
    Line {
        package_id: 7,
        series_id: 1,
        quantity,
        amount: unit * quantity,
    }
}

fn amounts(shares: &[Share]) -> Vec<(u64, i64)> {
    shares.iter().map(|s| (s.shop_id, s.amount)).collect()
}

#[test]
fn client_order_on_a_three_level_chain() {
    // Retail 120: L3 earns 120 − 100, L2 100 − 90, L1 90 − 80.
    let shares = price_difference(Basis::Client, &chain(), &[line(1, 120)], cost).unwrap();
    assert_eq!(amounts(&shares), vec![(3, 20), (2, 10), (1, 10)]);
    assert!(shares
        .iter()
        .all(|s| s.kind == CommissionKind::PriceDifference));
    assert_eq!(shares[0].items[0].amount, 20);
    // Two of them: twice each.
    let shares = price_difference(Basis::Client, &chain(), &[line(2, 120)], cost).unwrap();
    assert_eq!(amounts(&shares), vec![(3, 40), (2, 20), (1, 20)]);
}

#[test]
fn platform_purchase_on_behalf_rewards_the_ancestors_only() {
    // The basis is L3's cost (100): L3 nothing, L2 100 − 90, L1 90 − 80.
    let shares =
        price_difference(Basis::PlatformOnBehalf, &chain(), &[line(1, 100)], cost).unwrap();
    assert_eq!(amounts(&shares), vec![(2, 10), (1, 10)]);
    // A level-1 shop bought for by the platform: nobody earns.
    let top = [ChainShop {
        shop_id: 1,
        level: 1,
    }];
    let none = price_difference(Basis::PlatformOnBehalf, &top, &[line(1, 80)], cost).unwrap();
    assert!(none.is_empty());
}

#[test]
fn differences_never_go_negative_and_missing_costs_fail() {
    // A retail price below cost earns the seller nothing; the chain still earns.
    let shares = price_difference(Basis::Client, &chain(), &[line(1, 95)], cost).unwrap();
    assert_eq!(amounts(&shares), vec![(2, 10), (1, 10)]);
    let inverted = |shop: u64, p: u64| if shop == 2 { Some(70) } else { cost(shop, p) };
    let shares = price_difference(Basis::Client, &chain(), &[line(1, 120)], inverted).unwrap();
    // L2 (70) below L1 (80): L2 earns 100 − 70, L1 nothing.
    assert_eq!(amounts(&shares), vec![(3, 20), (2, 30)]);
    let missing = |shop: u64, p: u64| if shop == 2 { None } else { cost(shop, p) };
    assert_eq!(
        price_difference(Basis::Client, &chain(), &[line(1, 120)], missing),
        Err(CalcFailure::NoAllocation {
            shop: 2,
            package: 7
        })
    );
    assert_eq!(
        price_difference(Basis::Client, &[], &[line(1, 120)], cost),
        Err(CalcFailure::BadChain)
    );
}

#[test]
fn fixed_one_time_is_own_minus_child() {
    let mut s = series(Trigger::AccumulatedRecharge, false, 0);
    s.commission_type = CommissionType::Fixed;
    s.tiers.clear();
    let (g1, g2, g3) = (
        grant(50, &[], false, 0),
        grant(30, &[], false, 0),
        grant(10, &[], false, 0),
    );
    let grants = [Some(&g3), Some(&g2), Some(&g1)];
    let shares = one_time(&s, &chain(), &grants, &[SalesStats::default(); 3]).unwrap();
    assert_eq!(amounts(&shares), vec![(3, 10), (2, 20), (1, 20)]);
    // A child granted more than its parent (grants forbid it; data may not): the
    // parent gets nothing, never less; the one above still earns over the parent.
    let big = grant(60, &[], false, 0);
    let shares = one_time(
        &s,
        &chain(),
        &[Some(&big), Some(&g2), Some(&g1)],
        &[SalesStats::default(); 3],
    )
    .unwrap();
    assert_eq!(amounts(&shares), vec![(3, 60), (1, 20)]);
    assert_eq!(
        one_time(
            &s,
            &chain(),
            &[Some(&g3), None, Some(&g1)],
            &[SalesStats::default(); 3]
        ),
        Err(CalcFailure::NoGrant { shop: 2, series: 1 })
    );
}

#[test]
fn tiered_one_time_follows_each_shops_statistics() {
    // Tiers: own sales ≥ 10, ≥ 50, > 100.
    let s = series(Trigger::AccumulatedRecharge, false, 0);
    let g1 = grant(0, &[(10, 500), (50, 900), (100, 1500)], false, 0);
    let g2 = grant(0, &[(10, 300), (50, 600), (100, 1000)], false, 0);
    let g3 = grant(0, &[(10, 100), (50, 200), (100, 400)], false, 0);
    let grants = [Some(&g3), Some(&g2), Some(&g1)];
    let at = |c3: i64, c2: i64, c1: i64| {
        let st = |c| SalesStats {
            own_count: c,
            ..SalesStats::default()
        };
        one_time(&s, &chain(), &grants, &[st(c3), st(c2), st(c1)]).unwrap()
    };
    // Nobody reached a tier: nothing.
    assert!(at(9, 9, 9).is_empty());
    // L3 at its 10th sale of the month: tier 10 for L3 only; the others own 0.
    assert_eq!(amounts(&at(10, 0, 0)), vec![(3, 100)]);
    // L2 reached tier 50 with its own sales: 600 − L3's 100.
    assert_eq!(amounts(&at(10, 50, 0)), vec![(3, 100), (2, 500)]);
    // Everyone above tier 100 (> 100): 400, 1000 − 400, 1500 − 1000.
    assert_eq!(
        amounts(&at(101, 101, 101)),
        vec![(3, 400), (2, 600), (1, 500)]
    );
}

#[test]
fn triggers() {
    let first = series(Trigger::FirstRecharge, false, 0);
    let acc = series(Trigger::AccumulatedRecharge, false, 0);
    let r = |first_recharge_amount, total_recharged| Recharges {
        first_recharge_amount,
        total_recharged,
    };
    // Threshold 10 000.
    assert!(!trigger_reached(&first, r(0, 0)));
    assert!(!trigger_reached(&first, r(5_000, 20_000)));
    assert!(trigger_reached(&first, r(10_000, 10_000)));
    assert!(!trigger_reached(&acc, r(5_000, 9_999)));
    assert!(trigger_reached(&acc, r(5_000, 10_000)));
    let mut zero = acc.clone();
    zero.one_time_commission_threshold = 0;
    assert!(!trigger_reached(&zero, r(0, 0)), "a recharge is needed");
}

#[test]
fn shares_merge_per_shop_and_kind() {
    let mut all = price_difference(Basis::Client, &chain(), &[line(1, 120)], cost).unwrap();
    let more = price_difference(Basis::Client, &chain(), &[line(1, 130)], cost).unwrap();
    merge(&mut all, more).unwrap();
    assert_eq!(amounts(&all), vec![(3, 50), (2, 20), (1, 20)]);
    assert_eq!(all[0].items.len(), 2);
    let sales = sales_by_series(&[line(2, 120), line(1, 130)]);
    assert_eq!(sales.get(&1), Some(&(3, 370)));
}
