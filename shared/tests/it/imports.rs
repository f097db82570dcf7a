//! Imports through S3 and the import queue (api.md §7, §8; jobs.md J16, J17): card
//! and device imports, virtual-number fills, redelivery and crash recovery, the
//! Lambda handler with the sample files (upload bounds are in `uploads.rs`).

use std::collections::HashSet;

use serde_json::{json, Value};
use shared::domain::assets::ImportStatus;
use shared::integrations::import_queue::ImportMessage;
use shared::jobs::import;

use crate::helpers::assets::{all, cards_csv, carrier, drain, iccid, import_cards, upload};
use crate::helpers::{spawn_app, spawn_app_with};

/// The values naming each rejected row of `task`, after checking that every failed
/// item is exactly `{row, <named_by>, reason}` (api.md §7–§8).
fn failed_subjects(task: &Value, named_by: &str) -> Vec<String> {
    let want = HashSet::from(["row", named_by, "reason"]);
    task["failed_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let fields: HashSet<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(fields, want, "{f}");
            f[named_by].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn card_import_reports_bad_rows_exactly() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    // An existing card: imported first.
    let first = import_cards(&app, &admin, &cards_csv(1, 2), json!({})).await;
    assert_eq!(
        (first["status"].as_str(), first["success_count"].as_u64()),
        (Some("completed"), Some(1))
    );

    let csv = format!(
        "\u{feff}ICCID,msisdn,virtual_no,carrier_code\n\
         {good1},13900000001,V-1,CMCC\n\
         bad-iccid,13900000002,,CMCC\n\
         {good2},13900000003,,NOPE\n\
         {good1},13900000004,,CMCC\n\
         {existing},13900000005,,CMCC\n\
         \n\
         {good3},12ab,,CMCC\n\
         {good4},13900000001,,CMCC\n\
         {good5},,V-1,CMCC\n",
        good1 = iccid(10),
        good2 = iccid(11),
        existing = iccid(1),
        good3 = iccid(12),
        good4 = iccid(13),
        good5 = iccid(14),
    );
    let task = import_cards(&app, &admin, &csv, json!({})).await;
    assert_eq!(task["status"], "completed");
    assert_eq!(task["total_count"], 8, "the blank line is not a row");
    assert_eq!(task["success_count"], 1);
    assert_eq!(task["fail_count"], 7);
    assert_eq!(failed_subjects(&task, "iccid").len(), 7);
    let failed: Vec<(u64, String, String)> = task["failed_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["row"].as_u64().unwrap(),
                f["iccid"].as_str().unwrap().to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let (i10, i11, i1, i12, i13, i14) = (
        iccid(10),
        iccid(11),
        iccid(1),
        iccid(12),
        iccid(13),
        iccid(14),
    );
    let expect = [
        (2, "bad-iccid", "iccid must be 19-20 letters or digits"),
        (3, i11.as_str(), "carrier not found"),
        (4, i10.as_str(), "iccid duplicated in the file (row 1)"),
        (5, i1.as_str(), "iccid already exists"),
        (6, i12.as_str(), "msisdn"),
        (7, i13.as_str(), "msisdn duplicated in the file (row 1)"),
        (8, i14.as_str(), "virtual_no duplicated in the file (row 1)"),
    ];
    assert_eq!(failed.len(), expect.len(), "{failed:?}");
    for ((row, id, reason), (erow, eid, ereason)) in failed.iter().zip(expect) {
        assert_eq!((*row, id.as_str()), (erow, eid));
        assert!(
            reason.contains(ereason),
            "row {row}: {reason} should mention {ereason}"
        );
    }
    let cards = all(&app, &admin, "/api/admin/iot-cards").await;
    assert_eq!(cards.len(), 2);
    let card = cards.iter().find(|c| c["iccid"] == iccid(10)).unwrap();
    assert_eq!(
        (card["asset_status"].as_i64(), card["generation"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(card["virtual_no"], "V-1");
    assert_eq!(card["carrier_name"], "China Mobile");
    assert_eq!(card["is_standalone"], true);
}

#[tokio::test]
async fn redelivered_messages_and_reimports_create_nothing_twice() {
    let app = spawn_app_with(|c| c.import_chunk_bytes = 300).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let csv = cards_csv(100, 130);
    let key = upload(&app, &admin, "iot_card_import", &csv).await;
    let r = app
        .post(
            "/api/admin/iot-cards/import",
            &admin,
            json!({"file_key": key}),
        )
        .await;
    let task_id = r.ok()["task_id"].as_u64().unwrap();
    // Deliver the first message three times (SQS at-least-once) before anything else.
    let first = ImportMessage { task_id, offset: 0 };
    for _ in 0..3 {
        import::process(&app.state, first.clone()).await.unwrap();
    }
    drain(&app).await;
    let task = app
        .get(
            &format!("/api/admin/iot-cards/import/tasks/{task_id}"),
            &admin,
        )
        .await;
    assert_eq!(task.ok()["status"], "completed");
    assert_eq!(
        (
            task.data()["total_count"].as_u64(),
            task.data()["success_count"].as_u64()
        ),
        (Some(30), Some(30))
    );
    assert_eq!(task.data()["fail_count"], 0);
    // Re-processing the whole object again (a stale message) changes nothing.
    import::process(&app.state, first).await.unwrap();
    // Importing the same object as a new task: every row is a duplicate of the first task.
    let r = app
        .post(
            "/api/admin/iot-cards/import",
            &admin,
            json!({"file_key": key}),
        )
        .await;
    let again = r.ok()["task_id"].as_u64().unwrap();
    drain(&app).await;
    let task = app
        .get(
            &format!("/api/admin/iot-cards/import/tasks/{again}"),
            &admin,
        )
        .await;
    assert_eq!(
        (
            task.ok()["success_count"].as_u64(),
            task.data()["fail_count"].as_u64()
        ),
        (Some(0), Some(30))
    );
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 30);
}

#[tokio::test]
async fn a_crash_between_writing_rows_and_recording_progress_resumes_exactly() {
    let app = spawn_app_with(|c| c.import_chunk_bytes = 400).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let mut csv = cards_csv(200, 240);
    csv.push_str("not-an-iccid,1,,,CMCC,B1\n");
    let key = upload(&app, &admin, "iot_card_import", &csv).await;
    let r = app
        .post(
            "/api/admin/iot-cards/import",
            &admin,
            json!({"file_key": key}),
        )
        .await;
    let task_id = r.ok()["task_id"].as_u64().unwrap();
    // The first chunk completes normally; the message for the second is queued.
    assert_eq!(
        shared::local::pump_import_queue(&app.state, 1)
            .await
            .unwrap(),
        1
    );
    let task = app.state.store.import_task(task_id).await.unwrap().unwrap();
    assert!(task.next_offset > 0 && task.status == ImportStatus::Processing);
    // The second chunk's Lambda dies after writing its rows, before recording them.
    let chunk = match import::read_chunk(&app.state, &task).await {
        Ok(c) => c,
        Err(_) => panic!("chunk"),
    };
    let written = import::cards::import(&app.state, &task, &chunk)
        .await
        .unwrap();
    assert!(written.success > 0);
    // Its message is redelivered and the rest of the file follows.
    drain(&app).await;
    let task = app
        .get(
            &format!("/api/admin/iot-cards/import/tasks/{task_id}"),
            &admin,
        )
        .await;
    assert_eq!(task.ok()["status"], "completed");
    assert_eq!(task.data()["total_count"], 41);
    assert_eq!(task.data()["success_count"], 40);
    assert_eq!(task.data()["fail_count"], 1);
    assert_eq!(task.data()["failed_items"][0]["row"], 41);
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 40);
}

#[tokio::test]
async fn virtual_number_fill_is_all_or_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let csv = "iccid,virtual_no,carrier_code\n".to_string()
        + &(1..=4)
            .map(|i| format!("{},{},CMCC\n", iccid(i), if i == 4 { "TAKEN" } else { "" }))
            .collect::<String>();
    import_cards(&app, &admin, &csv, json!({})).await;
    let fill = |rows: &[(u64, &str)]| {
        let mut csv = String::from("iccid,virtual_no\n");
        for (i, v) in rows {
            csv.push_str(&format!("{},{v}\n", iccid(*i)));
        }
        csv
    };
    // One conflict (a number another card holds): every conflict reported, nothing written.
    let bad = fill(&[
        (1, "V1"),
        (2, "TAKEN"),
        (3, "V3"),
        (4, "V4"),
        (9, "V9"),
        (3, "V1"),
    ]);
    let task = import_cards(&app, &admin, &bad, json!({"import_type": "virtual_no"})).await;
    assert_eq!(task["status"], "failed");
    assert_eq!(task["success_count"], 0);
    let reasons: Vec<(u64, String)> = task["failed_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["row"].as_u64().unwrap(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let rows: Vec<u64> = reasons.iter().map(|r| r.0).collect();
    assert_eq!(rows, vec![2, 4, 5, 6], "{reasons:?}");
    let named = failed_subjects(&task, "iccid");
    assert_eq!(
        named,
        [2, 4, 9, 3].map(iccid),
        "fill rows are named by iccid"
    );
    assert!(reasons[0].1.contains("already used"));
    assert!(reasons[1].1.contains("already has virtual_no"));
    assert!(reasons[2].1.contains("not found"));
    assert!(reasons[3].1.contains("duplicated in the file"));
    let cards = all(&app, &admin, "/api/admin/iot-cards").await;
    assert_eq!(
        cards.iter().filter(|c| !c["virtual_no"].is_null()).count(),
        1,
        "nothing written"
    );

    // A clean file fills every blank number.
    let good = fill(&[(1, "V1"), (2, "V2"), (3, "V3")]);
    let task = import_cards(&app, &admin, &good, json!({"import_type": "virtual_no"})).await;
    assert_eq!(
        (task["status"].as_str(), task["success_count"].as_u64()),
        (Some("completed"), Some(3))
    );
    let r = app.get("/api/admin/iot-cards?virtual_no=V2", &admin).await;
    assert_eq!(r.ok()["list"][0]["iccid"], iccid(2));
}

#[tokio::test]
async fn device_import_binds_slot_cards() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    import_cards(&app, &admin, &cards_csv(1, 5), json!({})).await;
    let csv = format!(
        "virtual_no,imei,sn,device_name,max_sim_slots,iccid_1,iccid_2\n\
         D-1,490154203237518,SN1,Router,2,{},{}\n\
         D-2,490154203237517,SN2,Bad imei,1,,\n\
         D-3,,SN3,Taken card,1,{},\n\
         D-4,,,Too many,1,,{}\n\
         D-1,,,Dup,1,,\n",
        iccid(1),
        iccid(2),
        iccid(1),
        iccid(3)
    );
    let key = upload(&app, &admin, "device_import", &csv).await;
    let r = app
        .post(
            "/api/admin/devices/import",
            &admin,
            json!({"file_key": key}),
        )
        .await;
    let id = r.ok()["task_id"].as_u64().unwrap();
    drain(&app).await;
    let task = app
        .get(&format!("/api/admin/devices/import/tasks/{id}"), &admin)
        .await;
    assert_eq!(task.ok()["success_count"], 1, "{}", task.body);
    let rows: Vec<u64> = task.data()["failed_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![2, 3, 4, 5]);
    assert_eq!(
        failed_subjects(task.data(), "virtual_no"),
        ["D-2", "D-3", "D-4", "D-1"]
    );
    let devices = all(&app, &admin, "/api/admin/devices").await;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["bound_card_count"], 2);
    let device_id = devices[0]["id"].as_u64().unwrap();
    let bound = app
        .get(&format!("/api/admin/devices/{device_id}/cards"), &admin)
        .await;
    assert_eq!(bound.ok().as_array().unwrap().len(), 2);
    let standalone = all(&app, &admin, "/api/admin/iot-cards/standalone").await;
    assert_eq!(standalone.len(), 2, "cards 3 and 4 stay standalone");

    // Unbind, bind into a taken slot, delete the device: its cards become standalone.
    let card1 = bound.data()[0]["card"]["id"].as_u64().unwrap();
    app.delete(
        &format!("/api/admin/devices/{device_id}/cards/{card1}"),
        &admin,
    )
    .await
    .ok();
    let free = standalone[0]["id"].as_u64().unwrap();
    app.post(
        &format!("/api/admin/devices/{device_id}/cards"),
        &admin,
        json!({"iot_card_id": free, "slot_position": 2}),
    )
    .await
    .err(409, 1033);
    app.post(
        &format!("/api/admin/devices/{device_id}/cards"),
        &admin,
        json!({"iot_card_id": free, "slot_position": 3}),
    )
    .await
    .err(400, 1001);
    app.post(
        &format!("/api/admin/devices/{device_id}/cards"),
        &admin,
        json!({"iot_card_id": free, "slot_position": 1}),
    )
    .await
    .ok();
    app.delete(&format!("/api/admin/devices/{device_id}"), &admin)
        .await
        .ok();
    assert_eq!(
        all(&app, &admin, "/api/admin/iot-cards/standalone")
            .await
            .len(),
        4
    );
    assert!(all(&app, &admin, "/api/admin/devices").await.is_empty());
}

#[tokio::test]
async fn the_sample_files_and_sqs_event_import_through_the_lambda_handler() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/");
    let cards = std::fs::read_to_string(format!("{dir}import-cards.csv")).unwrap();
    let key = upload(&app, &admin, "iot_card_import", &cards).await;
    let task = app
        .post(
            "/api/admin/iot-cards/import",
            &admin,
            json!({"file_key": key}),
        )
        .await;
    let task_id = task.ok()["task_id"].as_u64().unwrap();
    // The sample SQS event, as Lambda delivers it, with this task's id.
    let raw = std::fs::read_to_string(format!("{dir}sqs-import.json")).unwrap();
    let mut event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&raw).unwrap();
    event.records[0].body = Some(json!({"task_id": task_id, "offset": 0}).to_string());
    let response = shared::jobs::import::handle(&app.state, event.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    // Delivered again: harmless.
    let response = shared::jobs::import::handle(&app.state, event).await;
    assert!(response.batch_item_failures.is_empty());
    let t = app
        .get(
            &format!("/api/admin/iot-cards/import/tasks/{task_id}"),
            &admin,
        )
        .await;
    assert_eq!(
        (
            t.ok()["status"].as_str(),
            t.data()["success_count"].as_u64()
        ),
        (Some("completed"), Some(2))
    );

    let fill = std::fs::read_to_string(format!("{dir}import-virtual-no.csv")).unwrap();
    let t = import_cards(&app, &admin, &fill, json!({"import_type": "virtual_no"})).await;
    assert_eq!(t["success_count"], 1);
    let devices = std::fs::read_to_string(format!("{dir}import-devices.csv")).unwrap();
    let key = upload(&app, &admin, "device_import", &devices).await;
    app.post(
        "/api/admin/devices/import",
        &admin,
        json!({"file_key": key}),
    )
    .await
    .ok();
    drain(&app).await;
    let r = app.get("/api/admin/assets/resolve/VN-0001", &admin).await;
    assert_eq!(r.ok()["bound_device_no"], "DEV-0001");
}

#[tokio::test]
async fn a_file_without_its_key_column_fails_the_task_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let task = import_cards(
        &app,
        &admin,
        "msisdn,carrier_code\n13800000001,CMCC\n",
        json!({}),
    )
    .await;
    assert_eq!(task["status"], "failed");
    assert_eq!(task["error"], "the file has no iccid column");
    assert_eq!(task["total_count"], 0);
}

#[tokio::test]
async fn creating_an_import_answers_its_task_id_and_number() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (purpose, route, tasks) in [
        (
            "iot_card_import",
            "/api/admin/iot-cards/import",
            "/api/admin/iot-cards/import/tasks",
        ),
        (
            "device_import",
            "/api/admin/devices/import",
            "/api/admin/devices/import/tasks",
        ),
    ] {
        let key = upload(&app, &admin, purpose, "iccid,virtual_no\n").await;
        let r = app.post(route, &admin, json!({"file_key": key})).await;
        let fields: HashSet<&str> = r
            .ok()
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            HashSet::from(["task_id", "task_no"]),
            "{route}: {}",
            r.body
        );
        let id = r.data()["task_id"].as_u64().unwrap();
        let task_no = r.data()["task_no"].as_str().unwrap().to_string();
        assert!(task_no.starts_with("IMP") && task_no.ends_with(&format!("{id:06}")));
        drain(&app).await;
        let task = app.get(&format!("{tasks}/{id}"), &admin).await;
        assert_eq!(
            (task.ok()["id"].as_u64(), task.data()["task_no"].as_str()),
            (Some(id), Some(task_no.as_str()))
        );
    }
}
