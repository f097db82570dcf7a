//! Test fixtures shared by the domain's unit tests: a series, its tiers, a grant.

use super::catalog::{
    CommissionType, Dimension, Operator, PackageSeries, SeriesTier, StatScope, Trigger,
};
use super::grants::{GrantPhase, GrantTier, Grantor, SeriesGrant};
use super::org::Status;

/// A tiered series (tiers >= 10, >= 50, > 100 sales) with trigger `trigger`, a
/// recharge threshold of 10 000 and the platform's forced-recharge settings.
pub fn series(trigger: Trigger, platform_force: bool, force_amount: i64) -> PackageSeries {
    PackageSeries {
        id: 1,
        series_name: "S".into(),
        series_code: "S".into(),
        status: Status::Enabled,
        enable_one_time_commission: true,
        one_time_commission_trigger: trigger,
        one_time_commission_threshold: 10_000,
        commission_type: CommissionType::Tiered,
        commission_amount: 0,
        tiers: vec![
            tier(Operator::Gte, 10, 1_000),
            tier(Operator::Gte, 50, 3_000),
            tier(Operator::Gt, 100, 5_000),
        ],
        enable_force_recharge: platform_force,
        force_recharge_amount: force_amount,
        package_count: 0,
        grant_count: 0,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 1,
        updater: 1,
        version: 1,
    }
}

/// A sales-count tier of the own shop.
pub fn tier(operator: Operator, threshold: i64, amount: i64) -> SeriesTier {
    SeriesTier {
        operator,
        dimension: Dimension::SalesCount,
        stat_scope: StatScope::OwnShop,
        threshold,
        amount,
    }
}

/// A ready grant of series 1 to shop 2.
pub fn grant(fixed: i64, tiers: &[(i64, i64)], force: bool, force_amount: i64) -> SeriesGrant {
    SeriesGrant {
        id: 1,
        shop_id: 2,
        series_id: 1,
        allocator_shop_id: Grantor::Platform,
        allocator_grant_id: None,
        one_time_commission_amount: fixed,
        commission_tiers: tiers
            .iter()
            .map(|&(threshold, amount)| GrantTier { threshold, amount })
            .collect(),
        enable_force_recharge: force,
        force_recharge_amount: force_amount,
        status: Status::Enabled,
        phase: GrantPhase::Ready,
        sub_grant_count: 0,
        package_count: 0,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 1,
        updater: 1,
        version: 1,
    }
}
