//! Presigned uploads (api.md §10) and the bounds on what an import may read: the
//! signed size, the caller's own prefix, and the worker's size check for uploads
//! made without a size.

use serde_json::json;

use crate::helpers::assets::{all, cards_csv, carrier, iccid};
use crate::helpers::assets::{import_task, put_file, upload};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn uploads_are_bounded_and_imports_only_take_own_files() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let body = |size: i64, ct: &str| json!({"file_name": "x.csv", "content_type": ct, "size": size, "purpose": "iot_card_import"});
    app.post("/api/admin/storage/upload-url", &admin, body(0, "text/csv"))
        .await
        .err(400, 1001);
    app.post(
        "/api/admin/storage/upload-url",
        &admin,
        body(60 * 1024 * 1024, "text/csv"),
    )
    .await
    .err(400, 1001);
    app.post(
        "/api/admin/storage/upload-url",
        &admin,
        body(10, "application/x-sh"),
    )
    .await
    .err(400, 1001);
    let r = app
        .post(
            "/api/admin/storage/upload-url",
            &admin,
            body(10, "text/csv"),
        )
        .await;
    let key = r.ok()["file_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("uploads/iot_card_import/1/"));
    // Not uploaded yet.
    app.post(
        "/api/admin/iot-cards/import",
        &admin,
        json!({"file_key": key}),
    )
    .await
    .err(404, 1002);
    // Another account's prefix.
    app.post(
        "/api/admin/iot-cards/import",
        &admin,
        json!({"file_key": "uploads/iot_card_import/99/x/y.csv"}),
    )
    .await
    .err(400, 1001);
    let key = upload(&app, &admin, "iot_card_import", "iccid\n").await;
    app.post(
        "/api/admin/devices/import",
        &admin,
        json!({"file_key": key}),
    )
    .await
    .err(400, 1001);
    let d = app
        .get(
            &format!("/api/admin/storage/download-url?file_key={key}"),
            &admin,
        )
        .await;
    assert!(d.ok()["download_url"].as_str().unwrap().contains("uploads"));
}

#[tokio::test]
async fn an_upload_without_a_size_is_bounded_by_the_worker() {
    let max = 200;
    let app = spawn_app_with(|c| c.max_upload_bytes = max).await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    let spec_body = |size: Option<i64>| {
        let mut body = json!({"file_name": "c.csv", "purpose": "iot_card_import"});
        if let Some(size) = size {
            body["size"] = json!(size);
        }
        body
    };
    // With a size: bounded at once (and signed, see `put_file`); without: accepted.
    app.post(
        "/api/admin/storage/upload-url",
        &admin,
        spec_body(Some(max + 1)),
    )
    .await
    .err(400, 1001);
    let r = app
        .post("/api/admin/storage/upload-url", &admin, spec_body(None))
        .await;
    assert_eq!(r.ok()["content_type"], "text/csv");
    assert!(r.data()["expires_in"].as_u64().is_some());

    // A small file uploaded without its size imports as usual.
    let small = cards_csv(1, 3);
    assert!(small.len() as i64 <= max);
    let key = put_file(&app, &admin, "iot_card_import", &small, false).await;
    let task = import_task(&app, &admin, &key, json!({})).await;
    assert_eq!(
        (task["status"].as_str(), task["success_count"].as_u64()),
        (Some("completed"), Some(2))
    );

    // A larger one is refused by the worker before it reads any row: card imports
    // (ranged reads) and virtual-number fills (one whole read) alike.
    let large = cards_csv(10, 20);
    let fill = format!(
        "iccid,virtual_no\n{}",
        format!("{},V1\n", iccid(1)).repeat(9)
    );
    for (csv, extra) in [
        (large, json!({})),
        (fill, json!({"import_type": "virtual_no"})),
    ] {
        assert!(csv.len() as i64 > max);
        let key = put_file(&app, &admin, "iot_card_import", &csv, false).await;
        let task = import_task(&app, &admin, &key, extra).await;
        assert_eq!(task["status"], "failed", "{task}");
        assert_eq!(
            task["error"],
            format!(
                "the file is {} bytes; at most {max} bytes can be imported",
                csv.len()
            )
        );
        assert_eq!(
            (task["total_count"].as_u64(), task["success_count"].as_u64()),
            (Some(0), Some(0))
        );
        assert!(task["failed_items"].as_array().unwrap().is_empty());
    }
    assert_eq!(all(&app, &admin, "/api/admin/iot-cards").await.len(), 2);
}
