//! Admin orders over HTTP: every §5.2 scenario with its money movement, package
//! activation and queueing, replays, and wallet races.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};

use shared::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};

use crate::catalog::{chain, grant_body, package, Chain};
use crate::helpers::assets::{cards_csv, carrier, iccid, import_cards};
use crate::helpers::{spawn_app, Resp, TestApp};

struct Shop {
    ch: Chain,
    main: u64,
    addon: u64,
    /// Card ids by number: 1 in A's stock, 2..=4 in B's, 5 in platform stock,
    /// 11..=110 in A's stock (for races).
    cards: std::collections::HashMap<u64, u64>,
}

async fn card_id(app: &TestApp, sa: &str, n: u64) -> u64 {
    app.get(&format!("/api/admin/iot-cards?iccid={}", iccid(n)), sa)
        .await
        .ok()["list"][0]["id"]
        .as_u64()
        .unwrap()
}

async fn allocate(app: &TestApp, token: &str, to: u64, ns: &[u64]) {
    let list: Vec<String> = ns.iter().map(|n| iccid(*n)).collect();
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            token,
            json!({"to_shop_id": to, "iccids": list}),
        )
        .await;
    assert_eq!(r.ok()["failed"], json!([]), "{:?}", r.body);
}

async fn setup(app: &TestApp, race_cards: u64) -> Shop {
    let ch = chain(app).await;
    let main = package(app, &ch.sa, "M", ch.series).await;
    let mut addon_body = crate::catalog::package_body("Q", ch.series);
    addon_body["package_type"] = json!("addon");
    addon_body["suggested_retail_price"] = json!(3000);
    addon_body["cost_price"] = json!(500);
    let addon = app
        .post("/api/admin/packages", &ch.sa, addon_body)
        .await
        .ok()["id"]
        .as_u64()
        .unwrap();
    app.post(
        "/api/admin/shop-series-grants",
        &ch.sa,
        grant_body(ch.a, ch.series, 0, &[(main, 8000), (addon, 1000)]),
    )
    .await
    .ok();
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 0, &[(main, 10000), (addon, 1500)]),
    )
    .await
    .ok();
    carrier(app, &ch.sa).await;
    import_cards(app, &ch.sa, &cards_csv(1, 6), json!({})).await;
    if race_cards > 0 {
        import_cards(app, &ch.sa, &cards_csv(11, 11 + race_cards), json!({})).await;
    }
    let mut to_a: Vec<u64> = vec![1, 2, 3, 4];
    to_a.extend(11..11 + race_cards);
    allocate(app, &ch.sa, ch.a, &to_a).await;
    allocate(app, &ch.l1, ch.b, &[2, 3, 4]).await;
    let mut cards = std::collections::HashMap::new();
    for n in [1, 2, 3, 4, 5].into_iter().chain(11..11 + race_cards) {
        cards.insert(n, card_id(app, &ch.sa, n).await);
    }
    Shop {
        ch,
        main,
        addon,
        cards,
    }
}

async fn top_up(app: &TestApp, shop: u64, amount: i64) {
    let entry = LedgerEntry::new(
        format!("test-topup:{shop}:{amount}"),
        shop,
        WalletKind::Main,
        Movement::Credit(amount),
        TxType::Recharge,
        app.state.clock.now(),
    );
    app.state.store.ledger(&entry).await.unwrap();
}

async fn balance(app: &TestApp, shop: u64) -> i64 {
    app.state
        .store
        .wallet(shop, WalletKind::Main)
        .await
        .unwrap()
        .unwrap()
        .balance
}

/// `POST /api/admin/orders` with an `Idempotency-Key`.
async fn keyed_order(app: &TestApp, token: &str, key: &str, body: &Value) -> Resp {
    let req = Request::builder()
        .method("POST")
        .uri("/api/admin/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

fn order_body(card: u64, packages: &[u64], method: &str) -> Value {
    json!({"order_type": 1, "iot_card_id": card, "package_ids": packages, "payment_method": method})
}

#[tokio::test]
async fn an_agent_buying_for_a_subordinate_pays_its_own_cost_and_keeps_the_difference() {
    let app = spawn_app().await;
    let s = setup(&app, 0).await;
    top_up(&app, s.ch.a, 50_000).await;
    // A (cost 80) buys for B's card (B's cost 100): total 10000, paid 8000.
    let r = app
        .post(
            "/api/admin/orders",
            &s.ch.l1,
            order_body(s.cards[&2], &[s.main], "wallet"),
        )
        .await;
    let o = r.ok().clone();
    // Authentication, the asset, the business key, the packages, two allocations
    // with their grants, the usage head with the two shop names, the usages, two id
    // counters, the wallet and the one transaction (14 when measured).
    println!("DynamoDB calls of the order: {}", r.ddb_calls());
    assert!(r.ddb_calls() <= 16, "{} calls", r.ddb_calls());
    assert_eq!(o["total_amount"], json!(10000));
    assert_eq!(o["actual_paid_amount"], json!(8000));
    assert_eq!(o["purchase_role"], json!("purchase_for_subordinate"));
    assert_eq!(o["buyer_id"], json!(s.ch.b));
    assert_eq!(o["operator_id"], json!(s.ch.a));
    assert_eq!(o["payment_status"], json!(2));
    assert_eq!(o["source"], json!("admin"));
    assert_eq!(o["expires_at"], Value::Null);
    assert_eq!(o["commission_status"], Value::Null);
    assert!(o["order_no"].as_str().unwrap().starts_with("ORD"));
    assert_eq!(balance(&app, s.ch.a).await, 42_000);
    assert_eq!(balance(&app, s.ch.b).await, 0);
    // The ledger line says why.
    let line = app
        .state
        .store
        .ledger_line(&format!("order:{}", o["id"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        line.transaction_subtype.as_deref(),
        Some("purchase_for_subordinate")
    );
    assert_eq!(line.related_shop_id, Some(s.ch.b));
    assert_eq!(line.remark, "为下级代理【Shop B】购买套餐");
    assert_eq!((line.balance_before, line.balance_after), (50_000, 42_000));
    // B reads it as bought by its parent; the package is active on the card.
    let id = o["id"].as_u64().unwrap();
    let seen = app.get(&format!("/api/admin/orders/{id}"), &s.ch.l2).await;
    assert_eq!(seen.ok()["purchase_role"], json!("purchased_by_parent"));
    assert_eq!(seen.ok()["is_purchased_by_parent"], json!(true));
    let current = app
        .get(
            &format!("/api/admin/assets/card/{}/current-package", s.cards[&2]),
            &s.ch.l2,
        )
        .await;
    assert_eq!(current.ok()["package_id"], json!(s.main));
    // Resolve shows it too (10 G with an 8000 MB threshold, nothing used yet).
    let resolved = app
        .get(&format!("/api/admin/assets/resolve/{}", iccid(2)), &s.ch.l2)
        .await;
    assert_eq!(resolved.ok()["current_package"], json!("Package M"));
    assert_eq!(resolved.ok()["package_total_mb"], json!(10240));
    assert_eq!(resolved.ok()["package_virtual_mb"], json!(8000.0));
    assert_eq!(resolved.ok()["package_remain_mb"], json!(10240.0));
    // C (below B) and other shops do not see the order.
    app.get(&format!("/api/admin/orders/{id}"), &s.ch.l3)
        .await
        .err(404, 1134);

    // Lists: the operator and the buyer see it, each from its side.
    let ids = |r: &Resp| -> Vec<u64> {
        r.ok()["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_u64().unwrap())
            .collect()
    };
    let list = |token: &str, query: &str| {
        let (app, token, query) = (&app, token.to_string(), query.to_string());
        async move { app.get(&format!("/api/admin/orders?{query}"), &token).await }
    };
    assert_eq!(ids(&list(&s.ch.l1, "").await), vec![id]);
    assert_eq!(
        ids(&list(&s.ch.l1, "purchase_role=purchase_for_subordinate").await),
        vec![id]
    );
    assert!(ids(&list(&s.ch.l1, "purchase_role=purchased_by_parent").await).is_empty());
    let b = list(&s.ch.l2, "purchase_role=purchased_by_parent").await;
    assert_eq!(ids(&b), vec![id]);
    assert_eq!(
        b.ok()["list"][0]["purchase_role"],
        json!("purchased_by_parent")
    );
    assert!(ids(&list(&s.ch.l3, "").await).is_empty());
    assert_eq!(ids(&list(&s.ch.sa, "").await), vec![id]);
    let no = o["order_no"].as_str().unwrap();
    assert_eq!(
        ids(&list(&s.ch.sa, &format!("order_no={no}")).await),
        vec![id]
    );
    assert!(ids(&list(&s.ch.sa, "payment_method=offline").await).is_empty());
    assert!(ids(&list(&s.ch.sa, "is_expired=true").await).is_empty());
    assert_eq!(
        ids(&list(&s.ch.sa, "is_expired=false&payment_status=2").await),
        vec![id]
    );
    assert!(ids(&list(&s.ch.sa, "start_date=2000-01-01&end_date=2000-01-02").await).is_empty());
    list(&s.ch.sa, "payment_status=3").await.err(400, 1001);
    list(&s.ch.sa, "start_date=2026-13-01").await.err(400, 1001);
}

#[tokio::test]
async fn self_purchase_queues_a_second_main_and_binds_add_ons() {
    let app = spawn_app().await;
    let s = setup(&app, 0).await;
    top_up(&app, s.ch.a, 100_000).await;
    let card = s.cards[&1];
    // An add-on first: no main package yet.
    app.post(
        "/api/admin/orders",
        &s.ch.l1,
        order_body(card, &[s.addon], "wallet"),
    )
    .await
    .err(400, 1131);
    // Main and add-on in one order: refused.
    app.post(
        "/api/admin/orders",
        &s.ch.l1,
        order_body(card, &[s.main, s.addon], "wallet"),
    )
    .await
    .err(400, 1132);
    let first = app
        .post(
            "/api/admin/orders",
            &s.ch.l1,
            order_body(card, &[s.main], "wallet"),
        )
        .await;
    assert_eq!(first.ok()["purchase_role"], json!("self_purchase"));
    assert_eq!(first.ok()["total_amount"], json!(8000));
    assert_eq!(first.ok()["actual_paid_amount"], json!(8000));
    // A second main is queued (a new business key: another package set).
    let both = app
        .post(
            "/api/admin/orders",
            &s.ch.l1,
            json!({"order_type": 1, "iot_card_id": card, "package_ids": [s.main], "payment_method": "wallet"}),
        )
        .await;
    // Same buyer, asset and packages within 3 minutes: the first order again.
    assert_eq!(both.ok()["id"], first.ok()["id"]);
    app.state.clock.advance(181);
    let second = app
        .post(
            "/api/admin/orders",
            &s.ch.l1,
            order_body(card, &[s.main], "wallet"),
        )
        .await;
    assert_ne!(second.ok()["id"], first.ok()["id"]);
    let addon = app
        .post(
            "/api/admin/orders",
            &s.ch.l1,
            order_body(card, &[s.addon], "wallet"),
        )
        .await;
    assert_eq!(addon.ok()["total_amount"], json!(1000));
    let list = app
        .get(&format!("/api/admin/assets/card/{card}/packages"), &s.ch.l1)
        .await;
    let usages = list.ok().as_array().unwrap().clone();
    assert_eq!(usages.len(), 3);
    // Newest first: the add-on (active, bound to the first main), the queued main.
    assert_eq!(usages[0]["package_type"], json!("addon"));
    assert_eq!(usages[0]["status"], json!(1));
    assert_eq!(usages[0]["master_usage_id"], usages[2]["package_usage_id"]);
    assert_eq!(usages[0]["expires_at"], usages[2]["expires_at"]);
    assert_eq!(usages[1]["status"], json!(0));
    assert_eq!(usages[1]["priority"], json!(2));
    assert_eq!(usages[2]["status"], json!(1));
    assert_eq!(balance(&app, s.ch.a).await, 100_000 - 8000 - 8000 - 1000);
}

#[tokio::test]
async fn the_platform_pays_offline_and_marks_commission_due_for_shops() {
    let app = spawn_app().await;
    let s = setup(&app, 0).await;
    let sa = &s.ch.sa;
    // On behalf of B: B's cost, nothing paid, commission due.
    let r = app
        .post(
            "/api/admin/orders",
            sa,
            order_body(s.cards[&3], &[s.main], "offline"),
        )
        .await;
    assert_eq!(r.ok()["total_amount"], json!(10000));
    assert_eq!(r.ok()["actual_paid_amount"], Value::Null);
    assert_eq!(r.ok()["purchase_role"], json!("purchased_by_platform"));
    assert_eq!(r.ok()["is_purchase_on_behalf"], json!(true));
    assert_eq!(r.ok()["operator_type"], json!("platform"));
    assert_eq!(r.ok()["commission_status"], json!("due"));
    let on_behalf = r.ok()["id"].as_u64().unwrap();
    // Its own stock: suggested retail price, no commission.
    let r = app
        .post(
            "/api/admin/orders",
            sa,
            order_body(s.cards[&5], &[s.main], "offline"),
        )
        .await;
    assert_eq!(r.ok()["total_amount"], json!(15000));
    assert_eq!(r.ok()["buyer_type"], json!("platform"));
    assert_eq!(r.ok()["commission_status"], Value::Null);
    // Only the order on behalf of a shop waits on the commission job's sparse index.
    let due: Vec<u64> = app
        .state
        .store
        .query_prefix(
            shared::store::On::Gsi3,
            shared::store::keys::ORDERS_COMMISSION_DUE,
            "",
        )
        .await
        .unwrap()
        .iter()
        .filter_map(|i| shared::store::num_attr(i, "id"))
        .map(|id| id as u64)
        .collect();
    assert_eq!(due, vec![on_behalf]);
    // The platform never pays from a wallet; agents never offline; no online method.
    app.post(
        "/api/admin/orders",
        sa,
        order_body(s.cards[&4], &[s.main], "wallet"),
    )
    .await
    .err(400, 1001);
    app.post(
        "/api/admin/orders",
        &s.ch.l1,
        order_body(s.cards[&4], &[s.main], "offline"),
    )
    .await
    .err(403, 1005);
    for m in ["wechat", "alipay", "cash", ""] {
        app.post(
            "/api/admin/orders",
            sa,
            order_body(s.cards[&4], &[s.main], m),
        )
        .await
        .err(400, 1001);
    }
    // Not in the agent's tree (platform stock), unknown package, bad shapes.
    app.post(
        "/api/admin/orders",
        &s.ch.l1,
        order_body(s.cards[&5], &[s.main], "wallet"),
    )
    .await
    .err(404, 1180);
    app.post(
        "/api/admin/orders",
        sa,
        order_body(s.cards[&4], &[999_999], "offline"),
    )
    .await
    .err(404, 1002);
    for body in [
        json!({"order_type": 2, "iot_card_id": s.cards[&4], "package_ids": [s.main], "payment_method": "offline"}),
        json!({"order_type": 1, "iot_card_id": s.cards[&4], "package_ids": [], "payment_method": "offline"}),
        json!({"order_type": 1, "iot_card_id": s.cards[&4], "package_ids": [s.main, s.main], "payment_method": "offline"}),
        json!({"order_type": 1, "iot_card_id": s.cards[&4], "device_id": 1, "package_ids": [s.main], "payment_method": "offline"}),
    ] {
        app.post("/api/admin/orders", sa, body).await.err(400, 1001);
    }
}

#[tokio::test]
async fn purchase_check_prices_without_writing() {
    let app = spawn_app().await;
    let s = setup(&app, 0).await;
    let check = |token: &str, body: Value| {
        let (app, token) = (&app, token.to_string());
        async move {
            app.post("/api/admin/orders/purchase-check", &token, body)
                .await
        }
    };
    let before = app.table.entity_keys().await;
    let r = check(
        &s.ch.l1,
        json!({"iot_card_id": s.cards[&2], "package_ids": [s.main]}),
    )
    .await;
    assert_eq!(r.ok()["allowed"], json!(true));
    assert_eq!(r.ok()["total_amount"], json!(10000));
    assert_eq!(r.ok()["actual_paid_amount"], json!(8000));
    assert_eq!(r.ok()["need_force_recharge"], json!(false));
    let r = check(
        &s.ch.sa,
        json!({"iot_card_id": s.cards[&2], "package_ids": [s.main]}),
    )
    .await;
    assert_eq!(r.ok()["total_amount"], json!(10000));
    assert_eq!(r.ok()["actual_paid_amount"], Value::Null);
    let mixed = check(
        &s.ch.l1,
        json!({"iot_card_id": s.cards[&2], "package_ids": [s.main, s.addon]}),
    )
    .await;
    assert_eq!(mixed.ok()["allowed"], json!(false));
    assert_eq!(mixed.ok()["reason_code"], json!(1132));
    check(
        &s.ch.l1,
        json!({"iot_card_id": s.cards[&5], "package_ids": [s.main]}),
    )
    .await
    .err(404, 1180);
    check(&s.ch.l1, json!({"package_ids": [s.main]}))
        .await
        .err(400, 1001);
    assert_eq!(app.table.entity_keys().await, before, "nothing written");
}

#[tokio::test]
async fn insufficient_balance_writes_nothing() {
    let app = spawn_app().await;
    let s = setup(&app, 0).await;
    top_up(&app, s.ch.a, 7_999).await;
    let before = app.table.entity_keys().await;
    app.post(
        "/api/admin/orders",
        &s.ch.l1,
        order_body(s.cards[&1], &[s.main], "wallet"),
    )
    .await
    .err(400, 1123);
    let after = app.table.entity_keys().await;
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.iter().all(|(pk, _)| pk.starts_with("COUNTER#")),
        "{new:?}"
    );
    assert_eq!(balance(&app, s.ch.a).await, 7_999);
}

#[tokio::test]
async fn a_repeated_purchase_is_one_order_and_one_debit() {
    let app = Arc::new(spawn_app().await);
    let s = setup(&app, 0).await;
    top_up(&app, s.ch.a, 50_000).await;
    let body = order_body(s.cards[&2], &[s.main], "wallet");
    let runs: Vec<_> = (0..10)
        .map(|_| {
            let (app, token, body) = (app.clone(), s.ch.l1.clone(), body.clone());
            tokio::spawn(async move { app.post("/api/admin/orders", &token, body).await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for r in runs {
        let r = r.await.unwrap();
        match r.code() {
            0 => {
                ids.insert(r.ok()["id"].as_u64().unwrap());
            }
            // Purchases racing on the asset's usage head answer 409.
            code => assert_eq!(code, 1133, "{:?}", r.body),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    // And sequential repeats with an Idempotency-Key.
    for _ in 0..5 {
        let r = keyed_order(&app, &s.ch.l1, "buy-once", &body).await;
        assert_eq!(r.ok()["id"].as_u64(), ids.iter().next().copied());
    }
    assert_eq!(balance(&app, s.ch.a).await, 42_000);
}

#[tokio::test]
async fn a_hundred_concurrent_orders_against_a_balance_for_ten() {
    let app = Arc::new(spawn_app().await);
    let s = setup(&app, 100).await;
    top_up(&app, s.ch.a, 80_000).await;
    let started = std::time::Instant::now();
    let runs: Vec<_> = (11..111u64)
        .map(|n| {
            let (app, token) = (app.clone(), s.ch.l1.clone());
            let body = order_body(s.cards[&n], &[s.main], "wallet");
            tokio::spawn(async move { app.post("/api/admin/orders", &token, body).await })
        })
        .collect();
    let mut ok = 0;
    for r in runs {
        let r = r.await.unwrap();
        match r.code() {
            0 => ok += 1,
            code => assert_eq!(code, 1123, "{:?}", r.body),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(ok, 10);
    assert_eq!(balance(&app, s.ch.a).await, 0);
    // Every order has its debit and every debit its order.
    let lines = app
        .state
        .store
        .wallet_lines(s.ch.a, WalletKind::Main)
        .await
        .unwrap();
    let debits: Vec<_> = lines
        .iter()
        .filter(|l| l.transaction_type == TxType::OrderPayment)
        .collect();
    assert_eq!(debits.len(), 10);
    for l in debits {
        let order = app
            .state
            .store
            .order(l.reference_id.unwrap())
            .await
            .unwrap();
        assert_eq!(order.unwrap().actual_paid_amount, Some(8000));
    }
    let net: i64 = lines
        .iter()
        .map(|l| l.balance_after - l.balance_before)
        .sum();
    assert_eq!(net, 0);
    // The figures of scripts/bench-wallet-race.sh.
    println!(
        "100 concurrent wallet orders, balance for 10: {ok} succeeded, final balance {}, \
         ledger lines sum to {net} (the 80000 top-up and 10 debits of 8000), {:.1} s",
        balance(&app, s.ch.a).await,
        elapsed.as_secs_f64()
    );
}

mod matrix {
    //! Permission matrix over the order and package-usage routes: super admin,
    //! platform, an agent at L1 (A), an agent at L3 (C, below B), a sibling L1 agent
    //! (D) and an enterprise account. The card belongs to shop B (under A).

    use serde_json::{json, Value};

    use crate::helpers::actors::Actors;
    use crate::helpers::assets::{cards_csv, carrier, iccid, import_cards};
    use crate::helpers::spawn_app;
    use crate::matrix::{none, row_of, run, Allow, Code, Deny, Exp, Row};

    fn row(
        method: &'static str,
        path: impl Fn(&F, usize) -> String + 'static,
        body: impl Fn(&F, usize) -> Option<Value> + 'static,
        expect: [Exp; 6],
    ) -> Row<F> {
        row_of(method, path, body, expect)
    }

    const ASSET_HIDDEN: Exp = Code(404, 1180);
    const ORDER_HIDDEN: Exp = Code(404, 1134);
    const BAD: Exp = Code(400, 1001);

    struct F {
        card: u64,
        package: u64,
        order: u64,
        usage: u64,
    }

    fn body(f: &F, method: &str) -> Option<Value> {
        Some(
            json!({"order_type": 1, "iot_card_id": f.card, "package_ids": [f.package], "payment_method": method}),
        )
    }

    fn rows() -> Vec<Row<F>> {
        vec![
            // Wallet: agents only, for assets in their tree.
            row(
                "POST",
                |_, _| "/api/admin/orders".into(),
                |f, _| body(f, "wallet"),
                [BAD, BAD, Allow, ASSET_HIDDEN, ASSET_HIDDEN, Deny],
            ),
            // Offline: the platform only.
            row(
                "POST",
                |_, _| "/api/admin/orders".into(),
                |f, _| body(f, "offline"),
                [Allow, Allow, Deny, ASSET_HIDDEN, ASSET_HIDDEN, Deny],
            ),
            row(
                "GET",
                |_, _| "/api/admin/orders".into(),
                none,
                [Allow, Allow, Allow, Allow, Allow, Deny],
            ),
            // Admin orders are paid: a cancel in scope answers 1135.
            row(
                "POST",
                |f, _| format!("/api/admin/orders/{}/cancel", f.order),
                |_, _| Some(json!({})),
                [
                    Code(409, 1135),
                    Code(409, 1135),
                    Code(409, 1135),
                    ORDER_HIDDEN,
                    ORDER_HIDDEN,
                    Deny,
                ],
            ),
            row(
                "POST",
                |_, _| "/api/admin/orders/purchase-check".into(),
                |f, _| Some(json!({"iot_card_id": f.card, "package_ids": [f.package]})),
                [Allow, Allow, Allow, ASSET_HIDDEN, ASSET_HIDDEN, Deny],
            ),
            // The order A placed for B: the platform and A (operator) see it.
            row(
                "GET",
                |f, _| format!("/api/admin/orders/{}", f.order),
                none,
                [Allow, Allow, Allow, ORDER_HIDDEN, ORDER_HIDDEN, Deny],
            ),
            row(
                "GET",
                |f, _| format!("/api/admin/assets/card/{}/packages", f.card),
                none,
                [
                    Allow,
                    Allow,
                    Allow,
                    ASSET_HIDDEN,
                    ASSET_HIDDEN,
                    ASSET_HIDDEN,
                ],
            ),
            row(
                "GET",
                |f, _| format!("/api/admin/assets/card/{}/current-package", f.card),
                none,
                [
                    Allow,
                    Allow,
                    Allow,
                    ASSET_HIDDEN,
                    ASSET_HIDDEN,
                    ASSET_HIDDEN,
                ],
            ),
            row(
                "GET",
                |f, _| {
                    format!(
                        "/api/admin/package-usage/{}/daily-records?start_date=2026-01-01&end_date=2026-01-31",
                        f.usage
                    )
                },
                none,
                [
                    Allow,
                    Allow,
                    Allow,
                    Code(404, 1130),
                    Code(404, 1130),
                    Code(404, 1130),
                ],
            ),
        ]
    }

    #[tokio::test]
    async fn every_order_route_for_every_kind_of_caller() {
        let app = spawn_app().await;
        let cast = Actors::new(&app).await;
        let sa = cast.sa.clone();
        let series = crate::catalog::series(
            &app,
            &sa,
            json!({"series_name": "S", "series_code": "S", "commission_type": "fixed", "commission_amount": 0}),
        )
        .await;
        let package = crate::catalog::package(&app, &sa, "M", series).await;
        app.post(
            "/api/admin/shop-series-grants",
            &sa,
            crate::catalog::grant_body(cast.a, series, 0, &[(package, 8000)]),
        )
        .await
        .ok();
        app.post(
            "/api/admin/shop-series-grants",
            &cast.l1,
            crate::catalog::grant_body(cast.b, series, 0, &[(package, 10000)]),
        )
        .await
        .ok();
        carrier(&app, &sa).await;
        import_cards(&app, &sa, &cards_csv(1, 2), json!({})).await;
        for (token, to) in [(&sa, cast.a), (&cast.l1, cast.b)] {
            app.post(
                "/api/admin/iot-cards/allocate",
                token,
                json!({"to_shop_id": to, "iccids": [iccid(1)]}),
            )
            .await
            .ok();
        }
        let card = super::card_id(&app, &sa, 1).await;
        super::top_up(&app, cast.a, 100_000).await;
        let placed = app
            .post(
                "/api/admin/orders",
                &cast.l1,
                json!({"order_type": 1, "iot_card_id": card, "package_ids": [package], "payment_method": "wallet"}),
            )
            .await;
        let f = F {
            card,
            package,
            order: placed.ok()["id"].as_u64().unwrap(),
            usage: placed.ok()["package_usage_ids"][0].as_u64().unwrap(),
        };
        let failures = run(&app, &cast.tokens(), &f, &rows()).await;
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
        for r in rows() {
            app.call(r.method, &(r.path)(&f, 0), None, (r.body)(&f, 0))
                .await
                .err(401, 1004);
        }
    }
}

/// A pending wallet order of shop A for `card` whose 8000 are frozen, written the way
/// online orders will be (admin orders are never pending).
async fn pending_order(app: &TestApp, s: &Shop, card: u64) -> u64 {
    use shared::domain::orders::{Order, OrderItem, PaymentMethod, PaymentStatus, PurchaseRole};
    let store = &app.state.store;
    let now = app.state.clock.now();
    let id = store.next_id("order").await.unwrap();
    let order = Order {
        id,
        order_no: shared::domain::orders::order_no(id, now),
        order_type: 1,
        buyer_type: "agent".into(),
        buyer_id: Some(s.ch.a),
        iot_card_id: Some(card),
        device_id: None,
        seller_shop_id: Some(s.ch.a),
        total_amount: 8000,
        actual_paid_amount: Some(8000),
        payment_method: PaymentMethod::Wallet,
        payment_status: PaymentStatus::Pending,
        payment_config_id: None,
        paid_at: None,
        pay_by: Some(now + 1800),
        source: "client".into(),
        generation: 1,
        operator_id: Some(s.ch.a),
        operator_account_id: 0,
        operator_type: "agent".into(),
        operator_name: "Shop A".into(),
        purchase_role: PurchaseRole::SelfPurchase,
        is_purchase_on_behalf: false,
        buyer_name: None,
        frozen_amount: 8000,
        items: vec![OrderItem {
            package_id: s.main,
            package_name: "M".into(),
            unit_price: 8000,
            quantity: 1,
            amount: 8000,
        }],
        usage_ids: vec![],
        commission_status: None,
        commission_error: None,
        created_at: now,
        version: 1,
    };
    let tx = shared::store::orders::new_order_ops(
        shared::store::tx::Tx::new(),
        &order,
        &format!("pending-{id}"),
        (shared::domain::assets::AssetType::Card, card, 0),
        now,
    )
    .unwrap();
    store.transact(tx).await.unwrap();
    let freeze = LedgerEntry::new(
        format!("order-freeze:{id}"),
        s.ch.a,
        WalletKind::Main,
        Movement::Freeze(8000),
        TxType::Freeze,
        now,
    );
    store.ledger(&freeze).await.unwrap();
    id
}

#[tokio::test]
async fn cancelling_a_pending_order_releases_its_frozen_money_once() {
    let app = Arc::new(spawn_app().await);
    let s = setup(&app, 0).await;
    top_up(&app, s.ch.a, 20_000).await;
    let first = pending_order(&app, &s, s.cards[&1]).await;
    let wallet = |app: Arc<TestApp>, shop| async move {
        app.state
            .store
            .wallet(shop, WalletKind::Main)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(wallet(app.clone(), s.ch.a).await.frozen_balance, 8000);
    let path = |id: u64| format!("/api/admin/orders/{id}/cancel");
    // Out of scope: shops below and beside.
    app.post(&path(first), &s.ch.l3, json!({}))
        .await
        .err(404, 1134);
    let r = app.post(&path(first), &s.ch.l1, json!({})).await;
    assert_eq!(r.ok()["payment_status"], json!(5));
    assert_eq!(r.ok()["expires_at"], Value::Null);
    let w = wallet(app.clone(), s.ch.a).await;
    assert_eq!((w.balance, w.frozen_balance), (20_000, 0));
    // Again: nothing more is released.
    app.post(&path(first), &s.ch.l1, json!({}))
        .await
        .err(409, 1135);
    // Concurrent cancels of another pending order release its money once.
    let second = pending_order(&app, &s, s.cards[&2]).await;
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let (app, token, p) = (app.clone(), s.ch.l1.clone(), path(second));
            tokio::spawn(async move { app.post(&p, &token, json!({})).await.code() })
        })
        .collect();
    for r in runs {
        let code = r.await.unwrap();
        assert!(code == 0 || code == 1135, "{code}");
    }
    let w = wallet(app.clone(), s.ch.a).await;
    assert_eq!((w.balance, w.frozen_balance), (20_000, 0));
    // A paid admin order cannot be cancelled.
    let paid = app
        .post(
            "/api/admin/orders",
            &s.ch.l1,
            order_body(s.cards[&3], &[s.main], "wallet"),
        )
        .await;
    let paid = paid.ok()["id"].as_u64().unwrap();
    app.post(&path(paid), &s.ch.l1, json!({}))
        .await
        .err(409, 1135);
}
