//! Imports registered before their upload (status `awaiting_upload`): the bucket
//! notifies the import events queue of the file's arrival and the import worker
//! starts the task (docs/architecture.md, Imports). Driven through the emulator's
//! own notifications and the local queue consumption; duplicates and strays are
//! also delivered by hand.

use serde_json::{json, Value};
use shared::domain::assets::ImportStatus;
use shared::integrations::import_queue::ImportMessage;
use shared::jobs::{import, import_sweeper};
use shared::local::{pump_import_events, pump_import_queue};

use crate::helpers::assets::{all, cards_csv, carrier, drain, upload};
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// Sends `body` as the presigned `upload` of an answer says.
async fn put(upload: &Value, body: &str) {
    let status = try_put(upload, body).await;
    assert!(status.is_success(), "upload failed: {status}");
}

/// Like [`put`]; returns the answer's status.
async fn try_put(upload: &Value, body: &str) -> reqwest::StatusCode {
    assert_eq!(upload["method"], "PUT");
    let mut req = shared::integrations::http_client().put(upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        // The client sets the length itself (the signed one must match it).
        if name == "content-length" {
            assert_eq!(value.as_str().unwrap(), body.len().to_string());
            continue;
        }
        req = req.header(name, value.as_str().unwrap());
    }
    req.body(body.to_string()).send().await.unwrap().status()
}

/// Registers a card import before its upload; returns the answer.
async fn register(app: &TestApp, admin: &str, body: Value) -> Value {
    let r = app.post("/api/admin/iot-cards/import", admin, body).await;
    r.ok().clone()
}

/// The card import task `id`.
async fn card_task(app: &TestApp, admin: &str, id: u64) -> Value {
    app.get(&format!("/api/admin/iot-cards/import/tasks/{id}"), admin)
        .await
        .ok()
        .clone()
}

/// An SQS event of S3 notification bodies, as Lambda delivers it.
fn sqs_event(bodies: &[Value]) -> aws_lambda_events::event::sqs::SqsEvent {
    let messages: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            aws_sdk_sqs::types::Message::builder()
                .message_id(format!("m{i}"))
                .body(b.to_string())
                .build()
        })
        .collect();
    shared::local::sqs_event(&messages)
}

/// The notification S3 sends for `key` (given URL-encoded, as S3 does) of `size`
/// bytes created in `bucket`.
fn created(bucket: &str, key: &str, size: usize) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "import-arrivals",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": size, "eTag": "0123", "sequencer": "00A"}}
    }]})
}

/// Hands `bodies` to the import worker; asserts none failed.
async fn deliver(app: &TestApp, bodies: &[Value]) {
    let response = import::handle(&app.state, sqs_event(bodies)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
}

#[tokio::test]
async fn an_upload_starts_the_import_registered_for_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let csv = cards_csv(1, 21);
    let created = register(&app, &admin, json!({"batch_no": "B9", "size": csv.len()})).await;
    let id = created["task_id"].as_u64().unwrap();
    let key = format!("imports/{id}.csv");
    assert_eq!(
        (created["status"].as_str(), created["file_key"].as_str()),
        (Some("awaiting_upload"), Some(key.as_str()))
    );
    let upload = &created["upload"];
    assert_eq!(upload["file_key"], key.as_str());
    assert!(upload["url"].as_str().unwrap().contains(&key));
    assert_eq!(
        upload["headers"],
        json!({"content-type": "text/csv", "content-length": csv.len().to_string(), "if-none-match": "*"})
    );
    // Each of them is signed.
    let url = upload["url"].as_str().unwrap();
    let signed = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap()
        .replace("%3B", ";");
    for name in ["content-length", "content-type", "if-none-match"] {
        assert!(
            signed.split(';').any(|h| h == name),
            "{name} unsigned: {url}"
        );
    }
    assert_eq!(upload["expires_in"], 900);
    assert!(upload["expires_at"].as_str().unwrap().ends_with("+08:00"));
    let task = card_task(&app, &admin, id).await;
    assert_eq!(task["status"], "awaiting_upload");
    // Nothing is queued before the file arrives.
    assert_eq!(pump_import_queue(&app.state, 0).await.unwrap(), 0);

    put(upload, &csv).await;
    // The bucket's notification, through the events queue, starts the task.
    drain(&app).await;
    let task = card_task(&app, &admin, id).await;
    assert_eq!(
        (
            task["status"].as_str(),
            task["total_count"].as_u64(),
            task["success_count"].as_u64(),
            task["file_size"].as_u64(),
        ),
        (
            Some("completed"),
            Some(20),
            Some(20),
            Some(csv.len() as u64)
        )
    );
    assert_eq!(task["batch_no"], "B9");
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 20);
    // Platform staff may read the file back.
    let d = app
        .get(
            &format!("/api/admin/storage/download-url?file_key={key}"),
            &admin,
        )
        .await;
    assert!(d.ok()["download_url"].as_str().unwrap().contains(&key));
}

#[tokio::test]
async fn the_upload_url_route_registers_an_import_when_asked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let body = |purpose: &str, import: Value| json!({"file_name": "c.csv", "purpose": purpose, "import": import});
    let url = "/api/admin/storage/upload-url";
    app.post(url, &admin, body("export", json!({})))
        .await
        .err(400, 1001);
    app.post(
        url,
        &admin,
        body("device_import", json!({"import_type": "cards"})),
    )
    .await
    .err(400, 1001);
    let before = app.table.entity_keys().await;
    app.post(
        url,
        &admin,
        body("iot_card_import", json!({"carrier_id": 999})),
    )
    .await
    .err(400, 1001);
    assert_eq!(
        app.table.entity_keys().await,
        before,
        "a refused import registers nothing"
    );

    let r = app
        .post(
            url,
            &admin,
            body("iot_card_import", json!({"batch_no": "U1"})),
        )
        .await;
    let id = r.ok()["task_id"].as_u64().unwrap();
    assert!(r.data()["task_no"].as_str().unwrap().starts_with("IMP"));
    assert_eq!(r.data()["file_key"], format!("imports/{id}.csv"));
    assert_eq!(r.data()["method"], "PUT");
    assert_eq!(
        r.data()["headers"],
        json!({"content-type": "text/csv", "if-none-match": "*"})
    );
    let upload = json!({
        "url": r.data()["upload_url"], "method": "PUT", "headers": r.data()["headers"],
    });
    put(&upload, &cards_csv(1, 4)).await;
    drain(&app).await;
    let task = card_task(&app, &admin, id).await;
    assert_eq!(
        (task["status"].as_str(), task["success_count"].as_u64()),
        (Some("completed"), Some(3))
    );
    assert_eq!(task["batch_no"], "U1");
}

#[tokio::test]
async fn duplicate_and_stray_notifications_change_nothing() {
    let app = spawn_app_with(|c| c.import_chunk_bytes = 300).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let bucket = app.state.cfg.bucket.clone();
    let csv = cards_csv(1, 31);
    let created_ = register(&app, &admin, json!({})).await;
    let id = created_["task_id"].as_u64().unwrap();
    // A stray chunk message for a task awaiting its upload is dropped.
    import::process(
        &app.state,
        ImportMessage {
            task_id: id,
            offset: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        card_task(&app, &admin, id).await["status"],
        "awaiting_upload"
    );

    put(&created_["upload"], &csv).await;
    // The file cannot be replaced through the same URL.
    assert_eq!(
        try_put(&created_["upload"], &cards_csv(50, 52)).await,
        reqwest::StatusCode::PRECONDITION_FAILED
    );
    // The emulator's test event and the arrival, through the real queue.
    while pump_import_events(&app.state, 0).await.unwrap() > 0 {}
    let started = card_task(&app, &admin, id).await;
    assert_eq!(started["status"], "pending");
    // The same notification again (URL-encoded key, as S3 sends it), twice, before
    // the first chunk ran: it only sends the first chunk again, which is dropped.
    let again = created(&bucket, &format!("imports%2F{id}.csv"), csv.len());
    deliver(&app, &[again.clone(), again.clone()]).await;
    drain(&app).await;
    let done = card_task(&app, &admin, id).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["total_count"].as_u64(),
            done["success_count"].as_u64(),
            done["fail_count"].as_u64(),
        ),
        (Some("completed"), Some(30), Some(30), Some(0))
    );
    // And once more on the finished task: nothing changes.
    deliver(&app, &[again]).await;
    assert_eq!(card_task(&app, &admin, id).await, done);

    // Keys naming no task or an unknown one, another bucket, a task imported from
    // an upload (not awaiting one), a removal: logged and dropped.
    let old_key = upload(&app, &admin, "iot_card_import", &cards_csv(40, 41)).await;
    let r = app
        .post(
            "/api/admin/iot-cards/import",
            &admin,
            json!({"file_key": old_key}),
        )
        .await;
    let old = r.ok()["task_id"].as_u64().unwrap();
    drain(&app).await;
    let old_task = card_task(&app, &admin, old).await;
    let before = app.table.scan().await.len();
    let removed = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
        "s3": {"bucket": {"name": bucket}, "object": {"key": format!("imports/{id}.csv")}}}]});
    deliver(
        &app,
        &[
            created(&bucket, "imports/999999.csv", 10),
            created(&bucket, "imports/notes+1.txt", 10),
            created(&bucket, &format!("imports/0{id}.csv"), 10),
            created(&bucket, &format!("imports/{old}.csv"), 10),
            created("another-bucket", &format!("imports/{id}.csv"), 10),
            removed,
        ],
    )
    .await;
    // A real object under an unknown task's key, notified by the bucket.
    app.state
        .s3()
        .unwrap()
        .put_object()
        .bucket(&bucket)
        .key("imports/424242.csv")
        .body(b"iccid\n".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(pump_import_events(&app.state, 1).await.unwrap(), 1);
    assert_eq!(
        pump_import_events(&app.state, 0).await.unwrap(),
        0,
        "acknowledged"
    );
    assert_eq!(
        pump_import_queue(&app.state, 0).await.unwrap(),
        0,
        "nothing queued"
    );
    assert_eq!(app.table.scan().await.len(), before, "nothing written");
    assert_eq!(card_task(&app, &admin, old).await, old_task);
    assert_eq!(card_task(&app, &admin, id).await, done);
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 31);
}

#[tokio::test]
async fn an_oversize_upload_fails_its_task_with_the_reason() {
    let max = 200;
    let app = spawn_app_with(|c| c.max_upload_bytes = max).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    // A size given is checked at once.
    app.post(
        "/api/admin/iot-cards/import",
        &admin,
        json!({"size": max + 1}),
    )
    .await
    .err(400, 1001);
    app.post(
        "/api/admin/iot-cards/import",
        &admin,
        json!({"content_type": "application/x-sh"}),
    )
    .await
    .err(400, 1001);
    // Without one, the arrival is checked.
    let created_ = register(&app, &admin, json!({})).await;
    let id = created_["task_id"].as_u64().unwrap();
    let csv = cards_csv(1, 11);
    assert!(csv.len() as i64 > max);
    put(&created_["upload"], &csv).await;
    while pump_import_events(&app.state, 0).await.unwrap() > 0 {}
    let task = card_task(&app, &admin, id).await;
    assert_eq!(task["status"], "failed");
    assert_eq!(
        task["error"],
        format!(
            "the file is {} bytes; at most {max} bytes can be imported",
            csv.len()
        )
    );
    assert!(task["finished_at"].is_string());
    assert_eq!(
        pump_import_queue(&app.state, 0).await.unwrap(),
        0,
        "nothing queued"
    );
    // The notification again: the task stays failed as it was.
    let again = created(
        &app.state.cfg.bucket,
        &format!("imports/{id}.csv"),
        csv.len(),
    );
    deliver(&app, &[again]).await;
    assert_eq!(card_task(&app, &admin, id).await, task);
    assert!(all(&app, &admin, "/api/admin/iot-cards").await.is_empty());
}

#[tokio::test]
async fn the_test_event_is_ignored() {
    let app = spawn_app().await;
    let before = app.table.scan().await.len();
    // Configuring the notification made the emulator send its test event.
    assert_eq!(pump_import_events(&app.state, 1).await.unwrap(), 1);
    assert_eq!(
        pump_import_events(&app.state, 0).await.unwrap(),
        0,
        "acknowledged"
    );
    let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
        "Time": "2026-12-01T00:00:00.000Z", "Bucket": app.state.cfg.bucket, "RequestId": "r", "HostId": "h"});
    deliver(&app, &[test]).await;
    assert_eq!(app.table.scan().await.len(), before);
    assert_eq!(pump_import_queue(&app.state, 0).await.unwrap(), 0);
}

#[tokio::test]
async fn an_import_of_an_uploaded_file_starts_at_once_as_before() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let key = upload(&app, &admin, "iot_card_import", &cards_csv(1, 6)).await;
    assert!(key.starts_with("uploads/iot_card_import/"));
    let r = app
        .post(
            "/api/admin/iot-cards/import",
            &admin,
            json!({"file_key": key, "size": 1}),
        )
        .await;
    let id = r.ok()["task_id"].as_u64().unwrap();
    let fields: Vec<&String> = r.data().as_object().unwrap().keys().collect();
    assert_eq!(fields, ["task_id", "task_no"], "the answer of api.md §7");
    assert_eq!(card_task(&app, &admin, id).await["status"], "pending");
    // Queued at once: the import queue alone finishes it.
    while pump_import_queue(&app.state, 0).await.unwrap() > 0 {}
    let task = card_task(&app, &admin, id).await;
    assert_eq!(
        (task["status"].as_str(), task["success_count"].as_u64()),
        (Some("completed"), Some(5))
    );
}

#[tokio::test]
async fn tasks_whose_file_never_arrives_expire() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let created_ = register(&app, &admin, json!({})).await;
    let id = created_["task_id"].as_u64().unwrap();
    let now = app.state.clock.now();
    let sweep = |at| import_sweeper::sweep(&app.state, at);
    let early = sweep(now + import_sweeper::AWAITING_EXPIRY_SECS - 60)
        .await
        .unwrap();
    assert!(early.expired.is_empty() && early.resent.is_empty());
    assert_eq!(
        card_task(&app, &admin, id).await["status"],
        "awaiting_upload"
    );
    let late = now + import_sweeper::AWAITING_EXPIRY_SECS + 5;
    assert_eq!(sweep(late).await.unwrap().expired, vec![id]);
    let task = card_task(&app, &admin, id).await;
    assert_eq!(
        (task["status"].as_str(), task["error"].as_str()),
        (Some("failed"), Some(import_sweeper::NO_UPLOAD))
    );
    // Once only; and a file arriving late is ignored.
    assert!(sweep(late).await.unwrap().expired.is_empty());
    put(&created_["upload"], &cards_csv(1, 3)).await;
    while pump_import_events(&app.state, 0).await.unwrap() > 0 {}
    assert_eq!(card_task(&app, &admin, id).await, task);
    let stored = app.state.store.import_task(id).await.unwrap().unwrap();
    assert_eq!(stored.status, ImportStatus::Failed);
}
