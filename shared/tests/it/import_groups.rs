//! Card imports written many rows per transaction: the DynamoDB calls an import costs
//! per row, conflicting rows of a group failing alone with their reasons, and
//! redelivery of a chunk that was partly written.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use shared::integrations::import_queue::ImportMessage;
use shared::jobs::import;
use shared::store::calls::counted;
use shared::store::imports::{import_unique, Unique};
use shared::store::keys;

use crate::helpers::assets::{all, carrier, drain, iccid, import_cards, upload};
use crate::helpers::{spawn_app, TestApp};

/// Most DynamoDB calls an import may cost per row.
const MAX_CALLS_PER_ROW: f64 = 0.3;

/// A card row: ICCID `n`, MSISDN `13800000000 + m`, virtual number `V<v>` if any.
fn card_row(n: u64, m: u64, v: Option<u64>) -> String {
    let vno = v.map(|v| format!("V{v}")).unwrap_or_default();
    format!("{},{},{vno},CMCC\n", iccid(n), 13_800_000_000 + m)
}

const HEADER: &str = "iccid,msisdn,virtual_no,carrier_code\n";

/// `(row, iccid, reason)` of each rejected row of a task, in row order.
fn failures(task: &Value) -> Vec<(u64, String, String)> {
    task["failed_items"]
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
        .collect()
}

/// Registers `csv` as a card import; returns the task id (its first message queued).
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

/// Processes the first (only) chunk of task `id` through the worker; returns its
/// DynamoDB calls and the finished task.
async fn process_counted(app: &TestApp, admin: &str, id: u64) -> (usize, Value) {
    let msg = ImportMessage {
        task_id: id,
        offset: 0,
    };
    let (res, calls) = counted(import::process(&app.state, msg)).await;
    res.unwrap();
    drain(app).await; // the queued copy of the message: dropped as stale
    let task = app
        .get(&format!("/api/admin/iot-cards/import/tasks/{id}"), admin)
        .await;
    (calls, task.ok().clone())
}

/// Card id holding each ICCID, read from the uniqueness items.
async fn card_ids(app: &TestApp, iccids: &[String]) -> HashMap<String, u64> {
    let holders = app
        .state
        .store
        .unique_holders(Unique::Iccid, iccids)
        .await
        .unwrap();
    holders
        .into_iter()
        .map(|(i, h)| (i, h.target_id.unwrap()))
        .collect()
}

#[tokio::test]
async fn a_card_import_costs_at_most_0_3_dynamodb_calls_per_row() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let rows = 300u64;
    let mut csv = HEADER.to_string();
    for i in 1..=rows {
        csv.push_str(&card_row(i, i, Some(i)));
    }
    let id = register(&app, &admin, &csv).await;
    let (calls, task) = process_counted(&app, &admin, id).await;
    assert_eq!(
        (task["status"].as_str(), task["success_count"].as_u64()),
        (Some("completed"), Some(rows))
    );
    let per_row = calls as f64 / rows as f64;
    assert!(
        per_row <= MAX_CALLS_PER_ROW,
        "{calls} calls for {rows} rows = {per_row:.3} per row"
    );
    // Every row's card and values are there, once.
    let all_iccids: Vec<String> = (1..=rows).map(iccid).collect();
    let ids = card_ids(&app, &all_iccids).await;
    assert_eq!(ids.len(), rows as usize);
    assert_eq!(ids.values().collect::<HashSet<_>>().len(), rows as usize);
    let r = app
        .get("/api/admin/iot-cards?virtual_no=V300", &admin)
        .await;
    assert_eq!(r.ok()["list"][0]["iccid"], iccid(300));
}

#[tokio::test]
async fn conflicting_rows_of_a_group_fail_alone_with_their_reasons() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    // Present before: ICCIDs 1-10 with MSISDNs 1-10 and numbers V1-V10.
    let mut first = HEADER.to_string();
    for i in 1..=10 {
        first.push_str(&card_row(i, i, Some(i)));
    }
    let done = import_cards(&app, &admin, &first, json!({})).await;
    assert_eq!(done["success_count"], 10);

    // 60 rows, fresh ones (ICCID 100+, MSISDN 100+, V100+) around conflicts, all
    // within the first group of 25 rows and again in the second.
    let mut csv = HEADER.to_string();
    let mut want: Vec<(u64, String, &str)> = Vec::new();
    for row in 1..=60u64 {
        let fresh = card_row(100 + row, 100 + row, Some(100 + row));
        let line = match row {
            3 => card_row(1, 203, None),       // ICCID present
            5 => card_row(205, 2, None),       // MSISDN present
            8 => card_row(208, 208, Some(3)),  // number present
            11 => card_row(211, 4, Some(4)),   // both: the number is named
            14 => card_row(101, 214, None),    // ICCID of row 1 again
            17 => card_row(217, 102, None),    // MSISDN of row 2 again
            30 => card_row(230, 5, Some(230)), // MSISDN present, second group
            _ => fresh,
        };
        csv.push_str(&line);
        let reason = match row {
            3 => "iccid already exists",
            5 | 30 => "msisdn already exists",
            8 | 11 => "virtual_no already exists",
            14 => "iccid duplicated in the file (row 1)",
            17 => "msisdn duplicated in the file (row 2)",
            _ => continue,
        };
        let named = line.split(',').next().unwrap().to_string();
        want.push((row, named, reason));
    }
    let id = register(&app, &admin, &csv).await;
    let (calls, task) = process_counted(&app, &admin, id).await;
    assert_eq!(task["status"], "completed");
    let got = failures(&task);
    assert_eq!(
        got.iter().map(|f| f.0).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>(),
        "exactly the conflicting rows fail: {got:?}"
    );
    for ((row, named, reason), (_, wnamed, wreason)) in got.iter().zip(&want) {
        assert_eq!(named, wnamed, "row {row}");
        assert_eq!(reason, wreason, "row {row}");
    }
    assert_eq!(task["success_count"].as_u64(), Some(60 - want.len() as u64));
    assert!(
        calls as f64 / 60.0 <= MAX_CALLS_PER_ROW,
        "{calls} calls for 60 rows"
    );
    // The other rows are imported; the rejected ones claimed nothing: their own
    // ICCIDs are free.
    let cards = all(&app, &admin, "/api/admin/iot-cards").await;
    assert_eq!(cards.len(), 10 + 60 - want.len());
    let mut again = HEADER.to_string();
    for n in [205, 208, 211, 217, 230] {
        again.push_str(&card_row(n, 500 + n, None));
    }
    let task = import_cards(&app, &admin, &again, json!({})).await;
    assert_eq!(task["success_count"], 5, "{task}");
}

#[tokio::test]
async fn a_chunk_redelivered_after_part_of_its_groups_were_written_ends_the_same() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let mut before = HEADER.to_string();
    before.push_str(&card_row(1, 1, Some(1)));
    before.push_str(&card_row(2, 2, Some(2)));
    import_cards(&app, &admin, &before, json!({})).await;
    // 70 rows: ICCID 100+row; rows 20 and 60 take MSISDNs present, row 40 repeats
    // row 10's ICCID.
    let mut csv = HEADER.to_string();
    for row in 1..=70u64 {
        csv.push_str(&match row {
            20 => card_row(120, 1, None),
            40 => card_row(110, 140, None),
            60 => card_row(160, 2, Some(160)),
            _ => card_row(100 + row, 100 + row, Some(100 + row)),
        });
    }
    let id = register(&app, &admin, &csv).await;
    let task = app.state.store.import_task(id).await.unwrap().unwrap();
    let chunk = match import::read_chunk(&app.state, &task).await {
        Ok(c) => c,
        Err(_) => panic!("chunk"),
    };
    // A first delivery wrote the groups of rows 1-30 (a group and part of the next),
    // then died before recording anything.
    let mut partial = chunk.clone();
    partial.rows.truncate(30);
    let written = import::cards::import(&app.state, &task, &partial)
        .await
        .unwrap();
    assert_eq!((written.success, written.failed.len()), (29, 1));
    // An older worker, claiming value by value, had claimed row 50's MSISDN for
    // card 9999 before dying: the row is recognised as this row's from the
    // cancellation and written as that card.
    app.state
        .store
        .put(import_unique(
            Unique::Msisdn,
            &(13_800_000_000u64 + 150).to_string(),
            9999,
            id,
            50,
        ))
        .await
        .unwrap();
    let iccids: Vec<String> = (101..=170).map(iccid).collect();
    let first_ids = card_ids(&app, &iccids).await;
    assert_eq!(first_ids.len(), 29);

    // The message is delivered again: the whole chunk, counted once.
    let (_, task) = process_counted(&app, &admin, id).await;
    assert_eq!(task["status"], "completed");
    assert_eq!(
        (
            task["total_count"].as_u64(),
            task["success_count"].as_u64(),
            task["fail_count"].as_u64()
        ),
        (Some(70), Some(67), Some(3))
    );
    let got: Vec<(u64, String)> = failures(&task)
        .into_iter()
        .map(|(row, _, reason)| (row, reason))
        .collect();
    assert_eq!(
        got,
        vec![
            (20, "msisdn already exists".to_string()),
            (40, "iccid duplicated in the file (row 10)".to_string()),
            (60, "msisdn already exists".to_string()),
        ]
    );
    // No row lost, none twice: each ICCID once, rows 1-30 keep their first cards.
    let ids = card_ids(&app, &iccids).await;
    assert_eq!(ids.len(), 67);
    assert_eq!(ids.values().collect::<HashSet<_>>().len(), 67);
    for (i, id) in &first_ids {
        assert_eq!(ids.get(i), Some(id), "{i} kept its card");
    }
    assert_eq!(ids.get(&iccid(150)), Some(&9999));
    let card = app
        .state
        .store
        .get(&keys::card(9999))
        .await
        .unwrap()
        .expect("row 50's card, as the earlier claim named it");
    assert_eq!(
        shared::store::str_attr(&card, "iccid"),
        Some(iccid(150).as_str())
    );
    let cards = all(&app, &admin, "/api/admin/iot-cards").await;
    assert_eq!(cards.len(), 2 + 67);
}
