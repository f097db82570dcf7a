//! The manual trigger by shop and by filters (J9), and the polling backfill: against
//! the emulator, reading what was really queued and which cohorts hold each card.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use shared::config::JobQueue;
use shared::domain::polling::{minute, TaskType};
use shared::services::polling::backfill;
use shared::services::polling::CheckMessage;
use shared::store::keys;

use crate::helpers::assets::{all, iccid, import_cards, tree_with_cards};
use crate::helpers::{spawn_app, TestApp};

const TRIGGER: &str = "/api/admin/polling-manual-trigger";
const BACKFILL: &str = "/api/admin/internal/polling-backfill";

/// A card CSV with rows `from..to` of batch `batch`.
fn csv(from: u64, to: u64, batch: &str) -> String {
    let mut csv = String::from("iccid,msisdn,imsi,virtual_no,carrier_code,batch_no\n");
    for i in from..to {
        csv.push_str(&format!(
            "{},{},,,CMCC,{batch}\n",
            iccid(i),
            13_800_000_000 + i
        ));
    }
    csv
}

/// Every card id queued for card data checks (drains the queue).
async fn queued(app: &TestApp) -> Vec<u64> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    loop {
        let sink = seen.clone();
        let n = shared::local::pump_job_queue(
            &app.state,
            JobQueue::PollingCarddata,
            0,
            |e| async move {
                for r in &e.records {
                    let m: CheckMessage = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
                    sink.lock().unwrap().extend(m.cards);
                }
                Default::default()
            },
        )
        .await
        .unwrap();
        if n == 0 {
            break;
        }
    }
    let out = seen.lock().unwrap().clone();
    out
}

fn ids(list: &[Value]) -> Vec<u64> {
    let mut v: Vec<u64> = list.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    v.sort_unstable();
    v
}

#[tokio::test]
async fn a_trigger_by_shop_or_filters_queues_exactly_those_cards_once() {
    let app = spawn_app().await;
    let tree = tree_with_cards(&app, 3).await;
    let admin = &tree.admin;
    // Shop A owns 130 cards (more than one page of the selection), its child B 5.
    import_cards(
        &app,
        admin,
        &csv(101, 231, "BA"),
        json!({"shop_id": tree.a}),
    )
    .await;
    import_cards(
        &app,
        admin,
        &csv(301, 306, "BB"),
        json!({"shop_id": tree.b}),
    )
    .await;
    let a_cards = ids(&all(
        &app,
        admin,
        &format!("/api/admin/iot-cards?shop_id={}", tree.a),
    )
    .await);
    let b_cards = ids(&all(
        &app,
        admin,
        &format!("/api/admin/iot-cards?shop_id={}", tree.b),
    )
    .await);
    assert_eq!((a_cards.len(), b_cards.len()), (130, 5));
    queued(&app).await;

    // By shop: the shop's own cards (not its child's), each once.
    let r = app
        .post(
            TRIGGER,
            admin,
            json!({"task_type": "carddata", "shop_id": tree.a}),
        )
        .await;
    assert_eq!(r.ok()["card_count"], json!(130));
    let mut got = queued(&app).await;
    got.sort_unstable();
    assert_eq!(got, a_cards, "every card of A queued exactly once");

    // By filters: batch BB is B's cards.
    let r = app
        .post(
            TRIGGER,
            admin,
            json!({"task_type": "carddata", "filters": {"batch_no": "BB"}}),
        )
        .await;
    assert_eq!(r.ok()["card_count"], json!(5));
    let mut got = queued(&app).await;
    got.sort_unstable();
    assert_eq!(got, b_cards);
    // An ICCID prefix alone reads the platform-wide index (prefix in the key).
    let r = app
        .post(
            TRIGGER,
            admin,
            json!({"task_type": "carddata", "filters": {"prefix": &iccid(301)[..19]}}),
        )
        .await;
    assert_eq!(r.ok()["card_count"], json!(5));
    let mut got = queued(&app).await;
    got.sort_unstable();
    assert_eq!(got, b_cards);
    // An ICCID prefix within a batch (the batch index, the prefix filtered).
    let prefix = &iccid(101)[..19];
    let r = app
        .post(
            TRIGGER,
            admin,
            json!({"task_type": "carddata", "filters": {"prefix": prefix, "batch_no": "BA"}}),
        )
        .await;
    assert_eq!(r.ok()["card_count"], json!(9), "ICCIDs 101..=109");
    assert_eq!(queued(&app).await.len(), 9);

    // The log records selector and target.
    let logs = app.get(&format!("{TRIGGER}/logs"), admin).await;
    let list = logs.ok()["list"].as_array().unwrap().clone();
    assert_eq!(list[2]["selector"], "filters");
    assert_eq!(list[2]["filters"], json!({"batch_no": "BB"}));
    assert_eq!(list[2]["card_count"], json!(5));
    assert_eq!(list[3]["selector"], "shop_id");
    assert_eq!(list[3]["shop_id"], json!(tree.a));
    assert_eq!(list[3]["card_count"], json!(130));

    // Bad bodies: two selectors, none, an unknown or empty filter; an unknown shop.
    for body in [
        json!({"task_type": "carddata", "shop_id": tree.a, "filters": {"batch_no": "BB"}}),
        json!({"task_type": "carddata", "shop_id": tree.a, "iot_card_ids": [a_cards[0]]}),
        json!({"task_type": "carddata"}),
        json!({"task_type": "carddata", "filters": {"colour": "red"}}),
        json!({"task_type": "carddata", "filters": {}}),
        json!({"task_type": "carddata", "filters": {"prefix": "  "}}),
        json!({"task_type": "carddata", "shop": tree.a}),
        json!({"task_type": "sms", "shop_id": tree.a}),
    ] {
        let r = app.post(TRIGGER, admin, body.clone()).await;
        assert_eq!(r.code(), 1001, "{body}: {r:?}");
    }
    app.post(
        TRIGGER,
        admin,
        json!({"task_type": "carddata", "shop_id": 987_654}),
    )
    .await
    .err(404, 1002);
    assert!(
        queued(&app).await.is_empty(),
        "refused triggers queue nothing"
    );
}

/// How many cohorts of `task` (due within the next two intervals) hold each card.
async fn memberships(app: &TestApp, task: TaskType) -> BTreeMap<u64, usize> {
    let now = app.state.clock.now();
    let cohorts = app
        .state
        .store
        .due_cohorts(task, minute(now) + 30, now, 1000)
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for c in cohorts {
        for id in c.cards {
            *out.entry(id).or_default() += 1;
        }
    }
    out
}

/// Makes card `id` look like a card from before polling: no marker, no cohort.
async fn unschedule(app: &TestApp, id: u64) {
    let store = &app.state.store;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(keys::card(id).item()))
        .update_expression("REMOVE polling_scheduled")
        .send()
        .await
        .unwrap();
    let now = app.state.clock.now();
    for task in [TaskType::Realname, TaskType::Carddata, TaskType::Package] {
        for c in store
            .due_cohorts(task, minute(now) + 30, now, 1000)
            .await
            .unwrap()
        {
            if c.cards.contains(&id) {
                store.leave_cohort(task, &c.sk, id).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn the_backfill_schedules_each_unscheduled_card_once() {
    let app = spawn_app().await;
    let tree = tree_with_cards(&app, 30).await;
    let admin = &tree.admin;
    let cards = ids(&all(&app, admin, "/api/admin/iot-cards").await);
    assert_eq!(cards.len(), 30);
    // The clock stands still from here (moved only by the test).
    app.state.clock.set(app.state.clock.now());
    let tasks = [TaskType::Realname, TaskType::Carddata, TaskType::Package];
    for t in tasks {
        assert_eq!(memberships(&app, t).await.len(), 30, "imported: scheduled");
    }
    // 20 cards from before polling; 10 imported (scheduled, marked).
    let old: Vec<u64> = cards[..20].to_vec();
    for &id in &old {
        unschedule(&app, id).await;
    }
    for t in tasks {
        assert_eq!(memberships(&app, t).await.len(), 10);
    }

    // Page by page, resuming from the saved position.
    let store = &app.state.store;
    let now = app.state.clock.now();
    let first = backfill::backfill(store, now, 1).await.unwrap();
    assert_eq!(first.pages, 1);
    assert!(!first.done, "a page reads at most 4 of the 16 shards");
    let rest = app.post(BACKFILL, admin, json!({})).await;
    let rest = rest.ok().clone();
    assert_eq!(rest["done"], json!(true));
    assert_eq!(first.scheduled + rest["scheduled"].as_u64().unwrap(), 20);
    let once: BTreeMap<u64, usize> = cards.iter().map(|&id| (id, 1)).collect();
    for t in tasks {
        assert_eq!(memberships(&app, t).await, once, "{t:?}");
    }

    // Twice in a row: nothing more.
    let again = app.post(BACKFILL, admin, json!({})).await;
    assert_eq!(again.ok()["scheduled"], json!(0));
    assert_eq!(again.ok()["passes"], json!(2));
    for t in tasks {
        assert_eq!(memberships(&app, t).await, once);
    }

    // Twice at once (markers lost, e.g. a crash before marking): still one cohort
    // each.
    for &id in &old[..8] {
        store
            .client()
            .update_item()
            .table_name(store.table())
            .set_key(Some(keys::card(id).item()))
            .update_expression("REMOVE polling_scheduled")
            .send()
            .await
            .unwrap();
    }
    let now = app.state.clock.now();
    let (a, b) = tokio::join!(
        backfill::backfill(store, now, 20),
        backfill::backfill(store, now, 20)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.scheduled + b.scheduled >= 8, "{a:?} {b:?}");
    for t in tasks {
        assert_eq!(memberships(&app, t).await, once, "{t:?}");
    }
    // Later, under a dispatcher running every minute (the clock stands still
    // between ticks, so no cohort is dispatched late: see docs/polling.md): a card whose cohort is due
    // this minute and is backfilled again joins the cohort one interval on, and the
    // dispatcher's move of the due cohort merges into it.
    for _ in 0..11 {
        app.state.clock.advance(60);
        shared::jobs::polling::dispatch(&app.state).await.unwrap();
    }
    app.state.clock.advance(60);
    for &id in &old[..8] {
        store
            .client()
            .update_item()
            .table_name(store.table())
            .set_key(Some(keys::card(id).item()))
            .update_expression("REMOVE polling_scheduled")
            .send()
            .await
            .unwrap();
    }
    let r = backfill::backfill(store, app.state.clock.now(), 20)
        .await
        .unwrap();
    assert_eq!(r.scheduled, 8);
    let mut doubled = 0;
    for t in tasks {
        doubled += memberships(&app, t)
            .await
            .values()
            .filter(|n| **n > 1)
            .count();
    }
    assert!(
        doubled > 0,
        "some card was due this minute and is in two cohorts"
    );
    shared::jobs::polling::dispatch(&app.state).await.unwrap();
    for t in tasks {
        assert_eq!(memberships(&app, t).await, once, "{t:?} after the dispatch");
    }
    let marked: HashSet<u64> = {
        let mut s = HashSet::new();
        for &id in &cards {
            let c: shared::domain::assets::IotCard =
                store.get_as(&keys::card(id)).await.unwrap().unwrap();
            if c.polling_scheduled {
                s.insert(id);
            }
        }
        s
    };
    assert_eq!(marked.len(), 30);
}
