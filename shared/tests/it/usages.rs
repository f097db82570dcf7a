//! An asset's package usages, its current main package and a usage's daily records,
//! over HTTP and scoped like the asset. Usages are written through the store here
//! (orders create them in production).

use serde_json::{json, Value};

use shared::domain::assets::AssetType;
use shared::domain::catalog::{CalendarType, PackageType, ResetCycle};
use shared::domain::usage::{PackageUsage, UsageStatus};
use shared::store::tx::Tx;
use shared::store::usages::put_new_usage;
use shared::store::{keys, to_item};

use crate::helpers::actors::Actors;
use crate::helpers::assets::{cards_csv, carrier, iccid, import_cards};
use crate::helpers::{spawn_app, TestApp};

fn usage(id: u64, card: u64, kind: PackageType, status: UsageStatus) -> PackageUsage {
    PackageUsage {
        id,
        asset_type: AssetType::Card,
        asset_id: card,
        generation: 1,
        package_id: 9,
        package_name: format!("pkg-{id}"),
        package_type: kind,
        calendar_type: CalendarType::ByDay,
        duration_months: 0,
        duration_days: 30,
        data_reset_cycle: ResetCycle::None,
        data_limit_mb: 10 * 1024,
        virtual_data_mb: 9 * 1024,
        enable_virtual_data: true,
        data_usage_mb: 4608,
        status,
        priority: id as i64,
        master_usage_id: None,
        has_independent_expiry: false,
        pending_realname_activation: false,
        order_id: None,
        activated_at: (status != UsageStatus::Pending).then_some(1_771_120_800),
        valid_until: (status != UsageStatus::Pending).then_some(1_773_676_799),
        last_reset_at: None,
        next_reset_at: None,
        created_at: 1_771_120_800,
        version: 1,
    }
}

async fn put(app: &TestApp, u: &PackageUsage) {
    let tx = put_new_usage(Tx::new(), u).unwrap();
    app.state.store.transact(tx).await.unwrap();
}

/// Cards 1..=3; card 1 allocated to shop B (under the L1 agent's shop A).
async fn setup(app: &TestApp) -> (Actors, u64, u64) {
    let cast = Actors::new(app).await;
    carrier(app, &cast.sa).await;
    import_cards(app, &cast.sa, &cards_csv(1, 4), json!({})).await;
    let id_of = |v: &Value| v["list"][0]["id"].as_u64().unwrap();
    let card = id_of(
        app.get(
            &format!("/api/admin/iot-cards?iccid={}", iccid(1)),
            &cast.sa,
        )
        .await
        .ok(),
    );
    let other = id_of(
        app.get(
            &format!("/api/admin/iot-cards?iccid={}", iccid(2)),
            &cast.sa,
        )
        .await
        .ok(),
    );
    for (token, to) in [(&cast.sa, cast.a), (&cast.l1, cast.b)] {
        let r = app
            .post(
                "/api/admin/iot-cards/allocate",
                token,
                json!({"to_shop_id": to, "iccids": [iccid(1)]}),
            )
            .await;
        assert_eq!(r.ok()["failed"], json!([]));
    }
    (cast, card, other)
}

#[tokio::test]
async fn an_assets_packages_newest_first_with_the_virtual_view_and_its_current_main() {
    let app = spawn_app().await;
    let (cast, card, other) = setup(&app).await;
    let path = |what: &str| format!("/api/admin/assets/card/{card}/{what}");
    // No usage yet: an empty list, no current package.
    assert_eq!(app.get(&path("packages"), &cast.sa).await.ok(), &json!([]));
    app.get(&path("current-package"), &cast.sa)
        .await
        .err(404, 1130);

    let main = usage(101, card, PackageType::Formal, UsageStatus::Active);
    let mut addon = usage(102, card, PackageType::Addon, UsageStatus::Active);
    addon.master_usage_id = Some(101);
    let queued = usage(103, card, PackageType::Formal, UsageStatus::Pending);
    let mut old = usage(100, card, PackageType::Formal, UsageStatus::Expired);
    old.generation = 0; // a previous generation: not shown
    for u in [&main, &addon, &queued, &old] {
        put(&app, u).await;
    }
    put(
        &app,
        &usage(104, other, PackageType::Formal, UsageStatus::Active),
    )
    .await;

    let list = app.get(&path("packages"), &cast.sa).await;
    let ids: Vec<u64> = list
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["package_usage_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![103, 102, 101]);
    let first = &list.ok()[2];
    // 4.5 G of a 10 G package with a 9 G threshold shows 5 G used, 5 G left.
    assert_eq!(first["virtual_used_mb"], json!(5 * 1024));
    assert_eq!(first["virtual_remain_mb"], json!(5 * 1024));
    assert_eq!(first["virtual_limit_mb"], json!(10 * 1024));
    assert_eq!(first["status"], json!(1));
    assert_eq!(first["status_name"], json!("生效中"));
    assert_eq!(first["expires_at"], json!("2026-03-16T23:59:59+08:00"));
    // A pending usage has no dates (null, never a zero time).
    assert_eq!(list.ok()[0]["activated_at"], Value::Null);
    assert_eq!(list.ok()[0]["expires_at"], Value::Null);

    let current = app.get(&path("current-package"), &cast.sa).await;
    assert_eq!(current.ok()["package_usage_id"], json!(101));

    // Scoped like the card: B's ancestors see it; the sibling, L3 and the enterprise
    // account (not authorised the card) do not.
    app.get(&path("packages"), &cast.l1).await.ok();
    app.get(&path("current-package"), &cast.platform).await.ok();
    app.get(&path("packages"), &cast.sibling)
        .await
        .err(404, 1180);
    app.get(&path("current-package"), &cast.l3)
        .await
        .err(404, 1180);
    app.get(&path("packages"), &cast.enterprise)
        .await
        .err(404, 1180);
    // Unknown asset, unknown action.
    app.get("/api/admin/assets/card/999999/packages", &cast.sa)
        .await
        .err(404, 1180);
    app.get(&path("nothing"), &cast.sa).await.err(404, 1002);
}

#[tokio::test]
async fn daily_records_in_a_date_range_scoped_by_the_usage_asset() {
    let app = spawn_app().await;
    let (cast, card, other) = setup(&app).await;
    put(
        &app,
        &usage(201, card, PackageType::Formal, UsageStatus::Active),
    )
    .await;
    put(
        &app,
        &usage(202, other, PackageType::Formal, UsageStatus::Active),
    )
    .await;
    let mut cumulative = 0;
    for (day, mb) in [("2026-03-01", 100), ("2026-03-02", 50), ("2026-03-05", 7)] {
        cumulative += mb;
        let rec = shared::store::usages::DailyRecord {
            date: day.into(),
            daily_usage_mb: mb,
            cumulative_usage_mb: cumulative,
        };
        let item = to_item(&rec, &keys::daily_record(201, day)).unwrap();
        app.state.store.put(item).await.unwrap();
    }
    let path = |from: &str, to: &str| {
        format!("/api/admin/package-usage/201/daily-records?start_date={from}&end_date={to}")
    };
    let r = app.get(&path("2026-03-01", "2026-03-02"), &cast.l1).await;
    assert_eq!(r.ok()["package_usage_id"], json!(201));
    assert_eq!(r.ok()["package_name"], json!("pkg-201"));
    assert_eq!(r.ok()["total_usage_mb"], json!(150));
    assert_eq!(r.ok()["records"].as_array().unwrap().len(), 2);
    let all = app.get(&path("2026-02-01", "2026-03-31"), &cast.sa).await;
    assert_eq!(all.ok()["total_usage_mb"], json!(157));
    assert_eq!(all.ok()["records"][2]["cumulative_usage_mb"], json!(157));
    // Nothing recorded in the range: empty.
    let none = app.get(&path("2026-04-01", "2026-04-30"), &cast.sa).await;
    assert_eq!(none.ok()["records"], json!([]));

    // Bad dates and ranges.
    for (from, to) in [
        ("2026-3-1", "2026-03-02"),
        ("2026-03-02", "2026-03-01"),
        ("2025-01-01", "2026-03-01"),
        ("2026-02-30", "2026-03-01"),
    ] {
        app.get(&path(from, to), &cast.sa).await.err(400, 1001);
    }
    app.get("/api/admin/package-usage/201/daily-records", &cast.sa)
        .await
        .err(400, 1001);
    // Out of scope and unknown usages look the same.
    app.get(&path("2026-03-01", "2026-03-02"), &cast.sibling)
        .await
        .err(404, 1130);
    app.get(
        "/api/admin/package-usage/202/daily-records?start_date=2026-03-01&end_date=2026-03-02",
        &cast.l1,
    )
    .await
    .err(404, 1130);
    app.get(
        "/api/admin/package-usage/999999/daily-records?start_date=2026-03-01&end_date=2026-03-02",
        &cast.sa,
    )
    .await
    .err(404, 1130);
    app.get(&path("2026-03-01", "2026-03-02"), &cast.enterprise)
        .await
        .err(404, 1130);
}
