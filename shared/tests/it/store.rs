//! The DynamoDB building blocks against the emulator.

use shared::store::calls::counted;
use shared::store::idempotency::{
    payload_hash, Claim, ClaimToken, IdempotencyError, IdempotencyTtl,
};
use shared::store::tx::{Cond, Tx, TxOutcome, Upd};
use shared::store::{n, num_attr, Item, Key, StoreError};

use crate::helpers::TestTable;

fn item(key: &Key, attrs: &[(&str, i64)]) -> Item {
    let mut i = key.item();
    for (k, v) in attrs {
        i.insert(k.to_string(), n(v));
    }
    i
}

#[tokio::test]
async fn conditional_create_is_unique_and_returns_the_existing_item() {
    let t = TestTable::new().await;
    let key = Key::new("UNIQUE#x", "#");
    t.store
        .put_new("unique_x", item(&key, &[("target_id", 1)]))
        .await
        .unwrap();
    let err = t
        .store
        .put_new("unique_x", item(&key, &[("target_id", 2)]))
        .await
        .unwrap_err();
    match err {
        StoreError::ConditionFailed { label, old } => {
            assert_eq!(label, "unique_x");
            assert_eq!(num_attr(&old.unwrap(), "target_id"), Some(1));
        }
        other => panic!("unexpected {other:?}"),
    }
    let stored = t.store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        num_attr(&stored, "target_id"),
        Some(1),
        "the loser wrote nothing"
    );
}

#[tokio::test]
async fn optimistic_lock_lets_exactly_one_concurrent_writer_win() {
    let t = TestTable::new().await;
    let key = Key::new("WALLET#1", "#");
    t.store
        .put_new("wallet", item(&key, &[("version", 1), ("balance", 0)]))
        .await
        .unwrap();
    let writers = (0..8).map(|i| {
        let store = t.store.clone();
        let key = key.clone();
        tokio::spawn(async move {
            store
                .put_versioned(
                    "wallet",
                    item(&key, &[("version", 2), ("balance", 100 + i)]),
                    1,
                )
                .await
        })
    });
    let results: Vec<_> = futures_join(writers).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "exactly one writer of version 1 wins");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.failed_label() == Some("wallet")));
    let stored = t.store.get(&key).await.unwrap().unwrap();
    assert_eq!(num_attr(&stored, "version"), Some(2));
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn transaction_reports_which_condition_failed_and_writes_nothing() {
    let t = TestTable::new().await;
    let a = Key::new("A", "#");
    let b = Key::new("B", "#");
    let c = Key::new("C", "#");
    t.store.put_new("b", item(&b, &[("v", 7)])).await.unwrap();
    let tx = Tx::new()
        .put_new("first", item(&a, &[]))
        .put_new("second_exists", item(&b, &[("v", 8)]))
        .update(
            "third",
            &c,
            Upd::new("ADD n :one").value(":one", n(1)),
            None,
        );
    let err = t.store.transact(tx).await.unwrap_err();
    match &err {
        StoreError::ConditionFailed { label, old } => {
            assert_eq!(*label, "second_exists");
            assert_eq!(num_attr(old.as_ref().unwrap(), "v"), Some(7));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(t.store.get(&a).await.unwrap().is_none(), "all or nothing");
    assert!(t.store.get(&c).await.unwrap().is_none(), "all or nothing");

    // A ConditionCheck failure is reported by its label as well.
    let tx = Tx::new().put_new("first", item(&a, &[])).check(
        "must_be_live",
        &b,
        Cond::new("v = :eight").value(":eight", n(8)),
    );
    assert_eq!(
        t.store.transact(tx).await.unwrap_err().failed_label(),
        Some("must_be_live")
    );
    assert!(t.store.get(&a).await.unwrap().is_none());
}

#[tokio::test]
async fn a_cancelled_transaction_names_every_failed_condition_by_operation() {
    let t = TestTable::new().await;
    let keys: Vec<Key> = (0..6).map(|i| Key::new(format!("K{i}"), "#")).collect();
    // K1 and K4 exist: their creations fail; K3's check fails; the rest would pass.
    for (k, v) in [(&keys[1], 1), (&keys[4], 4)] {
        t.store.put_new("seed", item(k, &[("v", v)])).await.unwrap();
    }
    let tx = Tx::new()
        .put_new("k0", item(&keys[0], &[]))
        .put_new("k1", item(&keys[1], &[("v", 10)]))
        .put_new("k2", item(&keys[2], &[]))
        .check("k3", &keys[3], Cond::new("attribute_exists(pk)"))
        .put_new("k4", item(&keys[4], &[("v", 40)]))
        .update(
            "k5",
            &keys[5],
            Upd::new("ADD n :one").value(":one", n(1)),
            None,
        );
    let TxOutcome::Cancelled(failed) = t.store.transact_each(tx).await.unwrap() else {
        panic!("the transaction was written");
    };
    let got: Vec<(usize, &str, Option<i64>)> = failed
        .iter()
        .map(|f| {
            (
                f.index,
                f.label,
                f.old.as_ref().and_then(|o| num_attr(o, "v")),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(1, "k1", Some(1)), (3, "k3", None), (4, "k4", Some(4))],
        "one reason per failed operation, with the item as it was"
    );
    for (i, k) in keys.iter().enumerate() {
        let stored = t.store.get(k).await.unwrap();
        let want = match i {
            1 => Some(Some(1)),
            4 => Some(Some(4)),
            _ => None,
        };
        assert_eq!(
            stored.map(|s| num_attr(&s, "v")),
            want,
            "K{i}: nothing written"
        );
    }
    // Without the failing operations, the rest goes through.
    let tx = Tx::new()
        .put_new("k0", item(&keys[0], &[]))
        .put_new("k2", item(&keys[2], &[]));
    assert!(matches!(
        t.store.transact_each(tx).await.unwrap(),
        TxOutcome::Written
    ));
    assert!(t.store.get(&keys[2]).await.unwrap().is_some());
}

#[tokio::test]
async fn expired_ttl_items_are_absent_before_dynamodb_deletes_them() {
    let t = TestTable::new().await;
    let key = Key::new("PROTECT#device#1#stop", "#");
    let now = 1_000_000;
    t.store
        .put(item(&key, &[("expires_at", now + 10)]))
        .await
        .unwrap();
    assert!(t.store.get_live(&key, now).await.unwrap().is_some());
    // The emulator (like DynamoDB, for up to days) still holds the item after expiry.
    assert!(t.store.get(&key).await.unwrap().is_some());
    assert!(t.store.get_live(&key, now + 10).await.unwrap().is_none());
    // A conditional put treats the expired item as absent, the live one as present.
    let live = t
        .store
        .put_if(
            "lock",
            item(&key, &[("expires_at", now + 20)]),
            Cond::absent_or_expired(now),
        )
        .await;
    assert_eq!(live.unwrap_err().failed_label(), Some("lock"));
    t.store
        .put_if(
            "lock",
            item(&key, &[("expires_at", now + 70)]),
            Cond::absent_or_expired(now + 11),
        )
        .await
        .unwrap();
}

const TTL: IdempotencyTtl = IdempotencyTtl {
    completed: 3600,
    in_progress: 30,
};

/// The owner token of a claim that must proceed.
fn proceed(claim: Claim) -> ClaimToken {
    match claim {
        Claim::Proceed(token) => token,
        other => panic!("expected to proceed, got {other:?}"),
    }
}

#[tokio::test]
async fn idempotency_claim_complete_replay_and_mismatch() {
    let t = TestTable::new().await;
    let h = payload_hash(&serde_json::json!({"amount": 100, "asset": "A"}));
    let same = payload_hash(&serde_json::json!({"asset": "A", "amount": 100}));
    assert_eq!(h, same, "hash ignores key order");
    let other = payload_hash(&serde_json::json!({"amount": 200}));
    let now = 5_000;

    let token = proceed(t.store.idempotency_claim("k1", &h, now, TTL).await.unwrap());
    // While in progress: the same request waits, a different one is refused.
    assert!(matches!(
        t.store.idempotency_claim("k1", &h, now + 1, TTL).await,
        Err(IdempotencyError::InProgress)
    ));
    assert!(matches!(
        t.store.idempotency_claim("k1", &other, now + 1, TTL).await,
        Err(IdempotencyError::PayloadMismatch)
    ));

    let response = serde_json::json!({"order_id": 42});
    t.store
        .idempotency_complete("k1", &h, &token, &response, now + 2, TTL)
        .await
        .unwrap();
    assert_eq!(
        t.store
            .idempotency_claim("k1", &h, now + 3, TTL)
            .await
            .unwrap(),
        Claim::Replay(response)
    );
    assert!(matches!(
        t.store.idempotency_claim("k1", &other, now + 3, TTL).await,
        Err(IdempotencyError::PayloadMismatch)
    ));
    // After the record expires the key is free again.
    proceed(
        t.store
            .idempotency_claim("k1", &other, now + 2 + 3600, TTL)
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn idempotency_stale_in_progress_is_taken_over_and_release_frees_the_key() {
    let t = TestTable::new().await;
    let h = payload_hash(&"p");
    let now = 10_000;
    let first = proceed(t.store.idempotency_claim("k", &h, now, TTL).await.unwrap());
    // The first attempt is slow or "crashed": after in_progress expires a retry takes over.
    assert!(matches!(
        t.store.idempotency_claim("k", &h, now + 29, TTL).await,
        Err(IdempotencyError::InProgress)
    ));
    let second = proceed(
        t.store
            .idempotency_claim("k", &h, now + 30, TTL)
            .await
            .unwrap(),
    );
    // The stale attempt can neither store its result over its successor's claim nor
    // free it.
    let stale = serde_json::json!("stale");
    assert!(matches!(
        t.store
            .idempotency_complete("k", &h, &first, &stale, now + 31, TTL)
            .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    t.store.idempotency_release("k", &first).await.unwrap();
    assert!(matches!(
        t.store.idempotency_claim("k", &h, now + 32, TTL).await,
        Err(IdempotencyError::InProgress)
    ));
    let fresh = serde_json::json!("fresh");
    t.store
        .idempotency_complete("k", &h, &second, &fresh, now + 33, TTL)
        .await
        .unwrap();
    assert_eq!(
        t.store
            .idempotency_claim("k", &h, now + 34, TTL)
            .await
            .unwrap(),
        Claim::Replay(fresh)
    );
    // ... never with a different payload.
    proceed(t.store.idempotency_claim("k2", &h, now, TTL).await.unwrap());
    assert!(matches!(
        t.store
            .idempotency_claim("k2", &payload_hash(&"q"), now + 31, TTL)
            .await,
        Err(IdempotencyError::PayloadMismatch)
    ));
    // A failed attempt releases its claim; a retry may start at once.
    let third = proceed(t.store.idempotency_claim("k3", &h, now, TTL).await.unwrap());
    t.store.idempotency_release("k3", &third).await.unwrap();
    proceed(
        t.store
            .idempotency_claim("k3", &h, now + 1, TTL)
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn idempotent_runs_work_once_under_replays_and_races() {
    let t = TestTable::new().await;
    let counter = Key::new("COUNTER#work", "#");
    let h = payload_hash(&"order");
    let run = |store: shared::store::Store| {
        let counter = counter.clone();
        let h = h.clone();
        async move {
            store
                .idempotent("order-1", &h, 100, TTL, || async {
                    let tx = Tx::new().update(
                        "c",
                        &counter,
                        Upd::new("ADD n :one").value(":one", n(1)),
                        None,
                    );
                    store.transact(tx).await.map(|_| 7u64)
                })
                .await
        }
    };
    let first = run(t.store.clone()).await.unwrap().unwrap();
    let replay = run(t.store.clone()).await.unwrap().unwrap();
    assert_eq!((first, replay), (7, 7));
    let racers: Vec<_> = (0..6).map(|_| tokio::spawn(run(t.store.clone()))).collect();
    for r in racers {
        // Each racer either replays the stored result or sees the key in progress.
        match r.await.unwrap() {
            Ok(Ok(v)) => assert_eq!(v, 7),
            Err(IdempotencyError::InProgress) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let c = t.store.get(&counter).await.unwrap().unwrap();
    assert_eq!(num_attr(&c, "n"), Some(1), "the work ran exactly once");

    // Failed work releases the key: the retry runs the work.
    let failing = t
        .store
        .idempotent("order-2", &h, 100, TTL, || async {
            Err::<u64, &str>("boom")
        })
        .await
        .unwrap();
    assert_eq!(failing, Err("boom"));
    let retried = t
        .store
        .idempotent("order-2", &h, 100, TTL, || async { Ok::<u64, &str>(9) })
        .await
        .unwrap();
    assert_eq!(retried, Ok(9));
}

#[tokio::test]
async fn rate_limit_counts_per_window_and_holds_under_concurrency() {
    let t = TestTable::new().await;
    let now = 1_200;
    let hits: Vec<_> = (0..12)
        .map(|_| {
            let store = t.store.clone();
            tokio::spawn(async move {
                store
                    .hit_rate_limit("login#user#bob", 5, 60, now)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut allowed = 0;
    for h in hits {
        allowed += h.await.unwrap() as usize;
    }
    assert_eq!(allowed, 5);
    assert!(
        t.store
            .hit_rate_limit("login#user#bob", 5, 60, now + 60)
            .await
            .unwrap(),
        "next window"
    );
    assert!(
        t.store
            .hit_rate_limit("login#user#alice", 5, 60, now)
            .await
            .unwrap(),
        "per scope"
    );
}

#[tokio::test]
async fn ids_are_sequential_and_calls_are_counted() {
    let t = TestTable::new().await;
    let (ids, calls) = counted(async {
        let a = t.store.next_id("shop").await.unwrap();
        let b = t.store.next_ids("shop", 10).await.unwrap();
        let c = t.store.next_id("shop").await.unwrap();
        (a, b, c)
    })
    .await;
    assert_eq!(ids, (1, 2, 12));
    assert_eq!(calls, 3);
    let (_, calls) = counted(t.store.get_many(&[Key::new("X", "#"), Key::new("Y", "#")])).await;
    assert_eq!(calls, 1, "a batch read is one call");
    let (_, calls) = counted(async {}).await;
    assert_eq!(calls, 0);
    // Reads report the capacity they consumed.
    let (_, usage) = shared::store::calls::measured(async {
        t.store.next_id("shop").await.unwrap();
        t.store.get(&Key::new("COUNTER#shop", "#")).await.unwrap()
    })
    .await;
    assert_eq!(usage.calls, 2);
    assert!(usage.read_units > 0.0, "{usage:?}");
}

#[tokio::test]
async fn calls_in_spawned_tasks_count_toward_the_request() {
    let t = TestTable::new().await;
    let (_, calls) = counted(async {
        let store = t.store.clone();
        let handle = tokio::spawn(shared::store::calls::inherit(async move {
            store.get(&Key::new("X", "#")).await.unwrap();
            store.get(&Key::new("Y", "#")).await.unwrap();
        }));
        handle.await.unwrap();
        // Without `inherit`, a spawned task's calls are not counted.
        let store = t.store.clone();
        tokio::spawn(async move { store.get(&Key::new("Z", "#")).await.unwrap() })
            .await
            .unwrap();
    })
    .await;
    assert_eq!(calls, 2);
}

#[tokio::test]
async fn oversize_steps_and_transactions_are_refused_not_a_crash() {
    use shared::store::steps::{Change, Op};
    let t = TestTable::new().await;
    let key = |i: usize| Key::new(format!("T#{i}"), "#");
    let check = |i: usize| Op::Check("guard", key(i), Cond::new("attribute_not_exists(pk)"));
    // A guard longer than a transaction (the room left used to underflow).
    let guard: Vec<Op> = (0..101).map(check).collect();
    let change = Change {
        ops: vec![Op::Put("p", item(&key(500), &[]), None)],
        undo: vec![],
    };
    let err = t.store.apply_changes(&guard, vec![change]).await;
    assert!(matches!(err, Err(StoreError::TooLarge { .. })), "{err:?}");
    // A change that cannot fit beside its guard.
    let big = Change {
        ops: (0..10)
            .map(|i| Op::Put("p", item(&key(600 + i), &[]), None))
            .collect(),
        undo: vec![],
    };
    let guard: Vec<Op> = (0..95).map(check).collect();
    let err = t.store.apply_changes(&guard, vec![big]).await;
    assert!(
        matches!(err, Err(StoreError::TooLarge { ops: 105 })),
        "{err:?}"
    );
    // Nothing was written.
    assert!(t.store.get(&key(500)).await.unwrap().is_none());
    assert!(t.store.get(&key(600)).await.unwrap().is_none());
    // Transactions themselves refuse more than 100 operations.
    let tx = (0..101).fold(Tx::new(), |tx, i| {
        tx.put("p", item(&key(700 + i), &[]), None)
    });
    assert!(matches!(
        t.store.transact(tx).await,
        Err(StoreError::TooLarge { ops: 101 })
    ));
}
