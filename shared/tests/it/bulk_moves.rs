//! Bulk allocation and recall (decisions.md B4): more than 500 assets answer 202 with
//! a task that the bulk worker carries out slice by slice; a replayed message or a
//! worker that died half-way moves nothing twice and the counts end exact; the
//! results download as a CSV; tasks are scoped; a move that fails for another reason
//! than a condition is reported per asset.

use std::collections::HashMap;

use serde_json::{json, Value};
use shared::jobs::bulk_sweeper;
use shared::local::pump_bulk_queue;
use shared::store::calls::counted;
use shared::store::{keys, str_attr};

use crate::helpers::assets::{
    all, carrier, drain_bulk as drain, iccid, import_cards, import_devices, tree_with_cards,
};
use crate::helpers::{spawn_app, TestApp};

/// A card CSV with rows `from..to` (ICCID only, so seeding stays cheap).
fn plain_cards(from: u64, to: u64) -> String {
    (from..to).fold("iccid,carrier_code,batch_no\n".to_string(), |csv, i| {
        csv + &format!("{},CMCC,BIG\n", iccid(i))
    })
}

async fn task(app: &TestApp, token: &str, id: u64) -> Value {
    app.get(&format!("/api/admin/bulk-tasks/{id}"), token)
        .await
        .ok()
        .clone()
}

/// The sample SQS event with this body, as Lambda delivers it.
fn event(body: Value) -> aws_lambda_events::event::sqs::SqsEvent {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sqs-bulk.json");
    let raw = std::fs::read_to_string(path).unwrap();
    let mut event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&raw).unwrap();
    event.records[0].body = Some(body.to_string());
    event
}

/// Items of the table whose partition key starts with `prefix`.
async fn items(app: &TestApp, prefix: &str) -> Vec<shared::store::Item> {
    app.table
        .scan()
        .await
        .into_iter()
        .filter(|i| str_attr(i, "pk").is_some_and(|pk| pk.starts_with(prefix)))
        .collect()
}

/// The results file of task `id`, downloaded through its presigned URL, by row.
async fn results_file(app: &TestApp, token: &str, id: u64) -> Vec<Vec<String>> {
    let r = app
        .get(&format!("/api/admin/bulk-tasks/{id}/results"), token)
        .await;
    let url = r.ok()["download_url"].as_str().unwrap().to_string();
    let body = shared::integrations::http_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn six_hundred_cards_move_as_a_task_once_each_through_replays_and_a_crash() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    import_cards(&app, &admin, &plain_cards(1, 601), json!({})).await;
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    let b = app.shop(&admin, "B", Some(a), role).await;
    app.shop(&admin, "D", None, role).await;
    app.platform_account(&admin, "ops", "password-ops").await;
    let platform = app.login("ops", "password-ops").await;
    let range = json!({"to_shop_id": a, "iccid_start": iccid(1), "iccid_end": iccid(600)});

    let r = app
        .post("/api/admin/iot-cards/allocate", &platform, range)
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    assert_eq!(r.code(), 0);
    let id = r.data()["task_id"].as_u64().unwrap();
    assert_eq!(
        (r.data()["status"].as_str(), r.data()["operation"].as_str()),
        (Some("pending"), Some("allocate"))
    );
    assert!(
        items(&app, "ALLOC#").await.is_empty(),
        "nothing moved in the request"
    );

    // Another tenant's agent (and the receiving shop's) cannot see the task.
    for code in ["A", "D"] {
        let agent = app.agent(code).await;
        app.get(&format!("/api/admin/bulk-tasks/{id}"), &agent)
            .await
            .err(404, 1002);
        app.get(&format!("/api/admin/bulk-tasks/{id}/results"), &agent)
            .await
            .err(404, 1002);
    }
    // Not finished: no results yet.
    app.get(&format!("/api/admin/bulk-tasks/{id}/results"), &platform)
        .await
        .err(409, 1060);

    // The first slice runs; then the worker "dies" before recording it: the task
    // item goes back to how it was, and slice 0 is delivered again.
    let before = app
        .state
        .store
        .get(&keys::bulk_task(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pump_bulk_queue(&app.state, 1).await.unwrap(), 1);
    let after_one = task(&app, &platform, id).await;
    assert_eq!(
        (
            after_one["status"].as_str(),
            after_one["moved_count"].as_u64()
        ),
        (Some("running"), Some(100))
    );
    app.state.store.put(before).await.unwrap();
    let replay = event(json!({"task_id": id, "slice": 0}));
    let response = shared::jobs::bulk::handle(&app.state, replay.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        items(&app, "ALLOC#").await.len(),
        200,
        "the redo moved the next 100"
    );

    // The rest (400 cards): one transaction per card, a few calls per slice.
    let started = std::time::Instant::now();
    let mut calls = 0;
    while !app
        .state
        .store
        .bulk_task(id)
        .await
        .unwrap()
        .unwrap()
        .status
        .is_finished()
    {
        let (pumped, n) = counted(pump_bulk_queue(&app.state, 1)).await;
        pumped.unwrap();
        calls += n;
    }
    eprintln!(
        "bulk worker: 400 cards in {:.1} s, {calls} DynamoDB calls ({:.3} per card)",
        started.elapsed().as_secs_f64(),
        calls as f64 / 400.0
    );
    assert!(calls <= 440, "{calls} calls for 400 cards");
    let done = task(&app, &platform, id).await;
    // Delivered once more after the end: dropped.
    let response = shared::jobs::bulk::handle(&app.state, replay).await;
    assert!(response.batch_item_failures.is_empty());

    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        (
            done["processed_count"].as_u64(),
            done["moved_count"].as_u64(),
            done["failed_count"].as_u64()
        ),
        (Some(600), Some(600), Some(0)),
        "exact counts after the replays: {done}"
    );
    assert_eq!(done["results_ready"], true);
    // Each card moved exactly once, and has its result.
    assert_eq!(items(&app, "ALLOC#").await.len(), 600);
    let owners: Vec<Option<u64>> = items(&app, "CARD#")
        .await
        .iter()
        .map(|c| shared::store::num_attr(c, "shop_id").map(|v| v as u64))
        .collect();
    assert_eq!(owners.len(), 600);
    assert!(owners.iter().all(|o| *o == Some(a)));
    let results = app.state.store.bulk_results(id).await.unwrap();
    assert_eq!(results.len(), 600);

    let rows = results_file(&app, &platform, id).await;
    assert_eq!(rows.len(), 600);
    assert_eq!(rows[0], vec![iccid(1), "moved".into(), String::new()]);
    assert!(rows.iter().all(|r| r[1] == "moved"));
    // The super admin (platform) sees it too.
    assert_eq!(task(&app, &admin, id).await["moved_count"], 600);

    // Exactly 500 stay synchronous: A gives 500 of them to B inside the request.
    let agent_a = app.agent("A").await;
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &agent_a,
            json!({"to_shop_id": b, "iccid_start": iccid(1), "iccid_end": iccid(500)}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 500, "{}", r.body);
    assert_eq!(items(&app, "ALLOC#").await.len(), 1100);
}

#[tokio::test]
async fn long_id_lists_become_tasks_named_by_id_and_agents_see_their_own() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 12).await;
    let cards = all(&app, &t.admin, "/api/admin/iot-cards").await;
    let iccid_of: HashMap<u64, String> = cards
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["iccid"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut ids: Vec<u64> = iccid_of.keys().copied().collect();
    ids.sort_unstable();
    // 500 ids (10 real, 490 unknown) answer in the request.
    let mut five_hundred: Vec<u64> = ids[..10].to_vec();
    five_hundred.extend(100_000..100_490);
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &t.admin,
            json!({"to_shop_id": t.a, "ids": five_hundred}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.ok()["success_count"], 10);
    assert_eq!(r.data()["failed"].as_array().unwrap().len(), 490);

    // 501 ids from agent A (2 of its cards, 499 unknown) become a task.
    let agent_a = app.agent("A").await;
    let mut list: Vec<u64> = ids[..2].to_vec();
    list.extend(200_000..200_499);
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &agent_a,
            json!({"to_shop_id": t.b, "ids": list}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    // Auth, the target shop, an id, the 6 pages in one batch, the task.
    assert_eq!(r.ddb_calls(), 5);
    let id = r.data()["task_id"].as_u64().unwrap();
    assert_eq!(r.data()["requested_count"], 501);
    assert_eq!(r.data()["selection"], "ids");
    // Its own shop's agent and the platform see it; a sub-shop, a sibling and an
    // enterprise account do not.
    let seen = app
        .get(&format!("/api/admin/bulk-tasks/{id}"), &agent_a)
        .await;
    assert_eq!(seen.ok()["status"], "pending");
    assert_eq!(seen.ddb_calls(), 2, "auth and the task");
    task(&app, &t.admin, id).await;
    for code in ["B", "D"] {
        let agent = app.agent(code).await;
        app.get(&format!("/api/admin/bulk-tasks/{id}"), &agent)
            .await
            .err(404, 1002);
    }
    // Slice 0 moves both cards to B; then A takes the first back inside a request,
    // and the worker "dies" before recording slice 0, which is delivered again:
    // the card back in A's stock is not moved a second time by this task.
    let store = &app.state.store;
    let before = store.get(&keys::bulk_task(id)).await.unwrap().unwrap();
    assert_eq!(pump_bulk_queue(&app.state, 1).await.unwrap(), 1);
    let first = &iccid_of[&ids[0]];
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &agent_a,
            json!({"iccids": [first]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    store.put(before).await.unwrap();
    let replay = event(json!({"task_id": id, "slice": 0}));
    assert!(shared::jobs::bulk::handle(&app.state, replay)
        .await
        .batch_item_failures
        .is_empty());
    let done = drain(&app, &agent_a, id).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["moved_count"].as_u64(),
            done["failed_count"].as_u64()
        ),
        (Some("done"), Some(2), Some(499)),
        "{done}"
    );
    let records_of_first = items(&app, "ALLOC#")
        .await
        .iter()
        .filter(|r| str_attr(r, "identifier") == Some(first.as_str()))
        .count();
    assert_eq!(records_of_first, 3, "platform→A, A→B, B→A: never A→B again");
    let rows = results_file(&app, &agent_a, id).await;
    let by_name: HashMap<&str, (&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), (r[1].as_str(), r[2].as_str())))
        .collect();
    assert_eq!(by_name.len(), 501);
    assert_eq!(by_name[iccid_of[&ids[0]].as_str()], ("moved", ""));
    assert_eq!(by_name[iccid_of[&ids[1]].as_str()], ("moved", ""));
    assert_eq!(by_name["id 200000"], ("failed", "not found"));

    // Recall by 501 ids (the 2 cards, the second still in B; the rest unknown) from
    // A: a task too.
    let mut back: Vec<u64> = ids[..2].to_vec();
    back.extend(300_000..300_499);
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &agent_a,
            json!({"ids": back}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    let id = r.data()["task_id"].as_u64().unwrap();
    let done = drain(&app, &agent_a, id).await;
    assert_eq!(
        (done["moved_count"].as_u64(), done["failed_count"].as_u64()),
        (Some(1), Some(500)),
        "the first card was back in A already: {done}"
    );
    let stored = items(&app, "CARD#").await;
    let in_a = stored
        .iter()
        .filter(|c| shared::store::num_attr(c, "shop_id") == Some(t.a as i64))
        .count();
    assert_eq!(in_a, 10, "the 2 recalled cards are back in A's stock");
}

#[tokio::test]
async fn a_task_left_pending_by_a_crash_is_sent_again_and_completes() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 3).await;
    let cards = all(&app, &t.admin, "/api/admin/iot-cards").await;
    let mut list: Vec<u64> = cards.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    list.extend(500_000..500_498);
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &t.admin,
            json!({"to_shop_id": t.a, "ids": list}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    let id = r.data()["task_id"].as_u64().unwrap();
    // The route's message is lost (as if the function died before sending it).
    let queue = app.state.bulk_queue().unwrap();
    let lost = queue.receive(1).await.unwrap();
    assert_eq!(lost.len(), 1);
    queue
        .delete(lost[0].receipt_handle.as_deref().unwrap())
        .await
        .unwrap();
    let now = app.state.clock.now();
    assert!(bulk_sweeper::sweep(&app.state, now)
        .await
        .unwrap()
        .resent
        .is_empty());
    app.state.clock.advance(bulk_sweeper::STALE_AFTER_SECS + 1);
    let later = app.state.clock.now();
    assert_eq!(
        bulk_sweeper::sweep(&app.state, later).await.unwrap().resent,
        vec![id]
    );
    let done = drain(&app, &t.admin, id).await;
    assert_eq!(
        (done["moved_count"].as_u64(), done["failed_count"].as_u64()),
        (Some(3), Some(498)),
        "{done}"
    );
    // Started: it left the index of pending tasks.
    app.state.clock.advance(bulk_sweeper::STALE_AFTER_SECS + 1);
    let much_later = app.state.clock.now();
    assert!(bulk_sweeper::sweep(&app.state, much_later)
        .await
        .unwrap()
        .resent
        .is_empty());
}

#[tokio::test]
async fn an_undecodable_bulk_message_is_a_batch_item_failure() {
    let app = spawn_app().await;
    let response = shared::jobs::bulk::handle(&app.state, event(json!({"task": "x"}))).await;
    assert_eq!(response.batch_item_failures.len(), 1);
}

#[tokio::test]
async fn a_move_failing_for_another_reason_than_a_condition_is_reported_per_asset() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 2).await;
    let csv = format!(
        "virtual_no,max_sim_slots,iccid_1\nGOOD,1,\nBROKEN,1,{}\n",
        iccid(1)
    );
    import_devices(&app, &t.admin, &csv).await;
    // BROKEN's bound card is damaged in storage: moving the device fails while
    // reading it (a store error, not a failed condition). GOOD, moved after it in
    // the same request, still moves, and the answer says which did.
    let store = &app.state.store;
    let cards = all(&app, &t.admin, "/api/admin/iot-cards").await;
    let bound = cards
        .iter()
        .find(|c| c["iccid"] == iccid(1).as_str())
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let mut item = store.get(&keys::card(bound)).await.unwrap().unwrap();
    item.insert("version".into(), shared::store::s("damaged"));
    store.put(item).await.unwrap();

    let r = app
        .post(
            "/api/admin/devices/allocate",
            &t.admin,
            json!({"to_shop_id": t.a, "virtual_nos": ["BROKEN", "GOOD"]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1, "{}", r.body);
    assert_eq!(
        r.data()["failed"],
        json!([{"virtual_no": "BROKEN", "reason": "system busy, not moved; retry"}])
    );
    let agent = app.agent("A").await;
    let moved = all(&app, &agent, "/api/admin/devices").await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["virtual_no"], "GOOD");
}

#[tokio::test]
async fn a_task_whose_receiving_shop_was_deleted_fails_and_keeps_its_file() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 1).await;
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &t.admin,
            json!({"to_shop_id": t.d, "ids": (900_000..900_501).collect::<Vec<u64>>()}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    let id = r.data()["task_id"].as_u64().unwrap();
    app.delete(&format!("/api/admin/shops/{}", t.d), &t.admin)
        .await
        .ok();
    let done = drain(&app, &t.admin, id).await;
    assert_eq!(
        (done["status"].as_str(), done["error"].as_str()),
        (Some("failed"), Some("shop not found")),
        "{done}"
    );
    assert_eq!(done["processed_count"], 0);
    assert!(results_file(&app, &t.admin, id).await.is_empty());
}
