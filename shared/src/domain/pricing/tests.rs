//! Unit tests of the price-chain rules (split from `pricing.rs` to keep it short).

use super::*;
use crate::domain::catalog::{
    virtual_ratio, CalendarType, Operator, PackageType, ResetCycle, Trigger,
};
use crate::domain::fixtures::{grant, series, tier};
use crate::domain::grants::{GrantPhase, Grantor};

fn package(suggested: i64) -> Package {
    Package {
        id: 1,
        package_code: "P".into(),
        package_name: "P".into(),
        package_series_id: 1,
        package_type: PackageType::Formal,
        real_data_mb: 1024,
        virtual_data_mb: 0,
        enable_virtual_data: false,
        virtual_ratio: virtual_ratio(1024, 0, false),
        calendar_type: CalendarType::NaturalMonth,
        duration_months: 1,
        duration_days: 0,
        data_reset_cycle: ResetCycle::Monthly,
        enable_realname_activation: false,
        has_independent_expiry: false,
        suggested_retail_price: suggested,
        cost_price: 50,
        status: Status::Enabled,
        allocation_count: 0,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 1,
        updater: 1,
        version: 1,
    }
}

fn alloc(shop: u64, allocator: u64, cost: i64, retail: i64) -> PackageAllocation {
    PackageAllocation {
        id: shop,
        shop_id: shop,
        package_id: 1,
        series_id: 1,
        allocator_shop_id: Grantor::from(allocator),
        series_allocation_id: shop,
        cost_price: cost,
        retail_price: retail,
        shelf_status: ShelfStatus::On,
        status: Status::Enabled,
        sub_allocation_count: 0,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 1,
        updater: 1,
        version: 1,
    }
}

/// Platform → L1 (cost 80), L1 → L2 (cost 100), L2 retail 120; suggested 150.
#[test]
fn three_level_chain_prices() {
    let p = package(150);
    let l1 = alloc(1, 0, 80, 150);
    let l2 = alloc(2, 1, 100, 120);
    // A customer of L2 pays L2's retail price; of the platform, the suggested one.
    assert_eq!(unit_price(&p, Sale::Client { seller: Some(&l2) }), Ok(120));
    assert_eq!(unit_price(&p, Sale::Client { seller: Some(&l1) }), Ok(150));
    assert_eq!(unit_price(&p, Sale::PlatformChannel), Ok(150));
    // L2 buying for its own card pays its cost; L1 buying for L2's card: the
    // order's total is L2's cost, L1 pays its own cost (keeps the difference).
    assert_eq!(
        unit_price(&p, Sale::AgentPurchase { buyer: Some(&l2) }),
        Ok(100)
    );
    assert_eq!(
        unit_price(&p, Sale::AgentPurchase { buyer: Some(&l1) }),
        Ok(80)
    );
    // The platform buying offline for L2's card: L2's cost is the basis.
    assert_eq!(
        unit_price(&p, Sale::PlatformForShop { buyer: Some(&l2) }),
        Ok(100)
    );
    assert_eq!(
        unit_price(&p, Sale::PlatformForShop { buyer: None }),
        Ok(150)
    );
}

#[test]
fn purchase_refusals() {
    let mut p = package(150);
    let mut a = alloc(2, 1, 100, 120);
    assert_eq!(
        unit_price(&p, Sale::Client { seller: None }),
        Err(NotSellable::NoAllocation)
    );
    assert_eq!(
        unit_price(&p, Sale::AgentPurchase { buyer: None }),
        Err(NotSellable::NoAllocation)
    );
    a.shelf_status = ShelfStatus::Off;
    assert_eq!(
        unit_price(&p, Sale::Client { seller: Some(&a) }),
        Err(NotSellable::OffShelf)
    );
    assert_eq!(
        unit_price(&p, Sale::AgentPurchase { buyer: Some(&a) }),
        Err(NotSellable::OffShelf)
    );
    // The platform skips the shelf and allocation checks.
    assert_eq!(
        unit_price(&p, Sale::PlatformForShop { buyer: Some(&a) }),
        Ok(100)
    );
    a.shelf_status = ShelfStatus::On;
    a.retail_price = 99;
    assert_eq!(
        unit_price(&p, Sale::Client { seller: Some(&a) }),
        Err(NotSellable::RetailBelowCost)
    );
    a.retail_price = 100;
    assert_eq!(unit_price(&p, Sale::Client { seller: Some(&a) }), Ok(100));
    a.status = Status::Disabled;
    assert_eq!(
        unit_price(&p, Sale::Client { seller: Some(&a) }),
        Err(NotSellable::NoAllocation)
    );
    // A disabled or deleted package sells nowhere, not even to the platform.
    p.status = Status::Disabled;
    for sale in [
        Sale::PlatformChannel,
        Sale::PlatformForShop { buyer: None },
        Sale::Client { seller: Some(&a) },
    ] {
        assert_eq!(unit_price(&p, sale), Err(NotSellable::PackageDisabled));
    }
    p.status = Status::Enabled;
    p.deleted_at = Some("x".into());
    assert_eq!(
        unit_price(&p, Sale::PlatformChannel),
        Err(NotSellable::PackageDisabled)
    );
}

#[test]
fn forced_recharge_cases() {
    let fresh = RechargeProgress::default();
    let agent = grant(0, &[], true, 5_000);
    let agent_threshold = grant(0, &[], true, 0);
    let quiet = grant(0, &[], false, 7_000);
    let need = |amount, by| ForceRecharge {
        need: true,
        amount,
        by: Some(by),
    };
    let cases: Vec<(
        &str,
        PackageSeries,
        Option<&SeriesGrant>,
        RechargeProgress,
        ForceRecharge,
    )> = vec![
        // 1: first_recharge locks: platform amount (0 → threshold), agent ignored.
        (
            "first, no grant",
            series(Trigger::FirstRecharge, false, 0),
            None,
            fresh,
            need(10_000, ForceBy::Platform),
        ),
        (
            "first, agent ignored",
            series(Trigger::FirstRecharge, false, 3_000),
            Some(&agent),
            fresh,
            need(3_000, ForceBy::Platform),
        ),
        (
            "first, done",
            series(Trigger::FirstRecharge, false, 0),
            Some(&agent),
            RechargeProgress {
                first_recharge_done: true,
                accumulated: 100,
            },
            ForceRecharge::NONE,
        ),
        // 2: accumulated with the platform switch on: platform, agent ignored.
        (
            "acc, platform on",
            series(Trigger::AccumulatedRecharge, true, 2_000),
            Some(&agent),
            fresh,
            need(2_000, ForceBy::Platform),
        ),
        (
            "acc, platform on, reached",
            series(Trigger::AccumulatedRecharge, true, 2_000),
            Some(&agent),
            RechargeProgress {
                first_recharge_done: true,
                accumulated: 10_000,
            },
            ForceRecharge::NONE,
        ),
        // 3: accumulated, platform off: the seller's grant decides.
        (
            "acc, agent on",
            series(Trigger::AccumulatedRecharge, false, 0),
            Some(&agent),
            fresh,
            need(5_000, ForceBy::Agent),
        ),
        (
            "acc, agent on, amount 0",
            series(Trigger::AccumulatedRecharge, false, 0),
            Some(&agent_threshold),
            RechargeProgress {
                first_recharge_done: true,
                accumulated: 9_999,
            },
            need(10_000, ForceBy::Agent),
        ),
        // 4: nothing applies / no grant: degrade silently.
        (
            "acc, agent off",
            series(Trigger::AccumulatedRecharge, false, 0),
            Some(&quiet),
            fresh,
            ForceRecharge::NONE,
        ),
        (
            "acc, no grant",
            series(Trigger::AccumulatedRecharge, false, 0),
            None,
            fresh,
            ForceRecharge::NONE,
        ),
    ];
    for (name, s, g, progress, want) in cases {
        assert_eq!(force_recharge_requirement(&s, g, progress), want, "{name}");
    }
    // A grant not in effect (being deleted) is ignored.
    let mut deleting = agent.clone();
    deleting.phase = GrantPhase::Deleting;
    assert_eq!(
        force_recharge_requirement(
            &series(Trigger::AccumulatedRecharge, false, 0),
            Some(&deleting),
            fresh
        ),
        ForceRecharge::NONE
    );
}

#[test]
fn effective_forced_recharge_in_responses() {
    let agent = grant(0, &[], true, 0);
    let locked = effective_force_recharge(&series(Trigger::FirstRecharge, false, 0), &agent);
    assert_eq!(
        (
            locked.force_recharge_locked,
            locked.force_recharge_enabled,
            locked.force_recharge_amount
        ),
        (true, true, 10_000)
    );
    let own = effective_force_recharge(&series(Trigger::AccumulatedRecharge, false, 0), &agent);
    assert_eq!(
        (
            own.force_recharge_locked,
            own.force_recharge_enabled,
            own.force_recharge_amount
        ),
        (false, true, 10_000)
    );
    let off = effective_force_recharge(
        &series(Trigger::AccumulatedRecharge, false, 0),
        &grant(0, &[], false, 0),
    );
    assert_eq!(
        (off.force_recharge_enabled, off.force_recharge_amount),
        (false, 0)
    );
}

#[test]
fn tier_matching_table() {
    let s = series(Trigger::AccumulatedRecharge, false, 0);
    let g = grant(999, &[(10, 100), (50, 300), (100, 0)], false, 0);
    // (sales count, expected amount)
    for (stat, want) in [
        (0, 0),
        (9, 0),
        (10, 100),
        (49, 100),
        (50, 300),
        (100, 300),
        (101, 0),
    ] {
        assert_eq!(match_tier(&s.tiers, &g, |_, _| stat), want, "stat {stat}");
    }
    // Empty grant tiers fall back to the fixed amount.
    assert_eq!(
        match_tier(&s.tiers, &grant(999, &[], false, 0), |_, _| 0),
        999
    );
    // `<` / `<=` tiers: the tightest bound that holds wins.
    let below = [
        tier(Operator::Lt, 10, 0),
        tier(Operator::Lte, 50, 0),
        tier(Operator::Gt, 50, 0),
    ];
    let g = grant(0, &[(10, 7), (50, 5), (100, 1)], false, 0);
    let mut below_series = s.clone();
    below_series.tiers = below.to_vec();
    below_series.tiers[2].threshold = 100;
    for (stat, want) in [(3, 7), (10, 5), (50, 5), (51, 0), (101, 1)] {
        assert_eq!(
            match_tier(&below_series.tiers, &g, |_, _| stat),
            want,
            "stat {stat}"
        );
    }
    // Each tier reads its own dimension and scope.
    let mut mixed = s.clone();
    mixed.tiers[1].dimension = Dimension::SalesAmount;
    mixed.tiers[1].stat_scope = StatScope::SelfAndSubordinates;
    let g = grant(0, &[(10, 100), (50, 300), (100, 500)], false, 0);
    let stat = |d: Dimension, sc: StatScope| match (d, sc) {
        (Dimension::SalesAmount, StatScope::SelfAndSubordinates) => 60,
        _ => 20,
    };
    assert_eq!(match_tier(&mixed.tiers, &g, stat), 300);
}

#[test]
fn ceilings_and_tier_shapes() {
    let s = series(Trigger::AccumulatedRecharge, false, 0);
    let t = |v: &[(i64, i64)]| -> Vec<GrantTier> {
        v.iter()
            .map(|&(threshold, amount)| GrantTier { threshold, amount })
            .collect()
    };
    let parent = grant(0, &[(10, 100), (50, 300), (100, 500)], false, 0);
    // Exactly the thresholds, any order, amounts may be 0; returned in series order.
    assert_eq!(
        check_tiers(
            &s,
            Some(&t(&[(100, 0), (10, 100), (50, 300)])),
            Some(&parent)
        )
        .unwrap(),
        t(&[(10, 100), (50, 300), (100, 0)])
    );
    for bad in [
        t(&[(10, 1), (50, 1)]),
        t(&[(10, 1), (50, 1), (100, 1), (200, 1)]),
        t(&[(10, 1), (50, 1), (99, 1)]),
        t(&[(10, 1), (10, 1), (50, 1)]),
        vec![],
    ] {
        assert!(
            matches!(
                check_tiers(&s, Some(&bad), None),
                Err(GrantRule::TierMismatch(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        check_tiers(&s, Some(&t(&[(10, 101), (50, 1), (100, 1)])), Some(&parent)),
        Err(GrantRule::CeilingExceeded(_))
    ));
    // The platform has no ceiling (decision C5).
    assert!(check_tiers(&s, Some(&t(&[(10, 9_999), (50, 1), (100, 1)])), None).is_ok());
    assert!(matches!(
        check_tiers(&s, Some(&t(&[(10, -1), (50, 1), (100, 1)])), None),
        Err(GrantRule::Invalid(_))
    ));
    assert!(matches!(
        check_tiers(&s, None, None),
        Err(GrantRule::Invalid(_))
    ));
    // Fixed mode.
    let fixed_parent = grant(500, &[], false, 0);
    assert_eq!(check_fixed(Some(500), Some(&fixed_parent)), Ok(500));
    assert!(matches!(
        check_fixed(Some(501), Some(&fixed_parent)),
        Err(GrantRule::CeilingExceeded(_))
    ));
    assert_eq!(check_fixed(Some(10_000_000), None), Ok(10_000_000));
    assert!(matches!(
        check_fixed(Some(-1), None),
        Err(GrantRule::Invalid(_))
    ));
    assert!(matches!(
        check_fixed(None, None),
        Err(GrantRule::Invalid(_))
    ));
}
