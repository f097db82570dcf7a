//! Package catalogue and the agent price chain against the emulator: series,
//! packages, grants down three levels, cost and retail prices, the cost-price lock,
//! batch allocation and pricing; grants written in phases in [`phases`], bad input
//! that must write nothing in [`bad_input`].

mod bad_input;
mod phases;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, whole, TestApp};

pub struct Chain {
    pub sa: String,
    pub l1: String,
    pub l2: String,
    pub l3: String,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub series: u64,
}

pub fn package_body(code: &str, series: u64) -> Value {
    json!({
        "package_code": code, "package_name": format!("Package {code}"),
        "package_series_id": series, "package_type": "formal",
        "real_data_mb": 10240, "virtual_data_mb": 8000, "enable_virtual_data": true,
        "calendar_type": "natural_month", "duration_months": 1,
        "data_reset_cycle": "monthly", "suggested_retail_price": 15000, "cost_price": 5000
    })
}

pub async fn series(app: &TestApp, sa: &str, body: Value) -> u64 {
    app.post("/api/admin/package-series", sa, body).await.ok()["id"]
        .as_u64()
        .unwrap()
}

pub async fn package(app: &TestApp, sa: &str, code: &str, series: u64) -> u64 {
    app.post("/api/admin/packages", sa, package_body(code, series))
        .await
        .ok()["id"]
        .as_u64()
        .unwrap()
}

/// The cost-price history items of an allocation.
pub async fn history(app: &TestApp, allocation_id: u64) -> Vec<shared::store::Item> {
    let pk = shared::store::keys::price_history_pk(allocation_id);
    app.table
        .scan()
        .await
        .into_iter()
        .filter(|i| shared::store::str_attr(i, "pk") == Some(pk.as_str()))
        .collect()
}

/// Shops A (L1) → B (L2) → C (L3) with their agents and a fixed-commission series.
pub async fn chain(app: &TestApp) -> Chain {
    let sa = app.admin().await;
    let role = app.customer_role(&sa, "r").await;
    let a = app.shop(&sa, "A", None, role).await;
    let b = app.shop(&sa, "B", Some(a), role).await;
    let c = app.shop(&sa, "C", Some(b), role).await;
    let s = series(
        app,
        &sa,
        json!({"series_name": "S", "series_code": "S", "commission_type": "fixed", "commission_amount": 1000}),
    )
    .await;
    Chain {
        l1: app.agent("A").await,
        l2: app.agent("B").await,
        l3: app.agent("C").await,
        sa,
        a,
        b,
        c,
        series: s,
    }
}

pub fn grant_body(shop: u64, series: u64, amount: i64, packages: &[(u64, i64)]) -> Value {
    json!({
        "shop_id": shop, "series_id": series, "one_time_commission_amount": amount,
        "packages": packages.iter().map(|(p, c)| json!({"package_id": p, "cost_price": c})).collect::<Vec<_>>()
    })
}

fn own_package(list: &Value, id: u64) -> &Value {
    list["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == json!(id))
        .unwrap_or_else(|| panic!("package {id} not in {list}"))
}

#[tokio::test]
async fn three_level_price_chain() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let p = package(&app, &ch.sa, "P", ch.series).await;

    // Platform → L1 at cost 80 (fen ×100 here: 8000).
    let g1 = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            grant_body(ch.a, ch.series, 500, &[(p, 8000)]),
        )
        .await;
    let g1 = g1.ok().clone();
    assert_eq!(g1["allocator_shop_id"], 0);
    assert_eq!(g1["packages"][0]["cost_price"], 8000);
    // Duplicate grant refused.
    app.post(
        "/api/admin/shop-series-grants",
        &ch.sa,
        grant_body(ch.a, ch.series, 500, &[]),
    )
    .await
    .err(409, 1042);

    // L1 → L2 at cost 100; the ceiling is L1's own amount (500).
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 501, &[(p, 10000)]),
    )
    .await
    .err(400, 1044);
    // Below L1's own cost refused.
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 400, &[(p, 7999)]),
    )
    .await
    .err(400, 1055);
    // Not a direct subordinate (L3 under L2).
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.c, ch.series, 400, &[(p, 10000)]),
    )
    .await
    .err(400, 1035);
    // L2 holds no grant yet: it cannot pass the series down.
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l2,
        grant_body(ch.c, ch.series, 100, &[]),
    )
    .await
    .err(403, 1043);
    let g2 = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.l1,
            grant_body(ch.b, ch.series, 400, &[(p, 10000)]),
        )
        .await;
    let g2 = g2.ok().clone();
    assert_eq!(g2["allocator_shop_id"], ch.a);
    assert_eq!(g2["one_time_commission_amount"], 400);

    // L2 sees its own cost, the suggested retail price as its retail price, on shelf.
    let l2_list = app.get("/api/admin/packages", &ch.l2).await;
    let mine = own_package(l2_list.ok(), p).clone();
    assert_eq!(
        (mine["cost_price"].clone(), mine["retail_price"].clone()),
        (json!(10000), json!(15000))
    );
    assert_eq!(mine["shelf_status"], 1);
    assert_eq!(mine["profit"], 5000);
    assert_eq!(mine["virtual_ratio"], json!(1.28));
    // L2 sets retail 120; not below 100.
    app.call(
        "PATCH",
        &format!("/api/admin/packages/{p}/retail-price"),
        Some(&ch.l2),
        Some(json!({"retail_price": 9999})),
    )
    .await
    .err(400, 1047);
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/packages/{p}/retail-price"),
            Some(&ch.l2),
            Some(json!({"retail_price": 12000})),
        )
        .await;
    assert_eq!(r.ok()["retail_price"], 12000);
    // L1 cannot change L2's retail price: the route only touches the caller's own
    // allocation (L1's), and the grant routes have no retail field.
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/packages/{p}/retail-price"),
            Some(&ch.l1),
            Some(json!({"retail_price": 13000, "shop_id": ch.b})),
        )
        .await;
    assert_eq!(r.ok()["retail_price"], 13000);
    let l2_view = app.get(&format!("/api/admin/packages/{p}"), &ch.l2).await;
    assert_eq!(
        l2_view.ok()["retail_price"],
        12000,
        "L2's retail price unchanged"
    );
    // The platform has no allocation of its own.
    app.call(
        "PATCH",
        &format!("/api/admin/packages/{p}/retail-price"),
        Some(&ch.sa),
        Some(json!({"retail_price": 1})),
    )
    .await
    .err(403, 1005);

    // L1 changes L2's cost (history written), then L2 allocates to L3: L2's cost locks.
    let gid2 = g2["id"].as_u64().unwrap();
    let r = app
        .put(
            &format!("/api/admin/shop-series-grants/{gid2}/packages"),
            &ch.l1,
            json!({"packages": [{"package_id": p, "cost_price": 11000}]}),
        )
        .await;
    assert_eq!(r.ok()["packages"][0]["cost_price"], 11000);
    let g3 = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.l2,
            grant_body(ch.c, ch.series, 300, &[(p, 11500)]),
        )
        .await;
    g3.ok();
    app.put(
        &format!("/api/admin/shop-series-grants/{gid2}/packages"),
        &ch.l1,
        json!({"packages": [{"package_id": p, "cost_price": 10500}]}),
    )
    .await
    .err(409, 1046);
    app.post(
        "/api/admin/shop-package-batch-pricing",
        &ch.l1,
        json!({"shop_id": ch.b, "package_ids": [p], "cost_price": 10500}),
    )
    .await
    .err(409, 1046);
    // Removing L2's allocation while L3 holds one is refused; deleting L2's grant too.
    app.put(
        &format!("/api/admin/shop-series-grants/{gid2}/packages"),
        &ch.l1,
        json!({"packages": [{"package_id": p, "remove": true}]}),
    )
    .await
    .err(409, 1054);
    app.delete(&format!("/api/admin/shop-series-grants/{gid2}"), &ch.l1)
        .await
        .err(409, 1049);
    // Lowering L2's amount below what L2 granted to L3 is refused.
    app.put(
        &format!("/api/admin/shop-series-grants/{gid2}"),
        &ch.l1,
        json!({"one_time_commission_amount": 299}),
    )
    .await
    .err(400, 1044);
    let r = app
        .put(
            &format!("/api/admin/shop-series-grants/{gid2}"),
            &ch.l1,
            json!({"one_time_commission_amount": 350}),
        )
        .await;
    assert_eq!(r.ok()["one_time_commission_amount"], 350);

    // Price history of L2's allocation: one change 10000 → 11000 by L1's account.
    let alloc_id = mine["allocation_id"].as_u64().unwrap();
    let first = history(&app, alloc_id).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        shared::store::num_attr(&first[0], "old_cost_price"),
        Some(10000)
    );
    assert_eq!(
        shared::store::num_attr(&first[0], "new_cost_price"),
        Some(11000)
    );

    // Agents list only grants they issued; the platform sees all three.
    let l1_grants = app.get("/api/admin/shop-series-grants", &ch.l1).await;
    let l1_grants = l1_grants.ok();
    assert_eq!(l1_grants["total"], 1);
    assert_eq!(l1_grants["list"][0]["id"], gid2);
    assert_eq!(l1_grants["list"][0]["package_count"], 1);
    let all = app.get("/api/admin/shop-series-grants", &ch.sa).await;
    assert_eq!(all.ok()["total"], 3);
    // The platform filters by grantor: 0 is the platform, else the grantor's shop.
    let issued_by =
        |grantor: u64| format!("/api/admin/shop-series-grants?allocator_shop_id={grantor}");
    let platform = app.get(&issued_by(0), &ch.sa).await;
    assert_eq!(whole(platform.ok()).len(), 1);
    assert!(
        platform.ok()["total"].is_null(),
        "a filtered list has no total"
    );
    assert_eq!(platform.ok()["list"][0]["id"], g1["id"]);
    let from_b = app.get(&issued_by(ch.b), &ch.sa).await;
    assert_eq!(whole(from_b.ok()).len(), 1);
    assert_eq!(from_b.ok()["list"][0]["allocator_shop_id"], ch.b);
    assert_eq!(from_b.ok()["list"][0]["allocator_shop_name"], "Shop B");
    assert_eq!(g1["allocator_shop_name"], Value::Null);
    // L3's own view: its cost 11500, retail = suggested.
    let l3 = app.get(&format!("/api/admin/packages/{p}"), &ch.l3).await;
    assert_eq!(
        (
            l3.ok()["cost_price"].clone(),
            l3.ok()["retail_price"].clone()
        ),
        (json!(11500), json!(15000))
    );
    // Agents see only the series granted to them.
    let s_l3 = app.get("/api/admin/package-series", &ch.l3).await;
    assert_eq!(whole(s_l3.ok()).len(), 1);

    // Unwind from the bottom: L3's grant, then L2's is deletable and its cost unlocks.
    let gid3 = g3.ok()["id"].as_u64().unwrap();
    app.delete(&format!("/api/admin/shop-series-grants/{gid3}"), &ch.l2)
        .await
        .ok();
    app.get(&format!("/api/admin/packages/{p}"), &ch.l3)
        .await
        .err(404, 1002);
    let r = app
        .post(
            "/api/admin/shop-package-batch-pricing",
            &ch.l1,
            json!({"shop_id": ch.b, "package_ids": [p], "price_adjustment": -500}),
        )
        .await;
    assert_eq!(r.ok()[0]["cost_price"], 10500);
    let changes = history(&app, alloc_id).await;
    assert_eq!(changes.len(), 2, "batch pricing writes history too");
    assert!(changes
        .iter()
        .any(|c| shared::store::num_attr(c, "new_cost_price") == Some(10500)));
    app.delete(&format!("/api/admin/shop-series-grants/{gid2}"), &ch.l1)
        .await
        .ok();
    let s_l2 = app.get("/api/admin/package-series", &ch.l2).await;
    assert_eq!(whole(s_l2.ok()).len(), 0);
}

#[tokio::test]
async fn tiered_grants_and_forced_recharge() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let s = series(
        &app,
        &ch.sa,
        json!({
            "series_name": "T", "series_code": "T", "commission_type": "tiered",
            "enable_one_time_commission": true, "one_time_commission_trigger": "accumulated_recharge",
            "one_time_commission_threshold": 10000,
            "tiers": [
                {"operator": "", "dimension": "sales_count", "stat_scope": "self", "threshold": 10, "amount": 1000},
                {"operator": ">", "dimension": "sales_amount", "stat_scope": "self_and_subordinates", "threshold": 50, "amount": 3000}
            ]
        }),
    )
    .await;
    let tiers =
        |a: i64, b: i64| json!([{"threshold": 50, "amount": b}, {"threshold": 10, "amount": a}]);
    let g = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            json!({"shop_id": ch.a, "series_id": s, "commission_tiers": tiers(800, 2000),
                   "enable_force_recharge": true, "force_recharge_amount": 0}),
        )
        .await;
    let g = g.ok().clone();
    assert_eq!(g["one_time_commission_amount"], 0);
    assert_eq!(
        g["commission_tiers"],
        json!([
            {"operator": ">=", "threshold": 10, "amount": 800, "dimension": "sales_count", "stat_scope": "self"},
            {"operator": ">", "threshold": 50, "amount": 2000, "dimension": "sales_amount", "stat_scope": "self_and_subordinates"}
        ])
    );
    // Not locked by the platform: the agent's setting counts, 0 = the threshold.
    assert_eq!(
        (
            g["force_recharge_locked"].clone(),
            g["force_recharge_enabled"].clone(),
            g["force_recharge_amount"].clone()
        ),
        (json!(false), json!(true), json!(10000))
    );
    // L1 → L2: each tier within L1's amount at the same threshold; exact thresholds.
    let post = |body: Value| app.post("/api/admin/shop-series-grants", &ch.l1, body);
    post(json!({"shop_id": ch.b, "series_id": s, "commission_tiers": tiers(801, 0)}))
        .await
        .err(400, 1044);
    post(json!({"shop_id": ch.b, "series_id": s, "commission_tiers": [{"threshold": 10, "amount": 1}]})).await.err(400, 1045);
    post(json!({"shop_id": ch.b, "series_id": s, "commission_tiers": [{"threshold": 10, "amount": 1}, {"threshold": 50, "amount": 1}, {"threshold": 60, "amount": 1}]})).await.err(400, 1045);
    post(json!({"shop_id": ch.b, "series_id": s}))
        .await
        .err(400, 1001);
    let g2 =
        post(json!({"shop_id": ch.b, "series_id": s, "commission_tiers": tiers(800, 0)})).await;
    assert_eq!(g2.ok()["commission_tiers"][1]["amount"], 0);
    // While grants exist, the series' thresholds are fixed.
    app.put(
        &format!("/api/admin/package-series/{s}"),
        &ch.sa,
        json!({"tiers": [{"threshold": 11, "amount": 1}, {"threshold": 50, "amount": 1}]}),
    )
    .await
    .err(409, 1050);
    // The platform switches forced recharge on: grants become locked and show it.
    app.put(
        &format!("/api/admin/package-series/{s}"),
        &ch.sa,
        json!({"enable_force_recharge": true, "force_recharge_amount": 2500}),
    )
    .await
    .ok();
    let gid = g["id"].as_u64().unwrap();
    let r = app
        .put(
            &format!("/api/admin/shop-series-grants/{gid}"),
            &ch.sa,
            json!({"enable_force_recharge": false}),
        )
        .await;
    let r = r.ok();
    assert_eq!(
        (
            r["force_recharge_locked"].clone(),
            r["force_recharge_enabled"].clone(),
            r["force_recharge_amount"].clone()
        ),
        (json!(true), json!(true), json!(2500))
    );
}

/// Creates `n` packages in `series` with one id reservation per call.
pub async fn packages(app: &TestApp, sa: &str, series: u64, n: usize) -> Vec<u64> {
    let mut ids = vec![];
    for i in 0..n {
        ids.push(package(app, sa, &format!("B{i}"), series).await);
    }
    ids
}

#[tokio::test]
async fn batch_allocation_and_pricing() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let ps = packages(&app, &ch.sa, ch.series, 3).await;
    // The platform grants the series to A with one package, then batch-allocates two
    // more at its base cost + 3000; the package A already holds is skipped.
    let g = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            grant_body(ch.a, ch.series, 500, &[(ps[0], 8000)]),
        )
        .await;
    g.ok();
    let r = app
        .post(
            "/api/admin/shop-package-batch-allocations",
            &ch.sa,
            json!({"shop_ids": [ch.a], "package_ids": ps, "price_adjustment": 3000}),
        )
        .await;
    let r = r.ok();
    let results: Vec<_> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["result"].clone(), i["cost_price"].clone()))
        .collect();
    assert_eq!(
        results,
        vec![
            (json!("skipped"), json!(8000)),
            (json!("created"), json!(8000)),
            (json!("created"), json!(8000))
        ]
    );
    // A shop that is not the caller's direct sub-shop (B, level 2, for the platform)
    // is refused before anything is read, nothing written.
    let before = app.table.entity_keys().await;
    app.post(
        "/api/admin/shop-package-batch-allocations",
        &ch.sa,
        json!({"shop_ids": [ch.a, ch.b], "package_ids": ps, "cost_price": 9000}),
    )
    .await
    .err(404, 1002);
    assert_eq!(app.table.entity_keys().await, before);
    // Batch pricing: cost only, history for the changed ones.
    let r = app
        .post(
            "/api/admin/shop-package-batch-pricing",
            &ch.sa,
            json!({"shop_id": ch.a, "package_ids": ps, "cost_price": 8000}),
        )
        .await;
    let kinds: Vec<_> = r
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["result"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("unchanged"), json!("unchanged"), json!("unchanged")]
    );
    let r = app
        .post(
            "/api/admin/shop-package-batch-pricing",
            &ch.sa,
            json!({"shop_id": ch.a, "package_ids": [ps[1]], "price_adjustment": 500}),
        )
        .await;
    assert_eq!(r.ok()[0]["cost_price"], 8500);
    let view = app
        .get(&format!("/api/admin/packages/{}", ps[1]), &ch.l1)
        .await;
    assert_eq!(
        (
            view.ok()["cost_price"].clone(),
            view.ok()["retail_price"].clone()
        ),
        (json!(8500), json!(15000))
    );
    // Both or neither of cost_price and price_adjustment are refused.
    app.post(
        "/api/admin/shop-package-batch-pricing",
        &ch.sa,
        json!({"shop_id": ch.a, "package_ids": [ps[1]]}),
    )
    .await
    .err(400, 1001);
    // L1 batch-allocates to L2 once L2 holds the series from L1.
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 100, &[]),
    )
    .await
    .ok();
    let r = app
        .post(
            "/api/admin/shop-package-batch-allocations",
            &ch.l1,
            json!({"shop_id": ch.b, "package_ids": [ps[1]], "price_adjustment": 1000}),
        )
        .await;
    assert_eq!(r.ok()[0]["cost_price"], 9500);
    // L2 takes it off its shelf.
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/packages/{}/shelf-status", ps[1]),
            Some(&ch.l2),
            Some(json!({"shelf_status": 2})),
        )
        .await;
    assert_eq!(r.ok()["shelf_status"], 2);
    app.call(
        "PATCH",
        &format!("/api/admin/packages/{}/shelf-status", ps[1]),
        Some(&ch.l2),
        Some(json!({"shelf_status": 3})),
    )
    .await
    .err(400, 1001);
}
