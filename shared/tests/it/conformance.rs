//! Conformance with the spec's user-visible details: messages in the users'
//! language, carrier billing-day defaults, role updates, paged operation logs, and
//! link replacements too large for one transaction.

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};
use shared::api::extract::ClientIp;

use crate::helpers::{spawn_app, Resp, TestApp};

/// `GET path` as `token` with an `Accept-Language` header.
async fn get_in(app: &TestApp, path: &str, token: &str, lang: Option<&str>) -> Resp {
    let mut req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if let Some(lang) = lang {
        req = req.header("accept-language", lang);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut().insert(ClientIp("127.0.0.1".into()));
    app.send(req).await
}

fn msg(r: &Resp) -> &str {
    r.body["msg"].as_str().unwrap()
}

#[tokio::test]
async fn messages_speak_chinese_unless_english_is_preferred() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let r = get_in(&app, "/api/admin/shops/999", &admin, None).await;
    r.err(404, 1002);
    assert!(msg(&r).starts_with("对象不存在"), "{}", r.body);
    let r = get_in(&app, "/api/admin/shops/999", &admin, Some("en-US,en;q=0.9")).await;
    r.err(404, 1002);
    assert!(msg(&r).is_ascii(), "{}", r.body);
    assert!(msg(&r).contains("not found"), "{}", r.body);
    let r = get_in(&app, "/api/admin/shops/999", &admin, Some("zh-CN,en;q=0.5")).await;
    assert!(msg(&r).starts_with("对象不存在"), "{}", r.body);

    // No token: the spec's own text; English on request.
    let r = get_in(&app, "/api/admin/me", "not-a-token", None).await;
    r.err(401, 1004);
    assert_eq!(msg(&r), "认证令牌无效或已过期");
    let r = get_in(&app, "/api/admin/me", "not-a-token", Some("en")).await;
    assert_eq!(msg(&r), "token invalid or expired");

    // Unknown routes and bad ids too.
    let r = get_in(&app, "/api/admin/nothing-here", &admin, None).await;
    r.err(404, 1002);
    assert_eq!(msg(&r), "路由不存在");
    let r = get_in(&app, "/api/admin/shops/abc", &admin, Some("en")).await;
    r.err(400, 1001);
    assert_eq!(msg(&r), "invalid id");
    let r = get_in(&app, "/api/admin/shops/abc", &admin, None).await;
    assert_eq!(msg(&r), "无效的ID");

    // Details name the field in either language; success stays "success".
    let r = app
        .post(
            "/api/admin/roles",
            &admin,
            json!({"role_name": " ", "role_type": 2}),
        )
        .await;
    r.err(400, 1001);
    assert!(msg(&r).contains("role_name"), "{}", r.body);
    assert!(!msg(&r).is_ascii(), "Chinese by default: {}", r.body);
    let r = get_in(&app, "/api/admin/me", &admin, None).await;
    assert_eq!(msg(&r), "success");
}

#[tokio::test]
async fn carrier_billing_day_defaults_by_carrier_type() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (carrier_type, given, want) in [
        ("CUCC", None, 27),
        ("CMCC", None, 1),
        ("CTCC", None, 1),
        ("CUCC", Some(5), 5),
    ] {
        let mut body = json!({"carrier_name": format!("{carrier_type} {given:?}"), "carrier_type": carrier_type});
        if let Some(day) = given {
            body["billing_day"] = json!(day);
        }
        let r = app.post("/api/admin/carriers", &admin, body).await;
        assert_eq!(r.ok()["billing_day"], want, "{carrier_type} {given:?}");
    }
}

#[tokio::test]
async fn role_update_takes_type_and_status() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "sales").await;
    let path = format!("/api/admin/roles/{role}");

    let r = app
        .put(&path, &admin, json!({"role_type": 1, "status": 0}))
        .await;
    let data = r.ok();
    assert_eq!(
        (data["role_type"].clone(), data["status"].clone()),
        (json!(1), json!(0))
    );
    app.put(&path, &admin, json!({"status": 3}))
        .await
        .err(400, 1001);
    app.put(&path, &admin, json!({"role_type": 9}))
        .await
        .err(400, 1001);

    // Back to an enabled customer role; once a shop holds it its type is fixed.
    app.put(&path, &admin, json!({"role_type": 2, "status": 1}))
        .await
        .ok();
    app.shop(&admin, "S1", None, role).await;
    app.put(&path, &admin, json!({"role_type": 1}))
        .await
        .err(409, 1023);
    let r = app
        .put(
            &path,
            &admin,
            json!({"role_type": 2, "status": 0, "role_desc": "d"}),
        )
        .await;
    assert_eq!(r.ok()["role_desc"], "d", "an unchanged type is no change");
}

#[tokio::test]
async fn operation_logs_page_like_every_list() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "r").await;
    app.shop(&admin, "S1", None, role).await;
    let staff = app
        .post(
            "/api/admin/accounts",
            &admin,
            json!({"username": "ops1", "password": "password-1", "user_type": 2}),
        )
        .await
        .ok()["id"]
        .as_u64()
        .unwrap();
    for phone in ["13800000001", "13800000002", "13800000003"] {
        app.put(
            &format!("/api/admin/accounts/{staff}"),
            &admin,
            json!({"phone": phone}),
        )
        .await
        .ok();
    }
    let logs = |q: String| {
        let app = &app;
        let admin = &admin;
        async move {
            app.get(
                &format!("/api/admin/accounts/{staff}/operation-logs{q}"),
                admin,
            )
            .await
        }
    };
    let all = logs(String::new()).await;
    let page: &Value = all.ok();
    assert_eq!(
        (
            page["total"].clone(),
            page["page_size"].clone(),
            page["has_more"].clone()
        ),
        (Value::Null, json!(20), json!(false)),
        "the log keeps no count"
    );
    assert_eq!(page["list"].as_array().unwrap().len(), 4);
    let first = logs("?page_size=3".into()).await;
    assert_eq!(first.ok()["list"].as_array().unwrap().len(), 3);
    assert_eq!(first.ok()["has_more"], true);
    let cursor = first.ok()["next_cursor"].as_str().unwrap().to_string();
    let second = logs(format!("?page_size=3&cursor={cursor}")).await;
    let list = second.ok()["list"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(second.ok()["has_more"], false);
    assert_eq!(
        list[0]["operation_type"], "create",
        "newest first: the oldest is last"
    );
    for bad in ["?page_size=101", "?page=0", "?page=2", "?cursor=zz"] {
        logs(bad.into()).await.err(400, 1001);
    }
}

#[tokio::test]
async fn swapping_all_roles_is_one_transaction_and_roles_count_their_holders() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut roles = Vec::new();
    for i in 0..80 {
        let r = app
            .post(
                "/api/admin/roles",
                &admin,
                json!({"role_name": format!("ops-{i}"), "role_type": 1}),
            )
            .await;
        roles.push(r.ok()["id"].as_u64().unwrap());
    }
    let staff = app
        .post(
            "/api/admin/accounts",
            &admin,
            json!({"username": "ops1", "password": "password-1", "user_type": 2}),
        )
        .await
        .ok()["id"]
        .as_u64()
        .unwrap();
    let path = format!("/api/admin/accounts/{staff}/roles");
    let set = |ids: &[u64]| json!({ "role_ids": ids });
    app.put(&path, &admin, set(&roles[..40])).await.ok();
    // 40 out, 40 in: 81 operations, one transaction (this used to crash the Lambda).
    let held = app.put(&path, &admin, set(&roles[40..])).await;
    assert_eq!(held.ok().as_array().unwrap().len(), 40);
    let holders = |id: u64| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.get(&format!("/api/admin/roles/{id}"), &admin)
                .await
                .ok()["holders"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    assert_eq!(holders(roles[0]).await, 0);
    assert_eq!(holders(roles[40]).await, 1);
    // A held role cannot be deleted; a released one can.
    app.delete(&format!("/api/admin/roles/{}", roles[40]), &admin)
        .await
        .err(409, 1023);
    app.delete(&format!("/api/admin/roles/{}", roles[0]), &admin)
        .await
        .ok();
    // Deleting the account releases its roles.
    app.delete(&format!("/api/admin/accounts/{staff}"), &admin)
        .await
        .ok();
    assert_eq!(holders(roles[40]).await, 0);
    app.delete(&format!("/api/admin/roles/{}", roles[40]), &admin)
        .await
        .ok();

    // Giving a role races deleting it: never a deleted role that is held.
    for (i, role) in roles[50..60].iter().enumerate() {
        let body =
            json!({"username": format!("racer{i}"), "password": "password-1", "user_type": 2});
        let account = app.post("/api/admin/accounts", &admin, body).await.ok()["id"]
            .as_u64()
            .unwrap();
        let give_path = format!("/api/admin/accounts/{account}/roles");
        let role_path = format!("/api/admin/roles/{role}");
        let give = app.put(&give_path, &admin, json!({ "role_ids": [role] }));
        let remove = app.delete(&role_path, &admin);
        let (given, removed) = tokio::join!(give, remove);
        let given = given.code() == 0;
        let removed = removed.code() == 0;
        assert!(!(given && removed), "both won for role {role}");
        let now = app
            .get(&format!("/api/admin/accounts/{account}/roles"), &admin)
            .await;
        let holds = !now.ok().as_array().unwrap().is_empty();
        assert_eq!(holds, given, "role {role}");
    }
}
