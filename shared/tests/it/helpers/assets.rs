//! Seeding and reading helpers of the asset tests: uploads, imports through the
//! queue, a shop tree with cards, cursor-list walking.

use std::collections::HashSet;

use serde_json::{json, Value};
use shared::domain::assets::ImportType;

use super::TestApp;

/// Uploads `body` through a presigned URL that signs its size; returns the file key.
pub async fn upload(app: &TestApp, token: &str, purpose: &str, body: &str) -> String {
    put_file(app, token, purpose, body, true).await
}

/// Uploads `body` through a presigned URL, giving its size when `sized`; returns the
/// file key.
pub async fn put_file(
    app: &TestApp,
    token: &str,
    purpose: &str,
    body: &str,
    sized: bool,
) -> String {
    let mut req = json!({"file_name": "cards.csv", "content_type": "text/csv", "purpose": purpose});
    if sized {
        req["size"] = json!(body.len());
    }
    let r = app.post("/api/admin/storage/upload-url", token, req).await;
    let url = r.ok()["upload_url"].as_str().unwrap().to_string();
    assert_eq!(
        url.contains("content-length"),
        sized,
        "the length is signed exactly when given: {url}"
    );
    let key = r.data()["file_key"].as_str().unwrap().to_string();
    let res = shared::integrations::http_client()
        .put(&url)
        .header("content-type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .expect("upload");
    assert!(res.status().is_success(), "upload failed: {}", res.status());
    key
}

/// Pumps the import events queue (file arrivals) and the import queue, as the
/// Lambda triggers would, until every import task of the app has finished; returns
/// as soon as they have.
pub async fn drain(app: &TestApp) {
    for _ in 0..500 {
        if unfinished(app).await == 0 {
            return;
        }
        shared::local::pump_import_events(&app.state, 0)
            .await
            .unwrap();
        shared::local::pump_import_queue(&app.state, 1)
            .await
            .unwrap();
    }
    panic!("imports did not finish");
}

/// Number of import tasks not finished yet.
async fn unfinished(app: &TestApp) -> usize {
    let types = [
        ImportType::Cards,
        ImportType::VirtualNo,
        ImportType::Devices,
    ];
    let mut n = 0;
    let mut cursor = shared::store::cursor::Cursor::default();
    loop {
        let page = app
            .state
            .store
            .import_task_page(&types, 100, &cursor)
            .await
            .unwrap();
        n += page.list.iter().filter(|t| !t.status.is_finished()).count();
        match page.next_cursor {
            Some(c) => cursor = shared::store::cursor::Cursor::decode(&c).unwrap(),
            None => return n,
        }
    }
}

/// Imports `csv` as cards; returns the finished task.
pub async fn import_cards(app: &TestApp, token: &str, csv: &str, extra: Value) -> Value {
    let key = upload(app, token, "iot_card_import", csv).await;
    import_task(app, token, &key, extra).await
}

/// Imports the uploaded card file `key`; returns the finished task.
pub async fn import_task(app: &TestApp, token: &str, key: &str, extra: Value) -> Value {
    let mut body = json!({"file_key": key});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = app.post("/api/admin/iot-cards/import", token, body).await;
    let id = r.ok()["task_id"].as_u64().unwrap();
    drain(app).await;
    app.get(&format!("/api/admin/iot-cards/import/tasks/{id}"), token)
        .await
        .ok()
        .clone()
}

/// Creates the CMCC carrier; returns its id.
pub async fn carrier(app: &TestApp, token: &str) -> u64 {
    let r = app
        .post(
            "/api/admin/carriers",
            token,
            json!({"carrier_name": "China Mobile", "carrier_type": "CMCC", "carrier_code": "CMCC", "billing_day": 1}),
        )
        .await;
    r.ok()["id"].as_u64().unwrap()
}

/// The `n`-th test ICCID.
pub fn iccid(n: u64) -> String {
    format!("8986{n:016}")
}

/// A card CSV with rows `from..to` (carrier by code).
pub fn cards_csv(from: u64, to: u64) -> String {
    let mut csv = String::from("iccid,msisdn,imsi,virtual_no,carrier_code,batch_no\n");
    for i in from..to {
        csv.push_str(&format!("{},{},,,CMCC,B1\n", iccid(i), 13_800_000_000 + i));
    }
    csv
}

/// Every item of a list, following cursors.
pub async fn all(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}page_size=7&cursor={c}"),
            None => format!("{path}{sep}page_size=7"),
        };
        let r = app.get(&url, token).await;
        out.extend(r.ok()["list"].as_array().unwrap().iter().cloned());
        match r.data()["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("too many pages");
}

/// Platform → A (L1) → B (L2) → C (L3), sibling D (L1); 10 cards in platform stock.
pub struct Tree {
    pub admin: String,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
}

pub async fn tree_with_cards(app: &TestApp, n: u64) -> Tree {
    let admin = admin_with_cards(app, n).await;
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    let b = app.shop(&admin, "B", Some(a), role).await;
    let c = app.shop(&admin, "C", Some(b), role).await;
    let d = app.shop(&admin, "D", None, role).await;
    Tree { admin, a, b, c, d }
}

/// The ICCIDs of a card list.
pub fn iccids(list: &[Value]) -> HashSet<String> {
    list.iter()
        .map(|c| c["iccid"].as_str().unwrap().to_string())
        .collect()
}

/// Imports `csv` as devices; returns the task id once the queue has run.
pub async fn import_devices(app: &TestApp, token: &str, csv: &str) -> u64 {
    let key = upload(app, token, "device_import", csv).await;
    let r = app
        .post("/api/admin/devices/import", token, json!({"file_key": key}))
        .await;
    let id = r.ok()["task_id"].as_u64().unwrap();
    drain(app).await;
    id
}

/// A super-admin token, with the CMCC carrier and cards `1..=n` in platform stock.
pub async fn admin_with_cards(app: &TestApp, n: u64) -> String {
    let admin = app.admin().await;
    carrier(app, &admin).await;
    import_cards(app, &admin, &cards_csv(1, n + 1), json!({})).await;
    admin
}

/// Runs the bulk worker until task `id` has finished; returns it as its route shows it.
pub async fn drain_bulk(app: &TestApp, token: &str, id: u64) -> Value {
    for _ in 0..200 {
        let t = app
            .get(&format!("/api/admin/bulk-tasks/{id}"), token)
            .await
            .ok()
            .clone();
        if t["status"] == "done" || t["status"] == "failed" {
            return t;
        }
        shared::local::pump_bulk_queue(&app.state, 1).await.unwrap();
    }
    panic!("bulk task {id} did not finish");
}
