//! Import recovery without waiting for the queue's visibility timeout: a failed
//! message comes back after its short back-off, and a task left pending by a crash
//! between saving it and queueing it is sent again by the sweep (which leaves tasks
//! in progress alone, and whose re-sends the worker counts once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::clock::rfc3339;
use shared::domain::assets::{ImportStatus, ImportTask, ImportType};
use shared::jobs::import_sweeper::{sweep, STALE_AFTER_SECS};
use shared::local::pump_import_queue;

use crate::helpers::assets::{all, cards_csv, carrier, drain, upload};
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

async fn task(app: &TestApp, admin: &str, id: u64) -> Value {
    app.get(&format!("/api/admin/iot-cards/import/tasks/{id}"), admin)
        .await
        .ok()
        .clone()
}

/// Registers `csv` as a card import through the route (task saved, message sent).
async fn register(app: &TestApp, admin: &str, csv: &str) -> u64 {
    let key = upload(app, admin, "iot_card_import", csv).await;
    let r = app
        .post(
            "/api/admin/iot-cards/import",
            admin,
            json!({"file_key": key}),
        )
        .await;
    r.ok()["task_id"].as_u64().unwrap()
}

#[tokio::test]
async fn a_task_left_pending_by_a_crash_is_sent_again_and_completes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let key = upload(&app, &admin, "iot_card_import", &cards_csv(1, 6)).await;
    // The import route saved the task, then died before sending its message.
    let store = &app.state.store;
    let id = store.next_id("import").await.unwrap();
    let now = app.state.clock.now();
    let saved = ImportTask::new(id, ImportType::Cards, key, 1, rfc3339(now));
    store.create_import_task(&saved).await.unwrap();
    assert_eq!(pump_import_queue(&app.state, 0).await.unwrap(), 0);

    // Too young for the sweep; past the threshold it is sent again, once.
    assert!(sweep(&app.state, now).await.unwrap().resent.is_empty());
    app.state.clock.advance(STALE_AFTER_SECS + 1);
    let later = app.state.clock.now();
    assert_eq!(sweep(&app.state, later).await.unwrap().resent, vec![id]);
    assert!(
        sweep(&app.state, later + 1)
            .await
            .unwrap()
            .resent
            .is_empty(),
        "a re-sent task waits another threshold"
    );

    drain(&app).await;
    let done = task(&app, &admin, id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        (done["total_count"].as_u64(), done["success_count"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 5);
    // A task that made progress leaves the index: nothing to sweep ever again.
    app.state.clock.advance(STALE_AFTER_SECS + 1);
    let much_later = app.state.clock.now();
    assert!(sweep(&app.state, much_later)
        .await
        .unwrap()
        .resent
        .is_empty());
}

#[tokio::test]
async fn a_task_in_progress_is_not_sent_again_and_a_resend_is_counted_once() {
    let app = spawn_app_with(|c| c.import_chunk_bytes = 300).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    // In progress: its first chunk done, the next one queued.
    let busy = register(&app, &admin, &cards_csv(100, 120)).await;
    assert_eq!(pump_import_queue(&app.state, 1).await.unwrap(), 1);
    let t = app.state.store.import_task(busy).await.unwrap().unwrap();
    assert_eq!(t.status, ImportStatus::Processing);
    // Queued but not yet processed when the sweep runs past the threshold: its
    // first message is sent a second time, which the worker must drop.
    let queued = register(&app, &admin, &cards_csv(200, 210)).await;
    app.state.clock.advance(STALE_AFTER_SECS + 1);
    let now = app.state.clock.now();
    assert_eq!(sweep(&app.state, now).await.unwrap().resent, vec![queued]);

    drain(&app).await;
    for (id, rows) in [(busy, 20), (queued, 10)] {
        let done = task(&app, &admin, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(
            (
                done["total_count"].as_u64(),
                done["success_count"].as_u64(),
                done["fail_count"].as_u64()
            ),
            (Some(rows), Some(rows), Some(0)),
            "task {id} counted once: {done}"
        );
    }
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 30);
    // The duplicate is gone from the queue.
    assert_eq!(pump_import_queue(&app.state, 0).await.unwrap(), 0);
}

#[tokio::test]
async fn a_failed_import_message_comes_back_after_its_back_off() {
    // 4 s per receive: far below the local queue's 180 s visibility timeout.
    let app = spawn_app_with(|c| c.import_retry_secs = 4).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let id = register(&app, &admin, &cards_csv(1, 4)).await;
    // The worker cannot read the file (a transient S3 failure): the message fails.
    let mut broken = app.state.clone();
    let mut cfg = (*broken.cfg).clone();
    cfg.bucket = format!("missing-{}", uuid::Uuid::new_v4().simple());
    broken.cfg = Arc::new(cfg);
    let failed_at = Instant::now();
    assert_eq!(pump_import_queue(&broken, 1).await.unwrap(), 1);
    let t = app.state.store.import_task(id).await.unwrap().unwrap();
    assert_eq!(t.status, ImportStatus::Pending);
    // Hidden for its back-off, then back with its second receive.
    let queue = app.state.import_queue().unwrap();
    let early = queue.receive(0).await.unwrap();
    if failed_at.elapsed() < Duration::from_secs(3) {
        assert!(early.is_empty(), "visible before its back-off");
    }
    let mut back = Vec::new();
    while back.is_empty() && failed_at.elapsed() < Duration::from_secs(30) {
        back = queue.receive(2).await.unwrap();
    }
    assert_eq!(back.len(), 1, "the message came back well before 180 s");
    let event = shared::local::sqs_event(&back);
    assert_eq!(event.records[0].attributes["ApproximateReceiveCount"], "2");
    let response = shared::jobs::import::handle(&app.state, event).await;
    assert!(response.batch_item_failures.is_empty());
    queue
        .delete(back[0].receipt_handle.as_deref().unwrap())
        .await
        .unwrap();
    let done = task(&app, &admin, id).await;
    assert_eq!(
        (done["status"].as_str(), done["success_count"].as_u64()),
        (Some("completed"), Some(3))
    );
}
