//! Commissions (J14) and withdrawals against the emulator: the worked examples of
//! the issue, replays and races, the unfreeze sweep, withdrawals under races, the
//! statement's reconciliation, failed calculations and a lost message.

use std::collections::HashMap;

use serde_json::{json, Value};

use shared::config::JobQueue;
use shared::domain::assets::AssetType;
use shared::domain::orders::{Order, OrderItem, PaymentMethod, PaymentStatus, PurchaseRole};
use shared::domain::wallet::WalletKind;
use shared::jobs::commission::calculate_order;
use shared::services::commissions::calculate::Calculated;

use crate::catalog::{chain, grant_body, package, series, Chain};
use crate::helpers::assets::{cards_csv, carrier, iccid, import_cards};
use crate::helpers::{spawn_app, TestApp};

/// A → B → C with package `p` priced 80 / 90 / 100 (×100 fen) and C's retail 120,
/// and cards 1..=n in C's stock.
struct Setup {
    ch: Chain,
    p: u64,
    /// The grants of A, B and C.
    grants: Vec<u64>,
    cards: HashMap<u64, u64>,
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

/// The chain and its prices for series `series_id` (its grants given `grant`'s
/// commission fields per shop).
async fn setup(
    app: &TestApp,
    n: u64,
    ch: Chain,
    series_id: u64,
    grant: impl Fn(u64) -> Value,
) -> Setup {
    let p = package(app, &ch.sa, "P", series_id).await;
    let body = |shop: u64, cost: i64| {
        let mut b = grant_body(shop, series_id, 0, &[(p, cost)]);
        for (k, v) in grant(shop).as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let mut grants = Vec::new();
    for (token, shop, cost) in [
        (&ch.sa, ch.a, 8000),
        (&ch.l1, ch.b, 9000),
        (&ch.l2, ch.c, 10000),
    ] {
        let g = app
            .post("/api/admin/shop-series-grants", token, body(shop, cost))
            .await;
        grants.push(g.ok()["id"].as_u64().unwrap());
    }
    app.call(
        "PATCH",
        &format!("/api/admin/packages/{p}/retail-price"),
        Some(&ch.l3),
        Some(json!({"retail_price": 12000})),
    )
    .await
    .ok();
    carrier(app, &ch.sa).await;
    import_cards(app, &ch.sa, &cards_csv(1, n + 1), json!({})).await;
    let all: Vec<u64> = (1..=n).collect();
    allocate(app, &ch.sa, ch.a, &all).await;
    allocate(app, &ch.l1, ch.b, &all).await;
    allocate(app, &ch.l2, ch.c, &all).await;
    let mut cards = HashMap::new();
    for i in 1..=n {
        let id = app
            .get(&format!("/api/admin/iot-cards?iccid={}", iccid(i)), &ch.sa)
            .await
            .ok()["list"][0]["id"]
            .as_u64()
            .unwrap();
        cards.insert(i, id);
    }
    Setup {
        ch,
        p,
        grants,
        cards,
    }
}

/// A paid client order of package `p` at C's retail price for `card`, marked due
/// (what the client purchase flow writes).
async fn client_order(app: &TestApp, s: &Setup, card: u64) -> u64 {
    let store = &app.state.store;
    let id = store.next_id("order").await.unwrap();
    let now = app.state.clock.now();
    let order = Order {
        id,
        order_no: shared::domain::orders::order_no(id, now),
        order_type: 1,
        buyer_type: "personal".into(),
        buyer_id: None,
        iot_card_id: Some(card),
        device_id: None,
        seller_shop_id: Some(s.ch.c),
        total_amount: 12000,
        actual_paid_amount: Some(12000),
        payment_method: PaymentMethod::Wechat,
        payment_status: PaymentStatus::Paid,
        payment_config_id: None,
        paid_at: Some(now),
        pay_by: None,
        source: "client".into(),
        generation: 1,
        operator_id: None,
        operator_account_id: 0,
        operator_type: "personal_customer".into(),
        operator_name: "customer".into(),
        purchase_role: PurchaseRole::SelfPurchase,
        is_purchase_on_behalf: false,
        buyer_name: None,
        frozen_amount: 0,
        items: vec![OrderItem {
            package_id: s.p,
            package_name: "P".into(),
            unit_price: 12000,
            quantity: 1,
            amount: 12000,
        }],
        usage_ids: vec![],
        commission_status: Some("due".into()),
        commission_error: None,
        created_at: now,
        version: 1,
    };
    let (head, _) = store
        .usage_head_and_shop_names(AssetType::Card, card, &[])
        .await
        .unwrap();
    let tx = shared::store::orders::new_order_ops(
        shared::store::tx::Tx::new(),
        &order,
        &format!("client-{id}"),
        (AssetType::Card, card, head),
        now,
    )
    .unwrap();
    store.transact(tx).await.unwrap();
    id
}

async fn wallet(app: &TestApp, shop: u64) -> (i64, i64) {
    let w = app
        .state
        .store
        .wallet(shop, WalletKind::Commission)
        .await
        .unwrap()
        .unwrap();
    (w.balance, w.frozen_balance)
}

async fn records(app: &TestApp, order: u64) -> Vec<(u64, String, i64)> {
    let mut out: Vec<_> = app
        .state
        .store
        .order_commissions(order)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.shop_id, r.commission_type.as_str().to_string(), r.amount))
        .collect();
    out.sort();
    out
}

fn invariants_hold(violations: Vec<shared::services::wallets::Violation>) {
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test]
async fn price_differences_on_a_three_level_chain_and_replays() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let series_id = ch.series;
    let s = setup(&app, 3, ch, series_id, |_| json!({})).await;
    let (a, b, c) = (s.ch.a, s.ch.b, s.ch.c);

    // A customer buys at C's retail 120: C 120 − 100, B 100 − 90, A 90 − 80.
    let o1 = client_order(&app, &s, s.cards[&1]).await;
    let done = calculate_order(&app.state, o1).await.unwrap();
    assert!(
        matches!(done, Calculated::Done(ref r) if r.len() == 3),
        "{done:?}"
    );
    let pd = "price_difference".to_string();
    let mut want = vec![
        (a, pd.clone(), 1000),
        (b, pd.clone(), 1000),
        (c, pd.clone(), 2000),
    ];
    want.sort();
    assert_eq!(records(&app, o1).await, want);
    // Credited frozen.
    assert_eq!(wallet(&app, c).await, (2000, 2000));
    assert_eq!(wallet(&app, a).await, (1000, 1000));

    // The message replayed 10 times, 5 of them at once: one set of records.
    for _ in 0..5 {
        assert_eq!(
            calculate_order(&app.state, o1).await.unwrap(),
            Calculated::AlreadySettled
        );
    }
    let racers: Vec<_> = (0..5)
        .map(|_| {
            let st = app.state.clone();
            tokio::spawn(async move { calculate_order(&st, o1).await.unwrap() })
        })
        .collect();
    for r in racers {
        assert_eq!(r.await.unwrap(), Calculated::AlreadySettled);
    }
    assert_eq!(records(&app, o1).await, want);
    assert_eq!(wallet(&app, c).await, (2000, 2000));

    // Ten orders of the tree calculated concurrently: each once, wallets add up.
    let mut orders = Vec::new();
    for _ in 0..10 {
        orders.push(client_order(&app, &s, s.cards[&2]).await);
    }
    let racers: Vec<_> = orders
        .iter()
        .map(|o| {
            let (st, o) = (app.state.clone(), *o);
            tokio::spawn(async move { calculate_order(&st, o).await.unwrap() })
        })
        .collect();
    for r in racers {
        assert!(matches!(r.await.unwrap(), Calculated::Done(_)));
    }
    assert_eq!(wallet(&app, c).await, (22000, 22000));
    assert_eq!(wallet(&app, b).await, (11000, 11000));

    // The platform buys on behalf of C (offline): the queue carries the calculation;
    // C earns nothing (its cost is the basis), B and A their differences.
    let r = app
        .post(
            "/api/admin/orders",
            &s.ch.sa,
            json!({"order_type": 1, "iot_card_id": s.cards[&3], "package_ids": [s.p], "payment_method": "offline"}),
        )
        .await;
    let order = r.ok()["id"].as_u64().unwrap();
    assert_eq!(r.ok()["commission_status"], "due");
    let n = shared::local::pump_job_queue(&app.state, JobQueue::CommissionCalculation, 1, |e| {
        shared::jobs::commission::handle(&app.state, e)
    })
    .await
    .unwrap();
    assert_eq!(n, 1);
    let mut want = vec![(a, pd.clone(), 1000), (b, pd.clone(), 1000)];
    want.sort();
    assert_eq!(records(&app, order).await, want);
    let shown = app
        .get(&format!("/api/admin/orders/{order}"), &s.ch.sa)
        .await;
    assert_eq!(shown.ok()["commission_status"], "done");

    // Every commission wallet equals its ledger.
    invariants_hold(
        shared::services::wallets::check_wallet_invariants(&app.state.store, Some(&[a, b, c]))
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn tiered_one_time_commission_follows_the_trigger_and_the_months_sales() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let tiered = series(
        &app,
        &ch.sa,
        json!({
            "series_name": "T", "series_code": "T", "commission_type": "tiered",
            "enable_one_time_commission": true, "one_time_commission_trigger": "accumulated_recharge",
            "one_time_commission_threshold": 10000,
            "tiers": [
                {"operator": ">=", "dimension": "sales_count", "stat_scope": "self_and_subordinates", "threshold": 2, "amount": 1000},
                {"operator": ">=", "dimension": "sales_count", "stat_scope": "self_and_subordinates", "threshold": 4, "amount": 2000}
            ]
        }),
    )
    .await;
    let (a0, b0) = (ch.a, ch.b);
    let tiers = move |shop: u64| {
        let (t2, t4) = if shop == a0 {
            (500, 900)
        } else if shop == b0 {
            (300, 600)
        } else {
            (100, 200)
        };
        json!({"commission_tiers": [{"threshold": 2, "amount": t2}, {"threshold": 4, "amount": t4}]})
    };
    let s = setup(&app, 6, ch, tiered, tiers).await;
    let (a, b, c) = (s.ch.a, s.ch.b, s.ch.c);
    let store = &app.state.store;
    let recharge = |card: u64, event: &'static str, amount: i64| {
        let st = app.state.clone();
        async move {
            st.store
                .record_asset_recharge(event, (AssetType::Card, card, 1), amount, st.clock.now())
                .await
                .unwrap()
        }
    };
    let one_time = |recs: Vec<(u64, String, i64)>| -> Vec<(u64, i64)> {
        recs.into_iter()
            .filter(|r| r.1 == "one_time")
            .map(|r| (r.0, r.2))
            .collect()
    };

    // Card 1: recharged 100 CNY (the threshold), the month's 1st sale of the tree:
    // no tier reached, nothing (and no marker: a later order may still earn it).
    assert!(recharge(s.cards[&1], "r1", 10000).await);
    assert!(
        !recharge(s.cards[&1], "r1", 10000).await,
        "an event counts once"
    );
    let o = client_order(&app, &s, s.cards[&1]).await;
    calculate_order(&app.state, o).await.unwrap();
    assert_eq!(one_time(records(&app, o).await), vec![]);

    // Card 2: not recharged enough (50 CNY): the 2nd sale reaches tier 2, but the
    // trigger does not hold: nothing.
    recharge(s.cards[&2], "r2a", 5000).await;
    let o = client_order(&app, &s, s.cards[&2]).await;
    calculate_order(&app.state, o).await.unwrap();
    assert_eq!(one_time(records(&app, o).await), vec![]);
    // Then it reaches 100 CNY: the 3rd sale (tier 2) pays C 100, B 300 − 100,
    // A 500 − 300, once.
    recharge(s.cards[&2], "r2b", 5000).await;
    let o = client_order(&app, &s, s.cards[&2]).await;
    calculate_order(&app.state, o).await.unwrap();
    let mut want = vec![(a, 200), (b, 200), (c, 100)];
    want.sort();
    assert_eq!(one_time(records(&app, o).await), want);
    // A further order of the same card: no second one-time commission.
    let o = client_order(&app, &s, s.cards[&2]).await;
    calculate_order(&app.state, o).await.unwrap();
    assert_eq!(one_time(records(&app, o).await), vec![]);

    // Card 3 recharged: the 5th sale of the month crossed tier 4 (C 200, B 600 − 200,
    // A 900 − 600).
    recharge(s.cards[&3], "r3", 20000).await;
    let o = client_order(&app, &s, s.cards[&3]).await;
    calculate_order(&app.state, o).await.unwrap();
    let mut want = vec![(a, 300), (b, 400), (c, 200)];
    want.sort();
    assert_eq!(one_time(records(&app, o).await), want);

    // The statistics count every sale of the month for the whole chain.
    let month = shared::domain::commission::month_of(app.state.clock.now());
    let key = shared::store::keys::series_stats(a, tiered, month);
    let stats = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        shared::store::commissions::stats_row(&stats)
            .stats
            .tree_count,
        5
    );

    // My records over HTTP: C sees its own; B sees C's through shop-commission.
    let mine = app
        .get(
            "/api/admin/my-commission/records?commission_type=one_time",
            &s.ch.l3,
        )
        .await;
    assert_eq!(mine.ok()["list"].as_array().unwrap().len(), 2);
    let seen = app
        .get(
            &format!("/api/admin/shop-commission/records?shop_id={c}"),
            &s.ch.l2,
        )
        .await;
    assert_eq!(seen.ok()["list"].as_array().unwrap().len(), 2 + 5);
    // C cannot read B's.
    app.get(
        &format!("/api/admin/shop-commission/records?shop_id={b}"),
        &s.ch.l3,
    )
    .await
    .err(404, 1002);
    invariants_hold(
        shared::services::wallets::check_wallet_invariants(store, Some(&[a, b, c]))
            .await
            .unwrap(),
    );
}

/// Orders `count` client orders on card 1 and calculates them (C earns 20 CNY each).
async fn earn(app: &TestApp, s: &Setup, count: usize) {
    for _ in 0..count {
        let o = client_order(app, s, s.cards[&1]).await;
        calculate_order(&app.state, o).await.unwrap();
    }
}

#[tokio::test]
async fn unfreeze_then_withdraw_with_races_limits_and_a_statement_that_closes() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let series_id = ch.series;
    let s = setup(&app, 1, ch, series_id, |_| json!({})).await;
    let (b, c) = (s.ch.b, s.ch.c);
    let start = app.state.clock.now();
    earn(&app, &s, 5).await; // C: 5 × 2000 frozen
    assert_eq!(wallet(&app, c).await, (10000, 10000));

    // Nothing is withdrawable yet.
    let payee =
        json!({"payee_type": "alipay", "account_name": "丙", "account_no": "c@example.com"});
    let ask = |amount: i64| json!({"amount": amount, "payee": payee.clone()});
    app.post(
        "/api/admin/my-commission/withdrawal-requests",
        &s.ch.l3,
        ask(1000),
    )
    .await
    .err(400, 1123);

    // Eight days later the sweep unfreezes them (two sweeps at once: once).
    app.state.clock.set(start + 8 * 86_400);
    // Sessions expired meanwhile: sign in again.
    let mut s = s;
    s.ch.sa = app.admin().await;
    s.ch.l1 = app.agent("A").await;
    s.ch.l2 = app.agent("B").await;
    s.ch.l3 = app.agent("C").await;
    let (r1, r2) = tokio::join!(
        shared::services::commissions::unfreeze::unfreeze_due(&app.state, 100),
        shared::services::commissions::unfreeze::unfreeze_due(&app.state, 100)
    );
    assert_eq!(r1.unwrap().unfrozen + r2.unwrap().unfrozen, 15);
    assert_eq!(wallet(&app, c).await, (10000, 0));
    let summary = app.get("/api/admin/my-commission/summary", &s.ch.l3).await;
    assert_eq!(summary.ok()["available_balance"], 10000);
    assert_eq!(summary.ok()["total_commission"], 10000);

    // Settings: 10.00–50.00 CNY per request, 80.00 per day, fee 0.6 %.
    let set = json!({"enabled": true, "min_amount": 1000, "max_amount": 5000, "daily_max_amount": 8000,
        "fee_rate_bp": 60, "allowed_payee_types": ["alipay", "bank"], "unfreeze_days": 7, "version": 0});
    app.post(
        "/api/admin/commission/withdrawal-settings",
        &s.ch.l1,
        set.clone(),
    )
    .await
    .err(403, 1005);
    let saved = app
        .post(
            "/api/admin/commission/withdrawal-settings",
            &s.ch.sa,
            set.clone(),
        )
        .await;
    assert_eq!(saved.ok()["version"], 1);
    app.post("/api/admin/commission/withdrawal-settings", &s.ch.sa, set)
        .await
        .err(409, 1007);
    app.post(
        "/api/admin/my-commission/withdrawal-requests",
        &s.ch.l3,
        ask(999),
    )
    .await
    .err(400, 1142);
    let wechat = json!({"amount": 1000, "payee": {"payee_type": "wechat", "account_name": "丙", "account_no": "wx"}});
    app.post(
        "/api/admin/my-commission/withdrawal-requests",
        &s.ch.l3,
        wechat,
    )
    .await
    .err(400, 1145);
    app.post(
        "/api/admin/my-commission/withdrawal-requests",
        &s.ch.sa,
        ask(1000),
    )
    .await
    .err(403, 1005);

    // A request of 50.00 CNY freezes it; fee 0.30.
    let w = app
        .post(
            "/api/admin/my-commission/withdrawal-requests",
            &s.ch.l3,
            ask(5000),
        )
        .await;
    let w = w.ok().clone();
    assert_eq!(
        (w["fee"].as_i64(), w["actual_amount"].as_i64()),
        (Some(30), Some(4970))
    );
    assert_eq!(wallet(&app, c).await, (10000, 5000));
    // The day's maximum (80.00): a second 50.00 is refused, 30.00 fits.
    app.post(
        "/api/admin/my-commission/withdrawal-requests",
        &s.ch.l3,
        ask(5000),
    )
    .await
    .err(400, 1143);
    let w2 = app
        .post(
            "/api/admin/my-commission/withdrawal-requests",
            &s.ch.l3,
            ask(3000),
        )
        .await;
    let w2 = w2.ok()["id"].as_u64().unwrap();

    // Five concurrent approvals of the first: one debit.
    let id = w["id"].as_u64().unwrap();
    let path = format!("/api/admin/commission/withdrawal-requests/{id}/approve");
    let racers: Vec<_> = (0..5)
        .map(|_| {
            let (router, sa, path) = (app.router.clone(), s.ch.sa.clone(), path.clone());
            tokio::spawn(async move {
                use tower::ServiceExt;
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri(path)
                    .header("authorization", format!("Bearer {sa}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from("{}"))
                    .unwrap();
                let res = router.oneshot(req).await.unwrap();
                let status = res.status();
                let body = http_body_util::BodyExt::collect(res.into_body())
                    .await
                    .unwrap();
                (
                    status,
                    String::from_utf8_lossy(&body.to_bytes()).to_string(),
                )
            })
        })
        .collect();
    for r in racers {
        let (status, body) = r.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(wallet(&app, c).await, (5000, 3000));
    let lines = app
        .state
        .store
        .wallet_lines(c, WalletKind::Commission)
        .await
        .unwrap();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.event_id == format!("withdrawal:{id}:approve"))
            .count(),
        1
    );
    // Rejecting an approved request: 1141. An agent cannot review.
    app.post(
        &format!("/api/admin/commission/withdrawal-requests/{id}/reject"),
        &s.ch.sa,
        json!({}),
    )
    .await
    .err(409, 1141);
    app.post(
        &format!("/api/admin/commission/withdrawal-requests/{w2}/approve"),
        &s.ch.l1,
        json!({}),
    )
    .await
    .err(403, 1005);
    // The second is rejected: its 30.00 is available again, and the day has room.
    let rejected = app
        .post(
            &format!("/api/admin/commission/withdrawal-requests/{w2}/reject"),
            &s.ch.sa,
            json!({"remark": "账户信息有误"}),
        )
        .await;
    assert_eq!(rejected.ok()["status"], 3);
    assert_eq!(wallet(&app, c).await, (5000, 0));

    // Lists: C's own, B sees C's, the platform sees all; a sibling-free check of
    // scope: C cannot list B's.
    let mine = app
        .get("/api/admin/my-commission/withdrawal-requests", &s.ch.l3)
        .await;
    assert_eq!(mine.ok()["list"].as_array().unwrap().len(), 2);
    let pending = app
        .get(
            "/api/admin/commission/withdrawal-requests?status=1",
            &s.ch.sa,
        )
        .await;
    assert_eq!(pending.ok()["list"].as_array().unwrap().len(), 0);
    app.get(
        &format!("/api/admin/shop-commission/withdrawal-requests?shop_id={c}"),
        &s.ch.l2,
    )
    .await
    .ok();
    app.get(
        &format!("/api/admin/shop-commission/withdrawal-requests?shop_id={b}"),
        &s.ch.l3,
    )
    .await
    .err(404, 1002);

    // The month's statement closes to the fen, as JSON and as CSV.
    let month = chrono::DateTime::from_timestamp(app.state.clock.now(), 0)
        .unwrap()
        .with_timezone(&shared::clock::cst())
        .format("%Y-%m")
        .to_string();
    let st = app
        .get(
            &format!("/api/admin/my-commission/statement?month={month}&format=csv"),
            &s.ch.l3,
        )
        .await;
    let st = st.ok().clone();
    let statement = &st["statement"];
    assert_eq!(statement["reconciled"], true, "{statement}");
    assert_eq!(statement["closing_balance"], 5000);
    assert_eq!(statement["withdrawn"], 5000);
    assert_eq!(statement["fees"], 30);
    assert!(st["csv"]["download_url"]
        .as_str()
        .unwrap()
        .contains("commission-statements"));
    let seen = app
        .get(
            &format!("/api/admin/shop-commission/statement?shop_id={c}&month={month}"),
            &s.ch.l1,
        )
        .await;
    assert_eq!(seen.ok()["statement"]["reconciled"], true);
    app.get("/api/admin/my-commission/statement?month=2999-01", &s.ch.l3)
        .await
        .err(400, 1001);
    invariants_hold(
        shared::services::wallets::check_wallet_invariants(&app.state.store, Some(&[b, c]))
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn missing_configuration_fails_the_order_and_a_lost_message_is_resent() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let series_id = ch.series;
    let s = setup(&app, 2, ch, series_id, |_| json!({})).await;

    // A lost message: the order stays due; after two minutes the sweeper sends it.
    let o = client_order(&app, &s, s.cards[&1]).await;
    let swept = shared::jobs::commission_sweeper::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(swept.resent, 0, "too young to be re-sent");
    app.state.clock.advance(180);
    let swept = shared::jobs::commission_sweeper::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(swept.resent, 1);
    shared::local::pump_job_queue(&app.state, JobQueue::CommissionCalculation, 1, |e| {
        shared::jobs::commission::handle(&app.state, e)
    })
    .await
    .unwrap();
    assert_eq!(records(&app, o).await.len(), 3);

    // B's allocation is removed: the next order cannot be calculated.
    let grant = s.grants[2];
    app.put(
        &format!("/api/admin/shop-series-grants/{grant}/packages"),
        &s.ch.l2,
        json!({"packages": [{"package_id": s.p, "remove": true}]}),
    )
    .await
    .ok();
    let o2 = client_order(&app, &s, s.cards[&2]).await;
    let done = calculate_order(&app.state, o2).await.unwrap();
    assert!(
        matches!(done, Calculated::Failed(ref why) if why.contains("allocation")),
        "{done:?}"
    );
    assert_eq!(records(&app, o2).await, vec![]);
    // Listed for the platform with its reason; agents are refused.
    let failed = app
        .get("/api/admin/commission/failed-calculations", &s.ch.sa)
        .await;
    assert_eq!(failed.ok()["list"][0]["order_id"], o2);
    app.get("/api/admin/commission/failed-calculations", &s.ch.l1)
        .await
        .err(403, 1005);
    // A retry makes it due again (once); a done order cannot be retried.
    let retried = app
        .post(
            &format!("/api/admin/commission/failed-calculations/{o2}/retry"),
            &s.ch.sa,
            json!({}),
        )
        .await;
    assert_eq!(retried.ok()["commission_status"], "due");
    app.post(
        &format!("/api/admin/commission/failed-calculations/{o}/retry"),
        &s.ch.sa,
        json!({}),
    )
    .await
    .err(409, 1146);
}
