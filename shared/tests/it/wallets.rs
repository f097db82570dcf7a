//! Agent wallets: the ledger (replay, conflicts, races, freezes, a caller's own
//! transaction), the invariant check, and the wallet routes' scope.

use serde_json::Value;
use shared::domain::wallet::{LedgerEntry, Movement, MovementError, TxType, WalletKind};
use shared::services::wallets::check_wallet_invariants;
use shared::store::keys;
use shared::store::tx::{Tx, TxOutcome};
use shared::store::wallets::{ledger_cancel, ledger_ops, LedgerCancel, LedgerError};
use shared::store::{to_item, Key, Store, StoreError};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, TestApp};

fn entry(event: &str, shop: u64, movement: Movement, at: i64) -> LedgerEntry {
    let tx_type = match movement {
        Movement::Credit(_) => TxType::Recharge,
        Movement::CreditFrozen(_) => TxType::Commission,
        Movement::Freeze(_) => TxType::Freeze,
        Movement::Unfreeze(_) => TxType::Unfreeze,
        Movement::Debit(_) | Movement::DebitFrozen(_) => TxType::OrderPayment,
    };
    LedgerEntry::new(event, shop, WalletKind::Main, movement, tx_type, at)
}

async fn balances(store: &Store, shop: u64) -> (i64, i64) {
    let w = store.wallet(shop, WalletKind::Main).await.unwrap().unwrap();
    (w.balance, w.frozen_balance)
}

async fn assert_sound(store: &Store, shops: &[u64]) {
    let violations = check_wallet_invariants(store, Some(shops)).await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

/// A shop (with its two wallets) created by the super admin.
async fn one_shop(app: &TestApp, code: &str) -> u64 {
    let sa = app.admin().await;
    let role = app.customer_role(&sa, &format!("role-{code}")).await;
    app.shop(&sa, code, None, role).await
}

#[tokio::test]
async fn a_replayed_event_returns_its_first_line_and_a_different_one_is_refused() {
    let app = spawn_app().await;
    let store = &app.state.store;
    let shop = one_shop(&app, "W1").await;
    let first = store
        .ledger(&entry("test:1", shop, Movement::Credit(100), 1000))
        .await
        .unwrap();
    assert!(!first.replayed);
    assert_eq!(
        (first.line.balance_before, first.line.balance_after),
        (0, 100)
    );
    assert_eq!(first.line.agent_wallet_id, shop * 2);
    assert_eq!(first.line.wallet_version, 2);
    // The same event again, even later: the first line, nothing moves.
    let again = store
        .ledger(&entry("test:1", shop, Movement::Credit(100), 2000))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.line, first.line);
    assert_eq!(balances(store, shop).await, (100, 0));
    // The same event id with another amount, direction or wallet is a conflict.
    let mut other_wallet = entry("test:1", shop, Movement::Credit(100), 2000);
    other_wallet.kind = WalletKind::Commission;
    for conflicting in [
        entry("test:1", shop, Movement::Credit(101), 2000),
        entry("test:1", shop, Movement::Debit(100), 2000),
        other_wallet,
    ] {
        let e = store.ledger(&conflicting).await.unwrap_err();
        assert!(matches!(e, LedgerError::EventConflict(_)), "{e:?}");
        assert_eq!(e.code().0, 1125);
    }
    // A debit replayed after the money is gone is still a replay, not a refusal.
    let spent = store
        .ledger(&entry("test:2", shop, Movement::Debit(100), 3000))
        .await
        .unwrap();
    let replay = store
        .ledger(&entry("test:2", shop, Movement::Debit(100), 3000))
        .await
        .unwrap();
    assert!(replay.replayed && replay.line == spent.line);
    let e = store
        .ledger(&entry("test:3", shop, Movement::Debit(1), 3000))
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        LedgerError::Refused(MovementError::Insufficient {
            available: 0,
            amount: 1
        })
    ));
    assert_eq!(e.code().0, 1123);
    assert_eq!(balances(store, shop).await, (0, 0));
    let missing = store
        .ledger(&entry("test:4", 999_999, Movement::Credit(1), 3000))
        .await
        .unwrap_err();
    assert!(matches!(missing, LedgerError::WalletNotFound));
    let bad = store
        .ledger(&entry("bad id", shop, Movement::Credit(1), 3000))
        .await
        .unwrap_err();
    assert!(matches!(bad, LedgerError::Invalid(_)));
    assert_eq!(
        store
            .wallet_lines(shop, WalletKind::Main)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_sound(store, &[shop]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_racing_debits_of_ten_against_a_hundred_succeed_exactly_ten_times() {
    let app = spawn_app().await;
    let store = app.state.store.clone();
    let shop = one_shop(&app, "W2").await;
    store
        .ledger(&entry("race:credit", shop, Movement::Credit(100), 1000))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let e = entry(
                &format!("race:debit:{i}"),
                shop,
                Movement::Debit(10),
                1000 + i,
            );
            // A client retries what answers "busy" (1058), as the code says.
            for _ in 0..20 {
                match store.ledger(&e).await {
                    Err(LedgerError::Store(StoreError::Contended { .. })) => continue,
                    other => return other,
                }
            }
            store.ledger(&e).await
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(outcome) => {
                assert!(!outcome.replayed);
                ok += 1;
            }
            Err(LedgerError::Refused(MovementError::Insufficient { .. })) => refused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, refused), (10, 20));
    assert_eq!(balances(&store, shop).await, (0, 0));
    let lines = store.wallet_lines(shop, WalletKind::Main).await.unwrap();
    assert_eq!(lines.len(), 11);
    assert_sound(&store, &[shop]).await;
}

#[tokio::test]
async fn freezes_reserve_money_and_only_frozen_money_is_released_or_spent() {
    let app = spawn_app().await;
    let store = &app.state.store;
    let shop = one_shop(&app, "W3").await;
    let apply = |event: &'static str, m: Movement| {
        let e = entry(event, shop, m, 1000);
        async move { store.ledger(&e).await }
    };
    apply("f:1", Movement::Credit(100)).await.unwrap();
    apply("f:2", Movement::Freeze(60)).await.unwrap();
    assert_eq!(balances(store, shop).await, (100, 60));
    // Only the unfrozen 40 may be spent or frozen.
    for m in [Movement::Debit(41), Movement::Freeze(41)] {
        let e = apply("f:x", m).await.unwrap_err();
        assert_eq!(e.code().0, 1123, "{m:?}");
    }
    let e = apply("f:y", Movement::Unfreeze(61)).await.unwrap_err();
    assert!(matches!(
        e,
        LedgerError::Refused(MovementError::FrozenShort {
            frozen: 60,
            amount: 61
        })
    ));
    assert_eq!(e.code().0, 1127);
    apply("f:3", Movement::Unfreeze(20)).await.unwrap();
    let spent = apply("f:4", Movement::DebitFrozen(40)).await.unwrap();
    assert_eq!(
        (
            spent.line.frozen_before,
            spent.line.frozen_after,
            spent.line.balance_after
        ),
        (40, 0, 60)
    );
    apply("f:5", Movement::Debit(60)).await.unwrap();
    assert_eq!(balances(store, shop).await, (0, 0));
    assert!(apply("f:6", Movement::DebitFrozen(1)).await.is_err());
    assert_sound(store, &[shop]).await;
}

#[tokio::test]
async fn the_ledger_operations_join_a_callers_transaction() {
    let app = spawn_app().await;
    let store = &app.state.store;
    let shop = one_shop(&app, "W4").await;
    store
        .ledger(&entry("o:credit", shop, Movement::Credit(500), 1000))
        .await
        .unwrap();
    let order = |id: &str| {
        let mut item = Key::new(format!("TESTORDER#{id}"), "#").item();
        item.insert("amount".into(), shared::store::n(300));
        item
    };
    let pay = entry("order:1:pay", shop, Movement::Debit(300), 2000);
    let wallet = store.wallet(shop, WalletKind::Main).await.unwrap().unwrap();
    let (tx, line) = ledger_ops(Tx::new().put_new("order", order("1")), &wallet, &pay).unwrap();
    assert_eq!(tx.len(), 3);
    assert!(matches!(
        store.transact_each(tx).await.unwrap(),
        TxOutcome::Written
    ));
    assert_eq!(line.balance_after, 200);
    assert_eq!(
        store.ledger_line("order:1:pay").await.unwrap(),
        Some(line.clone())
    );

    // The same request again (the order's key is its idempotency): the ledger says
    // it was applied, and answers the first line.
    let stale = wallet.clone();
    let (tx, _) = ledger_ops(Tx::new().put_new("order", order("1")), &stale, &pay).unwrap();
    let TxOutcome::Cancelled(failed) = store.transact_each(tx).await.unwrap() else {
        panic!("a replay must be cancelled");
    };
    assert_eq!(
        ledger_cancel(&pay, &failed).unwrap(),
        LedgerCancel::Replayed(line)
    );

    // Another order read the wallet before the first paid: its version is stale.
    let second = entry("order:2:pay", shop, Movement::Debit(100), 2000);
    let (tx, _) = ledger_ops(Tx::new().put_new("order", order("2")), &stale, &second).unwrap();
    let TxOutcome::Cancelled(failed) = store.transact_each(tx).await.unwrap() else {
        panic!("a stale wallet must cancel");
    };
    match ledger_cancel(&second, &failed).unwrap() {
        LedgerCancel::WalletChanged(Some(now)) => assert_eq!(now.balance, 200),
        other => panic!("{other:?}"),
    }
    // Retried with the wallet as it is now, it goes through.
    let now = store.wallet(shop, WalletKind::Main).await.unwrap().unwrap();
    let (tx, _) = ledger_ops(Tx::new().put_new("order", order("2")), &now, &second).unwrap();
    assert!(matches!(
        store.transact_each(tx).await.unwrap(),
        TxOutcome::Written
    ));

    // The caller's own condition failing is not the ledger's business.
    let third = entry("order:3:pay", shop, Movement::Debit(1), 2000);
    let now = store.wallet(shop, WalletKind::Main).await.unwrap().unwrap();
    let (tx, _) = ledger_ops(Tx::new().put_new("order", order("1")), &now, &third).unwrap();
    let TxOutcome::Cancelled(failed) = store.transact_each(tx).await.unwrap() else {
        panic!("the order exists");
    };
    assert_eq!(
        ledger_cancel(&third, &failed).unwrap(),
        LedgerCancel::NotLedger
    );
    // A refused movement adds nothing to the transaction.
    let too_much = entry("order:4:pay", shop, Movement::Debit(101), 2000);
    assert!(ledger_ops(Tx::new(), &now, &too_much).is_err());
    assert_eq!(balances(store, shop).await, (100, 0));
    assert_sound(store, &[shop]).await;
}

#[tokio::test]
async fn the_invariant_check_finds_a_wallet_changed_outside_the_ledger() {
    let app = spawn_app().await;
    let store = &app.state.store;
    let shop = one_shop(&app, "W5").await;
    let other = one_shop(&app, "W6").await;
    for (i, m) in [
        Movement::Credit(300),
        Movement::Freeze(100),
        Movement::Debit(50),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .ledger(&entry(&format!("inv:{i}"), shop, m, 1000))
            .await
            .unwrap();
    }
    assert_sound(store, &[shop, other]).await;
    assert!(check_wallet_invariants(store, None)
        .await
        .unwrap()
        .is_empty());
    // Someone writes a balance without a line.
    let mut w = store.wallet(shop, WalletKind::Main).await.unwrap().unwrap();
    w.balance += 1;
    store
        .put(to_item(&w, &keys::agent_wallet(shop, "main")).unwrap())
        .await
        .unwrap();
    for scope in [Some(vec![shop, other]), None] {
        let found = check_wallet_invariants(store, scope.as_deref())
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].shop_id, found[0].wallet_type.as_str()),
            (shop, "main")
        );
    }
}

fn list(r: &crate::helpers::Resp) -> Vec<Value> {
    r.ok()["list"].as_array().unwrap().clone()
}

#[tokio::test]
async fn wallet_routes_answer_within_the_shop_scope() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let store = &app.state.store;
    let now = app.state.clock.now();
    for (i, m) in [
        Movement::Credit(1000),
        Movement::Freeze(300),
        Movement::Debit(200),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .ledger(&entry(&format!("route:{i}"), cast.b, m, now))
            .await
            .unwrap();
    }
    let wallets = format!("/api/admin/shops/{}/wallets", cast.b);
    let lines = format!("/api/admin/wallets/{}/transactions", cast.b * 2);
    let expect: [(&str, u16, i64); 6] = [
        (&cast.sa, 200, 0),
        (&cast.platform, 200, 0),
        (&cast.l1, 200, 0),
        (&cast.l3, 404, 1002),
        (&cast.sibling, 404, 1002),
        (&cast.enterprise, 403, 1005),
    ];
    for (token, status, code) in expect {
        for path in [&wallets, &lines] {
            let r = app.get(path, token).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (status, code),
                "{path}: {:?}",
                r.body
            );
        }
    }
    let r = app.get(&wallets, &cast.l1).await;
    let shown = list_of(r.ok());
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0]["wallet_type"], "main");
    assert_eq!(shown[0]["id"], cast.b * 2);
    assert_eq!(
        (
            &shown[0]["balance"],
            &shown[0]["frozen_balance"],
            &shown[0]["available_balance"]
        ),
        (&Value::from(800), &Value::from(300), &Value::from(500))
    );
    assert_eq!(
        (&shown[1]["wallet_type"], &shown[1]["id"]),
        (&Value::from("commission"), &Value::from(cast.b * 2 + 1))
    );
    // The agent of C sees its own wallets.
    app.get(&format!("/api/admin/shops/{}/wallets", cast.c), &cast.l3)
        .await
        .ok();

    // Newest first, a page at a time.
    let first = app.get(&format!("{lines}?page_size=2"), &cast.l1).await;
    let page = list(&first);
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["event_id"], "route:2");
    assert_eq!(page[0]["movement"], "debit");
    assert_eq!(page[1]["transaction_type"], "freeze");
    let cursor = first.data()["next_cursor"].as_str().unwrap().to_string();
    let second = app
        .get(&format!("{lines}?page_size=2&cursor={cursor}"), &cast.l1)
        .await;
    let rest = list(&second);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["event_id"], "route:0");
    assert_eq!(second.data()["has_more"], false);
    // Filters: type, Shanghai days.
    let typed = app
        .get(&format!("{lines}?transaction_type=recharge"), &cast.sa)
        .await;
    assert_eq!(list(&typed).len(), 1);
    let today = chrono::DateTime::from_timestamp(now, 0)
        .unwrap()
        .with_timezone(&shared::clock::cst())
        .format("%Y-%m-%d")
        .to_string();
    let dated = app
        .get(
            &format!("{lines}?start_date={today}&end_date={today}"),
            &cast.sa,
        )
        .await;
    assert_eq!(list(&dated).len(), 3);
    let old = app
        .get(
            &format!("{lines}?start_date=2020-01-01&end_date=2020-01-31"),
            &cast.sa,
        )
        .await;
    assert!(list(&old).is_empty());
    let commission = format!("/api/admin/wallets/{}/transactions", cast.b * 2 + 1);
    assert!(list(&app.get(&commission, &cast.l1).await).is_empty());
    for bad in [
        format!("{lines}?start_date=16-03-2026"),
        format!("{lines}?start_date=2026-03-17&end_date=2026-03-16"),
        format!("{lines}?transaction_type=gift"),
        format!("{lines}?page_size=0"),
    ] {
        app.get(&bad, &cast.sa).await.err(400, 1001);
    }
    for missing in [
        "/api/admin/wallets/1/transactions",
        "/api/admin/wallets/99998/transactions",
        "/api/admin/shops/99999/wallets",
    ] {
        app.get(missing, &cast.sa).await.err(404, 1002);
    }
}

fn list_of(v: &Value) -> Vec<Value> {
    v.as_array().unwrap().clone()
}
