use super::*;
use crate::domain::org::Status;
use rust_decimal::Decimal;

/// Epoch seconds of an Asia/Shanghai local time.
fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> i64 {
    cst()
        .with_ymd_and_hms(y, m, d, h, min, s)
        .unwrap()
        .timestamp()
}

#[test]
fn natural_month_expiry_is_the_end_of_the_last_day_of_the_nth_month() {
    // The worked example: 15 Feb + 3 months → 31 May 23:59:59.
    let e = expiry(CalendarType::NaturalMonth, 3, 0, at(2026, 2, 15, 10, 0, 0));
    assert_eq!(e, at(2026, 5, 31, 23, 59, 59));
    // Across a year end, into February of a leap year.
    let e = expiry(CalendarType::NaturalMonth, 2, 0, at(2027, 12, 31, 23, 0, 0));
    assert_eq!(e, at(2028, 2, 29, 23, 59, 59));
    // Twelve months.
    let e = expiry(CalendarType::NaturalMonth, 12, 0, at(2026, 1, 1, 0, 0, 0));
    assert_eq!(e, at(2027, 1, 31, 23, 59, 59));
}

#[test]
fn by_day_expiry_counts_the_activation_day_as_day_one() {
    // The worked example (a non-leap year): 15 Feb + 30 days → 16 Mar 23:59:59.
    let e = expiry(CalendarType::ByDay, 0, 30, at(2026, 2, 15, 9, 30, 0));
    assert_eq!(e, at(2026, 3, 16, 23, 59, 59));
    // One day: the end of the activation day.
    let e = expiry(CalendarType::ByDay, 0, 1, at(2026, 3, 1, 0, 0, 0));
    assert_eq!(e, at(2026, 3, 1, 23, 59, 59));
}

#[test]
fn calendar_days_are_shanghai_days() {
    // 2026-03-31 17:00 UTC is already 1 April 01:00 in Shanghai.
    let utc_evening = chrono::Utc
        .with_ymd_and_hms(2026, 3, 31, 17, 0, 0)
        .unwrap()
        .timestamp();
    let e = expiry(CalendarType::ByDay, 0, 1, utc_evening);
    assert_eq!(e, at(2026, 4, 1, 23, 59, 59));
    let e = expiry(CalendarType::NaturalMonth, 1, 0, utc_evening);
    assert_eq!(e, at(2026, 5, 31, 23, 59, 59));
}

#[test]
fn resets_follow_their_cycle() {
    let act = at(2026, 2, 15, 10, 0, 0);
    let nm = CalendarType::NaturalMonth;
    assert_eq!(next_reset(ResetCycle::None, nm, act, act), None);
    assert_eq!(
        next_reset(ResetCycle::Daily, nm, act, act),
        Some(at(2026, 2, 16, 0, 0, 0))
    );
    assert_eq!(
        next_reset(ResetCycle::Monthly, nm, act, act),
        Some(at(2026, 3, 1, 0, 0, 0))
    );
    assert_eq!(
        next_reset(ResetCycle::Monthly, nm, act, at(2026, 12, 5, 0, 0, 0)),
        Some(at(2027, 1, 1, 0, 0, 0))
    );
    assert_eq!(
        next_reset(ResetCycle::Monthly, CalendarType::ByDay, act, act),
        Some(act + 30 * 86_400)
    );
    assert_eq!(
        next_reset(
            ResetCycle::Monthly,
            CalendarType::ByDay,
            act,
            act + 45 * 86_400
        ),
        Some(act + 60 * 86_400)
    );
    assert_eq!(
        next_reset(ResetCycle::Yearly, nm, act, act),
        Some(at(2027, 1, 1, 0, 0, 0))
    );
}

#[test]
fn the_virtual_view_matches_the_worked_table() {
    const G: i64 = 1024;
    // Real 10 G, virtual (threshold) 9 G.
    let v = |used| virtual_view(10 * G, 9 * G, true, used);
    assert_eq!(v(0).virtual_used_mb, 0);
    assert_eq!(v(0).virtual_remain_mb, 10 * G);
    let half = v(9 * G / 2);
    assert_eq!(
        (half.virtual_used_mb, half.virtual_remain_mb),
        (5 * G, 5 * G)
    );
    // 8 G used shows ≈ 8.89 G used, ≈ 1.11 G left.
    let near = v(8 * G);
    assert_eq!(near.virtual_used_mb, 9102); // 8192 × 10/9 = 9102.2
    assert_eq!(near.virtual_remain_mb, 10 * G - 9102);
    // At the threshold the customer sees exactly 100 %.
    let full = v(9 * G);
    assert_eq!((full.virtual_used_mb, full.virtual_remain_mb), (10 * G, 0));
    assert_eq!(full.stop_threshold_mb, 9 * G);
    // Beyond it (gateway delay) the view stays at 100 %.
    assert_eq!(v(9 * G + 300).virtual_remain_mb, 0);
    // Virtual data off: shown as is, threshold the real total.
    let off = virtual_view(1000, 0, false, 250);
    assert_eq!((off.virtual_used_mb, off.stop_threshold_mb), (250, 1000));
}

#[test]
fn deduction_takes_add_ons_by_priority_then_the_main() {
    // The worked example: main 1000 (500 used); add-on 1 100 (0, priority 2);
    // add-on 2 200 (50, priority 3); 180 new → add-on 1 100, add-on 2 130, main 500.
    let usages = [
        Deductible {
            id: 1,
            is_addon: false,
            priority: 1,
            limit_mb: 1000,
            used_mb: 500,
        },
        Deductible {
            id: 3,
            is_addon: true,
            priority: 3,
            limit_mb: 200,
            used_mb: 50,
        },
        Deductible {
            id: 2,
            is_addon: true,
            priority: 2,
            limit_mb: 100,
            used_mb: 0,
        },
    ];
    let mut got = deduct(&usages, 180);
    got.sort();
    assert_eq!(got, vec![(1, 500), (2, 100), (3, 130)]);
    // More than everything: the rest stays on the main.
    let mut got = deduct(&usages, 2000);
    got.sort();
    assert_eq!(got, vec![(1, 500 + 2000 - 100 - 150), (2, 100), (3, 200)]);
}

fn package(kind: PackageType) -> Package {
    Package {
        id: 7,
        package_code: "P".into(),
        package_name: "P".into(),
        package_series_id: 1,
        package_type: kind,
        real_data_mb: 1024,
        virtual_data_mb: 0,
        enable_virtual_data: false,
        virtual_ratio: Decimal::ONE,
        calendar_type: CalendarType::ByDay,
        duration_months: 0,
        duration_days: 30,
        data_reset_cycle: ResetCycle::None,
        enable_realname_activation: false,
        has_independent_expiry: false,
        suggested_retail_price: 100,
        cost_price: 50,
        status: Status::Enabled,
        allocation_count: 0,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    }
}

#[test]
fn a_main_activates_when_none_is_live_and_queues_otherwise() {
    let now = at(2026, 2, 15, 10, 0, 0);
    let main = package(PackageType::Formal);
    let first = start(&main, &AssetUsages::default(), true, now).unwrap();
    assert_eq!(first.status, UsageStatus::Active);
    assert_eq!(first.priority, 1);
    assert_eq!(first.activated_at, Some(now));
    assert_eq!(first.expires_at, Some(at(2026, 3, 16, 23, 59, 59)));
    let busy = AssetUsages {
        current_main: Some((10, first.expires_at)),
        pending_main: None,
        max_priority: 1,
    };
    let queued = start(&main, &busy, true, now).unwrap();
    assert_eq!(queued.status, UsageStatus::Pending);
    assert_eq!(queued.priority, 2);
    assert_eq!((queued.activated_at, queued.expires_at), (None, None));
    assert!(!queued.pending_realname_activation);
}

#[test]
fn stock_up_waits_for_real_name_only_when_the_package_asks_and_the_asset_is_unverified() {
    let now = at(2026, 2, 15, 10, 0, 0);
    let mut main = package(PackageType::Formal);
    main.enable_realname_activation = true;
    let waiting = start(&main, &AssetUsages::default(), false, now).unwrap();
    assert_eq!(waiting.status, UsageStatus::Pending);
    assert!(waiting.pending_realname_activation);
    assert_eq!(waiting.expires_at, None);
    let verified = start(&main, &AssetUsages::default(), true, now).unwrap();
    assert_eq!(verified.status, UsageStatus::Active);
    main.enable_realname_activation = false;
    let unflagged = start(&main, &AssetUsages::default(), false, now).unwrap();
    assert_eq!(unflagged.status, UsageStatus::Active);
}

#[test]
fn add_ons_bind_to_the_main_and_share_or_own_its_expiry() {
    let now = at(2026, 2, 15, 10, 0, 0);
    let mut addon = package(PackageType::Addon);
    addon.duration_days = 7;
    assert_eq!(
        start(&addon, &AssetUsages::default(), true, now),
        Err(StartRefused::NoMainPackage)
    );
    let main_expiry = at(2026, 5, 31, 23, 59, 59);
    let live = AssetUsages {
        current_main: Some((10, Some(main_expiry))),
        pending_main: None,
        max_priority: 2,
    };
    let shared = start(&addon, &live, true, now).unwrap();
    assert_eq!(shared.status, UsageStatus::Active);
    assert_eq!(shared.master_usage_id, Some(10));
    assert_eq!(shared.expires_at, Some(main_expiry));
    assert_eq!(shared.priority, 3);
    addon.has_independent_expiry = true;
    let own = start(&addon, &live, true, now).unwrap();
    assert_eq!(own.expires_at, Some(at(2026, 2, 21, 23, 59, 59)));
    // A pending main (stock-up) also takes add-ons.
    let pending = AssetUsages {
        current_main: None,
        pending_main: Some(11),
        max_priority: 1,
    };
    assert_eq!(
        start(&addon, &pending, true, now).unwrap().master_usage_id,
        Some(11)
    );
}

#[test]
fn statuses_travel_as_numbers() {
    for s in [
        UsageStatus::Pending,
        UsageStatus::Active,
        UsageStatus::UsedUp,
        UsageStatus::Expired,
        UsageStatus::Invalidated,
    ] {
        let n: i64 = s.into();
        assert_eq!(UsageStatus::try_from(n), Ok(s));
    }
    assert!(UsageStatus::try_from(9).is_err());
}
