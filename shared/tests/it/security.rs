//! Account takeover and lock-out paths, replayed through the router: failed-login
//! throttling that cannot lock anyone else out, no username enumeration through the
//! call-count header, no self reset without the old password, password changes that
//! end sessions begun with the old one, and disabled shops shutting out their subtree.

use serde_json::{json, Value};
use shared::store::keys;
use shared::store::sessions::Session;
use shared::store::{from_item, to_item};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN_PASSWORD};

fn login_body(user: &str, pass: &str) -> Value {
    json!({"username": user, "password": pass})
}

async fn login_from(app: &TestApp, ip: &str, user: &str, pass: &str) -> crate::helpers::Resp {
    app.call_from(
        ip,
        "POST",
        "/api/admin/login",
        None,
        Some(login_body(user, pass)),
    )
    .await
}

#[tokio::test]
async fn failed_logins_from_one_ip_do_not_lock_the_owner_out() {
    let app = spawn_app().await;
    app.state.clock.set(1_800_000_000); // a window starts here
    for _ in 0..10 {
        login_from(&app, "10.0.0.1", "admin", "wrong-password")
            .await
            .err(401, 1010);
    }
    // The guessing IP is refused even with the right password...
    login_from(&app, "10.0.0.1", "admin", ADMIN_PASSWORD)
        .await
        .err(429, 1006);
    // ...the owner from another IP logs in.
    login_from(&app, "10.0.0.2", "admin", ADMIN_PASSWORD)
        .await
        .ok();
    // A success clears its own pair: after 9 failures and a success, 10 more tries.
    for _ in 0..9 {
        login_from(&app, "10.0.0.3", "admin", "wrong-password")
            .await
            .err(401, 1010);
    }
    login_from(&app, "10.0.0.3", "admin", ADMIN_PASSWORD)
        .await
        .ok();
    for _ in 0..10 {
        login_from(&app, "10.0.0.3", "admin", "wrong-password")
            .await
            .err(401, 1010);
    }
    login_from(&app, "10.0.0.3", "admin", ADMIN_PASSWORD)
        .await
        .err(429, 1006);
}

#[tokio::test]
async fn a_username_has_a_ceiling_across_ips() {
    let app = spawn_app_with(|c| c.login_limit_per_username = 12).await;
    app.state.clock.set(1_800_000_000);
    // Distributed guessing: 4 IPs, 3 failures each.
    for ip in ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"] {
        for _ in 0..3 {
            login_from(&app, ip, "admin", "wrong-password")
                .await
                .err(401, 1010);
        }
    }
    login_from(&app, "10.1.0.9", "admin", ADMIN_PASSWORD)
        .await
        .err(429, 1006);
    // Other usernames are unaffected; the ceiling ends with the window.
    app.state.clock.advance(900);
    login_from(&app, "10.1.0.9", "admin", ADMIN_PASSWORD)
        .await
        .ok();
}

#[tokio::test]
async fn login_reveals_nothing_about_which_usernames_exist() {
    let app = spawn_app_with(|c| c.expose_ddb_calls = false).await;
    let unknown = login_from(&app, "10.2.0.1", "nobody-here", "wrong-password").await;
    let known = login_from(&app, "10.2.0.1", "admin", "wrong-password").await;
    unknown.err(401, 1010);
    known.err(401, 1010);
    assert_eq!(unknown.body["msg"], known.body["msg"]);
    for r in [&unknown, &known] {
        assert!(r.headers.get("x-ddb-calls").is_none(), "{:?}", r.headers);
    }
    // The dev server and tests opt in to the header.
    let app = spawn_app().await;
    let r = login_from(&app, "10.2.0.1", "admin", ADMIN_PASSWORD).await;
    assert!(r.ddb_calls() > 0);
}

#[tokio::test]
async fn own_password_needs_the_old_one_and_wrong_ones_are_throttled() {
    let app = spawn_app().await;
    app.state.clock.set(1_800_000_000);
    let admin = app.admin().await;
    let me = app.get("/api/admin/me", &admin).await;
    let id = me.ok()["account"]["id"].as_u64().unwrap();
    // No self reset through the accounts route.
    app.put(
        &format!("/api/admin/accounts/{id}/password"),
        &admin,
        json!({"password": "taken-over-1"}),
    )
    .await
    .err(403, 1005);
    app.login("admin", ADMIN_PASSWORD).await;
    // Wrong old passwords: 10 per window, then refused even when right.
    let change = |old: &str| json!({"old_password": old, "new_password": "brand-new-pass"});
    for _ in 0..10 {
        app.put("/api/admin/me/password", &admin, change("wrong-old"))
            .await
            .err(400, 1027);
    }
    app.put("/api/admin/me/password", &admin, change(ADMIN_PASSWORD))
        .await
        .err(429, 1006);
    app.state.clock.advance(900);
    app.put("/api/admin/me/password", &admin, change(ADMIN_PASSWORD))
        .await
        .ok();
    // The session that changed it carries on.
    app.get("/api/admin/me", &admin).await.ok();
}

#[tokio::test]
async fn a_session_begun_with_the_old_password_does_not_survive_a_reset() {
    let app = spawn_app().await;
    let admin = app.admin().await;
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
    let token = app.login("ops1", "password-1").await;
    // Capture the session as a login racing the reset would write it: after the reset.
    let sessions = app
        .state
        .store
        .query_prefix(
            shared::store::On::Table,
            &keys::account(staff).pk,
            "SESSION#",
        )
        .await
        .unwrap();
    let session: Session = from_item(sessions[0].clone()).unwrap();
    app.put(
        &format!("/api/admin/accounts/{staff}/password"),
        &admin,
        json!({"password": "password-2"}),
    )
    .await
    .ok();
    let key = keys::session(staff, &session.sid);
    app.state
        .store
        .put(to_item(&session, &key).unwrap())
        .await
        .unwrap();
    app.get("/api/admin/me", &token).await.err(401, 1004);
    // Logging in with the new password works.
    let fresh = app.login("ops1", "password-2").await;
    app.get("/api/admin/me", &fresh).await.ok();
}

#[tokio::test]
async fn a_disabled_shop_shuts_out_its_whole_subtree() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let admin = &cast.sa;
    // An enterprise below A (owned by B) with its account.
    let ent = app
        .post(
            "/api/admin/enterprises",
            admin,
            json!({"enterprise_name": "EB", "enterprise_code": "EB", "owner_shop_id": cast.b}),
        )
        .await
        .ok()["id"]
        .as_u64()
        .unwrap();
    app.post(
        "/api/admin/accounts",
        admin,
        json!({"username": "eb-user", "password": "password-eb", "user_type": 4, "enterprise_id": ent}),
    )
    .await
    .ok();
    let ent_user = app.login("eb-user", "password-eb").await;
    let calls_before = app.get("/api/admin/me", &cast.l3).await.ddb_calls();

    let status = |s: i64| json!({"status": s});
    app.put(
        &format!("/api/admin/shops/{}/status", cast.a),
        admin,
        status(0),
    )
    .await
    .ok();
    // Everyone below A is out: the L1 and L3 agents, enterprises owned in the subtree.
    for token in [&cast.l1, &cast.l3, &cast.enterprise, &ent_user] {
        app.get("/api/admin/me", token).await.err(403, 1012);
    }
    for (user, pass) in [("C-agent", "password-C"), ("eb-user", "password-eb")] {
        login_from(&app, "10.3.0.1", user, pass)
            .await
            .err(403, 1012);
    }
    // The sibling and the platform are not.
    app.get("/api/admin/me", &cast.sibling).await.ok();
    let d = app
        .get(&format!("/api/admin/shops/{}", cast.d), &cast.sibling)
        .await;
    d.ok();
    app.get(&format!("/api/admin/shops/{}", cast.c), &cast.platform)
        .await
        .ok();

    // Re-enabled: they are back, at the same cost per request.
    app.put(
        &format!("/api/admin/shops/{}/status", cast.a),
        admin,
        status(1),
    )
    .await
    .ok();
    let me = app.get("/api/admin/me", &cast.l3).await;
    me.ok();
    assert_eq!(me.ddb_calls(), calls_before);
    app.get("/api/admin/me", &ent_user).await.ok();
}

/// A writer collecting log output.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_write_logs_its_label_and_key_never_the_stored_item() {
    use shared::api::envelope::ApiError;
    use shared::services::auth::AuthError;
    use shared::store::{s, StoreError};

    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        // What a concurrent `/me/password` meets: the account changed meanwhile and
        // DynamoDB returns the whole old item with the failed condition.
        let old = std::collections::HashMap::from([
            ("pk".to_string(), s("ACCOUNT#7")),
            ("sk".to_string(), s("#")),
            ("password_hash".to_string(), s("$argon2id$v=19$secret-hash")),
            ("phone".to_string(), s("13800138000")),
        ]);
        let e = AuthError::Store(StoreError::ConditionFailed {
            label: "account",
            old: Some(Box::new(old)),
        });
        let api = ApiError::from(e);
        assert_eq!(api.code.0, 2002);
        assert!(
            !api.text.en.contains("ACCOUNT"),
            "clients see nothing internal"
        );
    });
    let line = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(line.contains("request failed"), "{line}");
    assert!(
        line.contains("account") && line.contains("ACCOUNT#7"),
        "{line}"
    );
    for secret in ["argon2", "secret-hash", "13800138000"] {
        assert!(!line.contains(secret), "leaked {secret}: {line}");
    }
}

#[tokio::test]
async fn batch_allocation_and_pricing_reach_only_the_callers_direct_sub_shops() {
    use crate::catalog::{grant_body, package, series};

    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let sa = &cast.sa;
    let s = series(
        &app,
        sa,
        json!({"series_name": "S", "series_code": "S", "commission_type": "fixed", "commission_amount": 1000}),
    )
    .await;
    let p = package(&app, sa, "P1", s).await;
    // The platform grants the series to A and to its sibling D, at different prices.
    for (shop, cost) in [(cast.a, 6000), (cast.d, 7777)] {
        app.post(
            "/api/admin/shop-series-grants",
            sa,
            grant_body(shop, s, 100, &[(p, cost)]),
        )
        .await
        .ok();
    }
    let before = app.table.entity_keys().await;
    let allocate =
        |shops: Vec<u64>| json!({"shop_ids": shops, "package_ids": [p], "cost_price": 6500});
    let price = |shop: u64| json!({"shop_id": shop, "package_ids": [p], "cost_price": 6500});
    // A (L1) names its sibling D, D's grandchild-free tree, and C below B: all look missing,
    // and nothing of D's (its price 7777) comes back.
    for shops in [vec![cast.d], vec![cast.c], vec![cast.b, cast.d]] {
        let r = app
            .post(
                "/api/admin/shop-package-batch-allocations",
                &cast.l1,
                allocate(shops),
            )
            .await;
        r.err(404, 1002);
        assert!(!r.body.to_string().contains("7777"), "{}", r.body);
    }
    for shop in [cast.d, cast.c] {
        let r = app
            .post(
                "/api/admin/shop-package-batch-pricing",
                &cast.l1,
                price(shop),
            )
            .await;
        r.err(404, 1002);
        assert!(!r.body.to_string().contains("7777"), "{}", r.body);
    }
    // The platform allocates to level-1 shops only.
    app.post(
        "/api/admin/shop-package-batch-allocations",
        sa,
        allocate(vec![cast.b]),
    )
    .await
    .err(404, 1002);
    assert_eq!(app.table.entity_keys().await, before, "nothing written");
    // Its own direct sub-shop B is a valid target (B holds no grant from A yet).
    app.post(
        "/api/admin/shop-package-batch-allocations",
        &cast.l1,
        allocate(vec![cast.b]),
    )
    .await
    .err(400, 1057);
}

#[tokio::test]
async fn upload_urls_are_rate_limited_per_account() {
    let app = spawn_app_with(|c| c.upload_url_limit = 3).await;
    app.state.clock.set(1_800_000_000);
    let admin = app.admin().await;
    let ask = || {
        app.post(
            "/api/admin/storage/upload-url",
            &admin,
            json!({"file_name": "cards.csv", "purpose": "iot_card_import"}),
        )
    };
    for _ in 0..3 {
        ask().await.ok();
    }
    ask().await.err(429, 1006);
    // Another account is not affected; the limit ends with its minute.
    let role = app.customer_role(&admin, "r").await;
    app.shop(&admin, "S1", None, role).await;
    let agent = app.agent("S1").await;
    app.post(
        "/api/admin/storage/upload-url",
        &agent,
        json!({"file_name": "cards.csv", "purpose": "iot_card_import"}),
    )
    .await
    .ok();
    app.state.clock.advance(60);
    ask().await.ok();
}

#[tokio::test]
async fn imei_and_sn_are_set_by_platform_staff_only() {
    use crate::helpers::assets::import_devices;

    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    import_devices(
        &app,
        &cast.sa,
        "virtual_no,imei,max_sim_slots\nDV-1,490154203237518,2\n",
    )
    .await;
    let device = app
        .get("/api/admin/devices?page_size=10", &cast.sa)
        .await
        .ok()["list"][0]["id"]
        .as_u64()
        .unwrap();
    app.post(
        "/api/admin/devices/allocate",
        &cast.sa,
        json!({"to_shop_id": cast.a, "virtual_nos": ["DV-1"]}),
    )
    .await
    .ok();
    let path = format!("/api/admin/devices/{device}");
    for body in [
        json!({"imei": "356938035643809"}),
        json!({"sn": "SN-X"}),
        json!({"imei": ""}),
    ] {
        app.put(&path, &cast.l1, body).await.err(403, 1005);
    }
    // Other fields stay the agent's to change; the platform may re-point the IMEI.
    app.put(&path, &cast.l1, json!({"device_name": "gate 1"}))
        .await
        .ok();
    let r = app
        .put(&path, &cast.platform, json!({"imei": "356938035643809"}))
        .await;
    assert_eq!(r.ok()["imei"], "356938035643809");
}

#[tokio::test]
async fn naming_another_tenants_assets_tells_nothing_about_them() {
    use crate::helpers::assets::{admin_with_cards, iccid};

    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    admin_with_cards(&app, 4).await;
    // Card 1 goes to the sibling D, card 2 to A (the L1 agent's own stock).
    for (n, shop) in [(1, cast.d), (2, cast.a)] {
        app.post(
            "/api/admin/iot-cards/allocate",
            &cast.sa,
            json!({"to_shop_id": shop, "iccids": [iccid(n)]}),
        )
        .await
        .ok();
    }
    let unknown = "89860000000000009999";
    let reasons = |r: &crate::helpers::Resp| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = r.ok()["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["iccid"].as_str().unwrap().to_string(),
                    f["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    // Allocating the sibling's card, platform stock and an unknown ICCID: all alike.
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &cast.l1,
            json!({"to_shop_id": cast.b, "iccids": [iccid(1), iccid(3), unknown]}),
        )
        .await;
    let got = reasons(&r);
    assert_eq!(got.len(), 3, "{}", r.body);
    assert!(got.iter().all(|(_, why)| why == &got[0].1), "{got:?}");
    // Recalling them too.
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &cast.l1,
            json!({"iccids": [iccid(1), iccid(3), unknown]}),
        )
        .await;
    let got = reasons(&r);
    assert_eq!(got.len(), 3, "{}", r.body);
    assert!(got.iter().all(|(_, why)| why == &got[0].1), "{got:?}");
    // The sibling's card did not move.
    let d = app
        .get(
            &format!("/api/admin/iot-cards/standalone?iccid={}", iccid(1)),
            &cast.sibling,
        )
        .await;
    assert_eq!(d.ok()["list"][0]["shop_id"], cast.d, "{}", d.body);
}
