//! Bad input through the router: each a clear envelope error, never a panic, and
//! nothing written.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use shared::api::extract::ClientIp;

use crate::helpers::{shop_body, spawn_app};

#[tokio::test]
async fn malformed_bodies_wrong_types_missing_fields() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "r").await;
    let before = app.table.entity_keys().await;

    let raw = |body: &'static str, content_type: &'static str| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/api/admin/shops")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut().insert(ClientIp("127.0.0.1".into()));
        req
    };
    let r = app.send(raw("{not json", "application/json")).await;
    r.err(400, 1001);
    assert!(r.body["msg"].as_str().unwrap().contains("malformed JSON"));
    app.send(raw("{}", "text/plain")).await.err(400, 1001);

    let mut wrong_type = shop_body("X", None, role);
    wrong_type["default_role_id"] = json!("seven");
    let r = app.post("/api/admin/shops", &admin, wrong_type).await;
    r.err(400, 1001);
    assert!(
        r.body["msg"].as_str().unwrap().contains("default_role_id"),
        "{}",
        r.body
    );

    let mut missing = shop_body("X", None, role);
    missing.as_object_mut().unwrap().remove("shop_code");
    let r = app.post("/api/admin/shops", &admin, missing).await;
    r.err(400, 1001);
    assert!(r.body["msg"].as_str().unwrap().contains("shop_code"));

    let mut negative = shop_body("X", None, role);
    negative["parent_id"] = json!(-1);
    app.post("/api/admin/shops", &admin, negative)
        .await
        .err(400, 1001);

    for (field, value) in [
        ("shop_name", json!("   ")),
        ("shop_name", json!("x".repeat(101))),
        ("shop_code", json!("has spaces")),
        ("contact_phone", json!("12ab")),
    ] {
        let mut body = shop_body("X", None, role);
        body[field] = value;
        let r = app.post("/api/admin/shops", &admin, body).await;
        r.err(400, 1001);
        assert!(
            r.body["msg"].as_str().unwrap().contains(field),
            "{}",
            r.body
        );
    }
    let mut weak = shop_body("X", None, role);
    weak["initial_account"]["password"] = json!("short");
    app.post("/api/admin/shops", &admin, weak)
        .await
        .err(400, 1001);
    app.put("/api/admin/shops/1/status", &admin, json!({"status": 7}))
        .await
        .err(400, 1001);
    app.post(
        "/api/admin/accounts",
        &admin,
        json!({"username": "u1", "password": "password-1", "user_type": 9}),
    )
    .await
    .err(400, 1001);
    app.post(
        "/api/admin/accounts",
        &admin,
        json!({"username": "u1", "password": "password-1", "user_type": 3}),
    )
    .await
    .err(400, 1001);

    assert_eq!(app.table.entity_keys().await, before, "no partial writes");
}

#[tokio::test]
async fn oversize_unknown_ids_and_routes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "r").await;
    let before = app.table.entity_keys().await;

    let mut huge = shop_body("X", None, role);
    huge["address"] = json!("x".repeat(100 * 1024));
    app.post("/api/admin/shops", &admin, huge)
        .await
        .err(413, 1003);

    app.get("/api/admin/shops/424242", &admin)
        .await
        .err(404, 1002);
    app.get("/api/admin/shops/abc", &admin).await.err(400, 1001);
    app.get("/api/admin/shops/0", &admin).await.err(400, 1001);
    app.get("/api/admin/shops/99999999999999999999999", &admin)
        .await
        .err(400, 1001);
    app.get("/api/admin/accounts/424242", &admin)
        .await
        .err(404, 1002);
    app.get("/api/admin/enterprises/424242", &admin)
        .await
        .err(404, 1002);
    app.get("/api/admin/roles/424242", &admin)
        .await
        .err(404, 1002);
    app.put("/api/admin/permissions/424242", &admin, json!({"sort": 1}))
        .await
        .err(404, 1002);
    app.delete("/api/admin/shops/424242", &admin)
        .await
        .err(404, 1002);
    app.post(
        "/api/admin/shops",
        &admin,
        shop_body("X", Some(424242), role),
    )
    .await
    .err(400, 1024);
    app.get("/api/admin/no-such-route", &admin)
        .await
        .err(404, 1002);
    app.call("PATCH", "/api/admin/shops", Some(&admin), None)
        .await
        .err(405, 1029);
    app.get("/api/admin/shops?page=0", &admin)
        .await
        .err(400, 1001);
    app.get("/api/admin/shops?page_size=1000", &admin)
        .await
        .err(400, 1001);
    app.get("/api/admin/shops?level=abc", &admin)
        .await
        .err(400, 1001);

    assert_eq!(app.table.entity_keys().await, before, "no partial writes");
}
