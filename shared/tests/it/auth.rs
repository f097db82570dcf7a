//! Admin authentication through the router.

use serde_json::json;
use shared::auth::{Claims, TokenKeys, TokenKind};

use crate::helpers::{spawn_app, spawn_app_with, ADMIN_PASSWORD};

#[tokio::test]
async fn login_me_refresh_logout() {
    let app = spawn_app().await;
    let pair = app.login_pair("admin", ADMIN_PASSWORD).await;
    assert_eq!(pair["user"]["user_type"], 1);
    assert_eq!(pair["expires_in"], 7200);
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();

    let me = app.get("/api/admin/me", access).await;
    assert_eq!(me.ok()["account"]["username"], "admin");
    assert!(
        me.data()["account"].get("password_hash").is_none(),
        "never leaks the hash"
    );

    // Refresh rotates: the new pair works, the old refresh and access tokens do not.
    let r = app
        .call(
            "POST",
            "/api/admin/refresh-token",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    let new_access = r.ok()["access_token"].as_str().unwrap().to_string();
    let new_refresh = r.data()["refresh_token"].as_str().unwrap().to_string();
    app.get("/api/admin/me", &new_access).await.ok();
    app.get("/api/admin/me", access).await.err(401, 1004);
    // An access token is not a refresh token.
    app.call(
        "POST",
        "/api/admin/refresh-token",
        None,
        Some(json!({"refresh_token": new_access})),
    )
    .await
    .err(401, 1004);

    // Logout really revokes both tokens of the session.
    app.call("POST", "/api/admin/logout", Some(&new_access), None)
        .await
        .ok();
    app.get("/api/admin/me", &new_access).await.err(401, 1004);
    app.call(
        "POST",
        "/api/admin/refresh-token",
        None,
        Some(json!({"refresh_token": new_refresh})),
    )
    .await
    .err(401, 1004);
}

#[tokio::test]
async fn a_replayed_refresh_token_ends_the_whole_session() {
    let app = spawn_app().await;
    let pair = app.login_pair("admin", ADMIN_PASSWORD).await;
    let stolen = pair["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                "/api/admin/refresh-token",
                None,
                Some(json!({ "refresh_token": token })),
            )
            .await
        }
    };
    // The owner refreshes; then the thief replays the old refresh token.
    let owner = refresh(stolen.clone()).await;
    let owner_access = owner.ok()["access_token"].as_str().unwrap().to_string();
    let owner_refresh = owner.data()["refresh_token"].as_str().unwrap().to_string();
    app.get("/api/admin/me", &owner_access).await.ok();
    refresh(stolen.clone()).await.err(401, 1004);
    // Both are out: the owner's new tokens died with the session.
    app.get("/api/admin/me", &owner_access).await.err(401, 1004);
    refresh(owner_refresh).await.err(401, 1004);
    refresh(stolen).await.err(401, 1004);
    // Another session of the same account is untouched; logging in again works.
    app.admin().await;
}

#[tokio::test]
async fn sessions_have_an_absolute_lifetime() {
    let app = spawn_app_with(|c| {
        c.refresh_token_ttl = 3600;
        c.session_max_age = 5000;
    })
    .await;
    let start = app.state.clock.now();
    let pair = app.login_pair("admin", ADMIN_PASSWORD).await;
    let mut refresh = pair["refresh_token"].as_str().unwrap().to_string();
    // Refreshing every 40 minutes keeps it alive until its absolute end.
    for step in 1..=2 {
        app.state.clock.set(start + step * 2400);
        let r = app
            .call(
                "POST",
                "/api/admin/refresh-token",
                None,
                Some(json!({ "refresh_token": refresh })),
            )
            .await;
        let data = r.ok();
        refresh = data["refresh_token"].as_str().unwrap().to_string();
        let access = data["access_token"].as_str().unwrap();
        app.get("/api/admin/me", access).await.ok();
    }
    app.state.clock.set(start + 5000);
    app.call(
        "POST",
        "/api/admin/refresh-token",
        None,
        Some(json!({ "refresh_token": refresh })),
    )
    .await
    .err(401, 1004);
}

#[tokio::test]
async fn rejections_use_the_spec_codes() {
    let app = spawn_app().await;
    let bad = |u: &str, p: &str| json!({"username": u, "password": p});
    app.call(
        "POST",
        "/api/admin/login",
        None,
        Some(bad("admin", "wrong-password")),
    )
    .await
    .err(401, 1010);
    app.call(
        "POST",
        "/api/admin/login",
        None,
        Some(bad("nobody", "whatever1")),
    )
    .await
    .err(401, 1010);
    app.call("POST", "/api/admin/login", None, Some(bad("", "")))
        .await
        .err(400, 1001);

    let admin = app.admin().await;
    let role = app.customer_role(&admin, "agent-default").await;
    let shop = app.shop(&admin, "S1", None, role).await;
    let agent = app.agent("S1").await;
    app.get("/api/admin/me", &agent).await.ok();

    // A disabled shop blocks login (CodeShopDisabled) and the live session at once.
    app.put(
        &format!("/api/admin/shops/{shop}/status"),
        &admin,
        json!({"status": 0}),
    )
    .await
    .ok();
    app.call(
        "POST",
        "/api/admin/login",
        None,
        Some(bad("S1-agent", "password-S1")),
    )
    .await
    .err(403, 1012);
    app.get("/api/admin/me", &agent).await.err(403, 1012);
    app.put(
        &format!("/api/admin/shops/{shop}/status"),
        &admin,
        json!({"status": 1}),
    )
    .await
    .ok();
    let agent = app.agent("S1").await;

    // A disabled account: login refused, its sessions ended.
    let me = app.get("/api/admin/me", &agent).await;
    let agent_id = me.ok()["account"]["id"].as_u64().unwrap();
    app.put(
        &format!("/api/admin/accounts/{agent_id}/status"),
        &admin,
        json!({"status": 0}),
    )
    .await
    .ok();
    app.call(
        "POST",
        "/api/admin/login",
        None,
        Some(bad("S1-agent", "password-S1")),
    )
    .await
    .err(403, 1011);
    app.get("/api/admin/me", &agent).await.err(401, 1004);

    // A disabled enterprise blocks its account.
    let ent = app
        .post(
            "/api/admin/enterprises",
            &admin,
            json!({"enterprise_name": "E", "enterprise_code": "E1"}),
        )
        .await;
    let ent_id = ent.ok()["id"].as_u64().unwrap();
    app.post(
        "/api/admin/accounts",
        &admin,
        json!({"username": "ent-user", "password": "password-ent", "user_type": 4, "enterprise_id": ent_id}),
    )
    .await
    .ok();
    app.login("ent-user", "password-ent").await;
    app.put(
        &format!("/api/admin/enterprises/{ent_id}/status"),
        &admin,
        json!({"status": 0}),
    )
    .await
    .ok();
    app.call(
        "POST",
        "/api/admin/login",
        None,
        Some(bad("ent-user", "password-ent")),
    )
    .await
    .err(403, 1013);
}

async fn claims(app: &crate::helpers::TestApp, token: &str) -> Claims {
    app.state
        .tokens()
        .await
        .unwrap()
        .verify(token, TokenKind::Access, 0)
        .unwrap()
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.admin().await;
    let c = claims(&app, &token).await;

    // Signed with another key.
    let other = TokenKeys::new("a-completely-different-secret-key!!");
    app.get("/api/admin/me", &other.issue(&c).unwrap())
        .await
        .err(401, 1004);

    // alg "none".
    let b64 = |v: &serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&serde_json::to_value(&c).unwrap())
    );
    app.get("/api/admin/me", &none).await.err(401, 1004);

    // Garbage, missing header, wrong scheme.
    app.get("/api/admin/me", "not.a.token").await.err(401, 1004);
    app.call("GET", "/api/admin/me", None, None)
        .await
        .err(401, 1004);

    // Expired: move the service clock past the access token's lifetime.
    app.state.clock.advance(2 * 3600);
    app.get("/api/admin/me", &token).await.err(401, 1004);
}

#[tokio::test]
async fn login_is_rate_limited_per_username_and_ip() {
    let app = spawn_app().await;
    // Stand the clock at the start of a 15-minute window so no window ends mid-test.
    app.state.clock.set(1_800_000_000); // a multiple of 900: a window starts here
    let body = json!({"username": "admin", "password": "wrong-password"});
    for _ in 0..10 {
        app.call("POST", "/api/admin/login", None, Some(body.clone()))
            .await
            .err(401, 1010);
    }
    // The 11th attempt in the window is refused before the password is checked,
    // even with the right password.
    let good = json!({"username": "admin", "password": ADMIN_PASSWORD});
    app.call("POST", "/api/admin/login", None, Some(good.clone()))
        .await
        .err(429, 1006);
    // Next window.
    app.state.clock.advance(900);
    app.call("POST", "/api/admin/login", None, Some(good))
        .await
        .ok();

    // Per IP: 60 attempts per minute across usernames.
    let app = spawn_app().await;
    app.state.clock.set(1_800_000_000); // a multiple of 900: a window starts here
    for i in 0..60 {
        let r = app
            .call(
                "POST",
                "/api/admin/login",
                None,
                Some(json!({"username": format!("user{i}"), "password": "x1234567"})),
            )
            .await;
        r.err(401, 1010);
    }
    app.call(
        "POST",
        "/api/admin/login",
        None,
        Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
    )
    .await
    .err(429, 1006);
}

#[tokio::test]
async fn change_own_password_ends_other_sessions() {
    let app = spawn_app().await;
    let a = app.admin().await;
    let b = app.admin().await;
    app.put(
        "/api/admin/me/password",
        &a,
        json!({"old_password": "nope-nope", "new_password": "brand-new-pass"}),
    )
    .await
    .err(400, 1027);
    app.put(
        "/api/admin/me/password",
        &a,
        json!({"old_password": ADMIN_PASSWORD, "new_password": "short"}),
    )
    .await
    .err(400, 1001);
    app.put(
        "/api/admin/me/password",
        &a,
        json!({"old_password": ADMIN_PASSWORD, "new_password": "brand-new-pass"}),
    )
    .await
    .ok();
    app.get("/api/admin/me", &a).await.ok();
    app.get("/api/admin/me", &b).await.err(401, 1004);
    app.login("admin", "brand-new-pass").await;
}

#[tokio::test]
async fn concurrent_bootstraps_create_one_super_admin() {
    let app = spawn_app().await;
    // The app already bootstrapped once; more cold starts racing change nothing.
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move {
                shared::services::auth::ensure_super_admin(&state)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for r in runs {
        assert_eq!(r.await.unwrap(), None);
    }
    // And on an empty table, of many racers exactly one creates it.
    let fresh = crate::helpers::TestTable::new().await;
    let mut cfg =
        shared::config::Config::for_local(fresh.store.table(), &crate::helpers::endpoint());
    cfg.super_admin_password = Some("another-pass".into());
    let state = shared::app::AppState::local(cfg, &crate::helpers::endpoint());
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                shared::services::auth::ensure_super_admin(&state)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for r in runs {
        created += r.await.unwrap().is_some() as usize;
    }
    assert_eq!(created, 1);
    let accounts = fresh
        .scan()
        .await
        .into_iter()
        .filter(|i| shared::store::str_attr(i, "pk").is_some_and(|p| p.starts_with("ACCOUNT#")))
        .count();
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn authenticated_request_costs_one_call_for_auth() {
    let app = spawn_app().await;
    let token = app.admin().await;
    let r = app.get("/api/admin/permissions", &token).await;
    r.ok();
    // 1 batch read for the session/account, 1 query for the permission list.
    assert_eq!(r.ddb_calls(), 2);
    let role = app.customer_role(&token, "r").await;
    let shop = app.shop(&token, "S", None, role).await;
    let agent = app.agent("S").await;
    let r = app.get(&format!("/api/admin/shops/{shop}"), &agent).await;
    r.ok();
    // auth (1) + the shop (1); a top-level shop has no parent name to read.
    assert_eq!(r.ddb_calls(), 2);
    let child = app.shop(&token, "S-child", Some(shop), role).await;
    let r = app.get(&format!("/api/admin/shops/{child}"), &agent).await;
    assert_eq!(r.ok()["parent_shop_name"], "Shop S");
    // auth (1) + the shop (1) + its parent's name (1).
    assert_eq!(r.ddb_calls(), 3);
}
