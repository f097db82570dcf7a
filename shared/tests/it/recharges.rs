//! Agent recharges (api.md §21): creation rules, list and get scope, the offline
//! confirmation (password, rate limit, exactly one credit, audit) and the
//! payment-succeeded transition.

use serde_json::{json, Value};
use shared::domain::recharge::{AgentRecharge, RechargeStatus};
use shared::domain::wallet::WalletKind;
use shared::services::recharges::{recharge_paid, RechargeError};
use shared::services::wallets::check_wallet_invariants;
use shared::store::recharges::recharge_item;
use shared::store::{str_attr, Store};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};

const PATH: &str = "/api/admin/agent-recharges";

fn body(shop: u64, amount: i64, method: &str) -> Value {
    json!({"shop_id": shop, "amount": amount, "payment_method": method})
}

/// An offline recharge of `amount` for `shop`, created by `token`; its id.
async fn offline(app: &TestApp, token: &str, shop: u64, amount: i64) -> u64 {
    let r = app.post(PATH, token, body(shop, amount, "offline")).await;
    r.ok()["id"].as_u64().unwrap()
}

async fn balance(store: &Store, shop: u64) -> i64 {
    store
        .wallet(shop, WalletKind::Main)
        .await
        .unwrap()
        .unwrap()
        .balance
}

fn pay(password: &str) -> Value {
    json!({"operation_password": password})
}

fn pay_path(id: u64) -> String {
    format!("{PATH}/{id}/offline-pay")
}

#[tokio::test]
async fn creation_follows_who_may_recharge_what() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    // Amount bounds.
    for amount in [9_999, 100_000_001, 0, -10_000] {
        app.post(PATH, &cast.sa, body(cast.a, amount, "offline"))
            .await
            .err(400, 1001);
    }
    // Agents: their own shop only, and never offline.
    app.post(PATH, &cast.l1, body(cast.b, 10_000, "wechat"))
        .await
        .err(403, 1005);
    app.post(PATH, &cast.l1, body(cast.a, 10_000, "offline"))
        .await
        .err(403, 1005);
    app.post(PATH, &cast.enterprise, body(cast.a, 10_000, "wechat"))
        .await
        .err(403, 1005);
    // No payment configuration exists yet: online payment answers 1175.
    app.post(PATH, &cast.l1, body(cast.a, 10_000, "wechat"))
        .await
        .err(400, 1175);
    app.post(PATH, &cast.platform, body(cast.d, 10_000, "wechat"))
        .await
        .err(400, 1175);
    app.post(PATH, &cast.sa, body(999_999, 10_000, "offline"))
        .await
        .err(404, 1002);
    app.post(PATH, &cast.sa, body(cast.a, 10_000, "alipay"))
        .await
        .err(400, 1001);
    // The platform records an offline recharge for any shop.
    for amount in [10_000, 100_000_000] {
        let r = app
            .post(PATH, &cast.platform, body(cast.c, amount, "offline"))
            .await;
        let data = r.ok();
        assert_eq!(data["status"], 1);
        assert_eq!(data["amount"], amount);
        assert_eq!(data["payment_method"], "offline");
        assert_eq!(data["payment_channel"], "offline");
        assert!(data["payment_config_id"].is_null() && data["paid_at"].is_null());
        assert_eq!(data["agent_wallet_id"], cast.c * 2);
        assert_eq!(data["shop_name"], "Shop C");
        let no = data["recharge_no"].as_str().unwrap();
        assert!(no.starts_with("ARCH") && no.len() >= 18, "{no}");
    }
    // Nothing was credited by creating.
    assert_eq!(balance(&app.state.store, cast.c).await, 0);
}

#[tokio::test]
async fn offline_confirmation_credits_once_and_is_audited() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let store = &app.state.store;
    let id = offline(&app, &cast.sa, cast.b, 50_000).await;
    // Platform only; the agent of B may not confirm its own recharge.
    app.post(&pay_path(id), &cast.l1, pay("password-A"))
        .await
        .err(403, 1005);
    app.post(&pay_path(id), &cast.sa, pay("not-my-password"))
        .await
        .err(400, 1124);
    app.post(&pay_path(id), &cast.sa, pay(""))
        .await
        .err(400, 1001);
    app.post(&pay_path(999_999), &cast.sa, pay(ADMIN_PASSWORD))
        .await
        .err(404, 1121);
    assert_eq!(balance(store, cast.b).await, 0);

    let r = app
        .post(&pay_path(id), &cast.platform, pay("password-ops"))
        .await;
    let data = r.ok();
    assert_eq!(data["status"], 2);
    assert!(data["paid_at"].is_string() && data["completed_at"].is_string());
    assert_eq!(data["version"], 2);
    assert_eq!(balance(store, cast.b).await, 50_000);
    // Twice: refused, nothing more credited.
    app.post(&pay_path(id), &cast.platform, pay("password-ops"))
        .await
        .err(409, 1126);
    assert_eq!(balance(store, cast.b).await, 50_000);
    let stored = app.get(&format!("{PATH}/{id}"), &cast.sa).await;
    assert_eq!(stored.ok()["status"], 2);
    // B's recharge is not A's: its parent's agent does not see it.
    app.get(&format!("{PATH}/{id}"), &cast.l1)
        .await
        .err(404, 1121);

    // One ledger line, the recharge's.
    let lines = app
        .get(
            &format!("/api/admin/wallets/{}/transactions", cast.b * 2),
            &cast.sa,
        )
        .await;
    let lines = lines.ok()["list"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["event_id"], format!("recharge:{id}"));
    assert_eq!(lines[0]["transaction_type"], "recharge");
    assert_eq!(lines[0]["reference_id"], id);
    assert_eq!(
        (&lines[0]["balance_before"], &lines[0]["balance_after"]),
        (&json!(0), &json!(50_000))
    );
    // The audit entry, written in the same transaction.
    let audits: Vec<_> = app
        .table
        .scan()
        .await
        .into_iter()
        .filter(|i| str_attr(i, "pk") == Some(&format!("AUDIT#agent_recharge#{id}")))
        .collect();
    assert_eq!(audits.len(), 1);
    assert_eq!(
        str_attr(&audits[0], "operation_type"),
        Some("offline_recharge")
    );
    let after = audits[0].get("after_data").unwrap();
    assert!(format!("{after:?}").contains("50000"), "{after:?}");
    // A wechat record cannot be confirmed offline (written directly: creating one
    // needs a payment configuration).
    let mut online: AgentRecharge = store.recharge(id).await.unwrap().unwrap();
    online.id = 777;
    online.status = RechargeStatus::Pending;
    online.payment_method = shared::domain::recharge::PaymentMethod::Wechat;
    store.create_recharge(&online, 0).await.unwrap();
    app.post(&pay_path(777), &cast.sa, pay(ADMIN_PASSWORD))
        .await
        .err(400, 1128);
    assert!(check_wallet_invariants(store, Some(&[cast.b]))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirmations_credit_once() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let role = app.customer_role(&sa, "r").await;
    let shop = app.shop(&sa, "R1", None, role).await;
    for round in 0..3 {
        let id = offline(&app, &sa, shop, 10_000).await;
        let path = pay_path(id);
        let call = || app.post(&path, &sa, pay(ADMIN_PASSWORD));
        let answers = tokio::join!(call(), call(), call(), call(), call());
        let codes: Vec<i64> = [answers.0, answers.1, answers.2, answers.3, answers.4]
            .iter()
            .map(|r| r.code())
            .collect();
        assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 0 || *c == 1126), "{codes:?}");
        assert_eq!(balance(&app.state.store, shop).await, 10_000 * (round + 1));
    }
    assert!(check_wallet_invariants(&app.state.store, Some(&[shop]))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn wrong_operation_passwords_are_rate_limited() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let role = app.customer_role(&sa, "r").await;
    let shop = app.shop(&sa, "R2", None, role).await;
    let id = offline(&app, &sa, shop, 10_000).await;
    for _ in 0..10 {
        app.post(&pay_path(id), &sa, pay("wrong-password"))
            .await
            .err(400, 1124);
    }
    // The limit is reached: even the right password waits for the window.
    app.post(&pay_path(id), &sa, pay("wrong-password"))
        .await
        .err(429, 1006);
    app.post(&pay_path(id), &sa, pay(ADMIN_PASSWORD))
        .await
        .err(429, 1006);
    // From another address the pair's count starts afresh.
    let other = app
        .call_from(
            "10.0.0.9",
            "POST",
            &pay_path(id),
            Some(&sa),
            Some(pay(ADMIN_PASSWORD)),
        )
        .await;
    assert_eq!(other.ok()["status"], 2);
    assert_eq!(balance(&app.state.store, shop).await, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payment_succeeded_completes_and_credits_once() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let role = app.customer_role(&sa, "r").await;
    let shop = app.shop(&sa, "R3", None, role).await;
    let store = &app.state.store;
    let id = offline(&app, &sa, shop, 20_000).await;
    let first = recharge_paid(&app.state, id, 1_773_594_000).await.unwrap();
    assert!(first.credited);
    assert_eq!(first.recharge.status, RechargeStatus::Completed);
    assert_eq!(
        first.recharge.paid_at.as_deref(),
        Some("2026-03-16T01:00:00+08:00")
    );
    let again = recharge_paid(&app.state, id, 1_773_594_100).await.unwrap();
    assert!(!again.credited);
    assert_eq!(again.recharge.paid_at, first.recharge.paid_at);
    assert_eq!(balance(store, shop).await, 20_000);

    // Concurrent callbacks: one credit.
    let id = offline(&app, &sa, shop, 30_000).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let state = app.state.clone();
        tasks.push(tokio::spawn(async move {
            recharge_paid(&state, id, 1_773_594_000).await
        }));
    }
    let mut credited = 0;
    for t in tasks {
        credited += usize::from(t.await.unwrap().unwrap().credited);
    }
    assert_eq!(credited, 1);
    assert_eq!(balance(store, shop).await, 50_000);

    // A cancelled recharge is never credited; a missing one is 1121.
    let mut cancelled = store.recharge(id).await.unwrap().unwrap();
    cancelled.id = 9_001;
    cancelled.status = RechargeStatus::Cancelled;
    store
        .put(recharge_item(&cancelled, 0, None).unwrap())
        .await
        .unwrap();
    let e = recharge_paid(&app.state, 9_001, 0).await.unwrap_err();
    assert!(matches!(e, RechargeError::NotPending));
    let e = recharge_paid(&app.state, 9_002, 0).await.unwrap_err();
    assert!(matches!(e, RechargeError::NotFound));
    assert_eq!(balance(store, shop).await, 50_000);
    assert!(check_wallet_invariants(store, Some(&[shop]))
        .await
        .unwrap()
        .is_empty());
}

fn ids(r: &crate::helpers::Resp) -> Vec<u64> {
    r.ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn lists_and_reads_are_scoped_to_the_callers_shop() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let ra = offline(&app, &cast.sa, cast.a, 10_000).await;
    let rb = offline(&app, &cast.sa, cast.b, 20_000).await;
    let rd = offline(&app, &cast.platform, cast.d, 30_000).await;
    let ra2 = offline(&app, &cast.sa, cast.a, 40_000).await;
    app.post(&pay_path(ra2), &cast.sa, pay(ADMIN_PASSWORD))
        .await
        .ok();

    // Newest first; the platform sees every shop's.
    assert_eq!(
        ids(&app.get(PATH, &cast.platform).await),
        vec![ra2, rd, rb, ra]
    );
    assert_eq!(
        ids(&app
            .get(&format!("{PATH}?shop_id={}", cast.a), &cast.sa)
            .await),
        vec![ra2, ra]
    );
    assert_eq!(
        ids(&app.get(&format!("{PATH}?status=2"), &cast.sa).await),
        vec![ra2]
    );
    assert_eq!(
        ids(&app
            .get(&format!("{PATH}?status=1&shop_id={}", cast.a), &cast.sa)
            .await),
        vec![ra]
    );
    assert!(ids(&app
        .get(&format!("{PATH}?payment_method=wechat"), &cast.sa)
        .await)
    .is_empty());
    let no = app.get(&format!("{PATH}/{rb}"), &cast.sa).await.ok()["recharge_no"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ids(&app.get(&format!("{PATH}?recharge_no={no}"), &cast.sa).await),
        vec![rb]
    );
    assert!(ids(&app
        .get(&format!("{PATH}?recharge_no=ARCH20200101000001"), &cast.sa)
        .await)
    .is_empty());
    let paged = app.get(&format!("{PATH}?page_size=3"), &cast.sa).await;
    assert_eq!(ids(&paged).len(), 3);
    assert_eq!(paged.data()["has_more"], true);
    app.get(&format!("{PATH}?status=4"), &cast.sa)
        .await
        .err(400, 1001);

    // An agent: its own shop's only, even below it (B's are not A's).
    assert_eq!(ids(&app.get(PATH, &cast.l1).await), vec![ra2, ra]);
    assert!(ids(&app
        .get(&format!("{PATH}?shop_id={}", cast.b), &cast.l1)
        .await)
    .is_empty());
    assert!(ids(&app.get(&format!("{PATH}?recharge_no={no}"), &cast.l1).await).is_empty());
    assert_eq!(ids(&app.get(PATH, &cast.sibling).await), vec![rd]);
    assert!(ids(&app.get(PATH, &cast.l3).await).is_empty());
    let own = app.get(&format!("{PATH}/{ra}"), &cast.l1).await;
    assert_eq!(own.ok()["shop_name"], "Shop A");
    for (token, id) in [
        (&cast.l1, rb),
        (&cast.l1, rd),
        (&cast.sibling, ra),
        (&cast.l3, rb),
        (&cast.sa, 999_999),
    ] {
        app.get(&format!("{PATH}/{id}"), token).await.err(404, 1121);
    }
    app.get(PATH, &cast.enterprise).await.err(403, 1005);
    app.get(&format!("{PATH}/{ra}"), &cast.enterprise)
        .await
        .err(403, 1005);
}
