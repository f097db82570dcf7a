//! Role permissions enforced on every route (decisions.md B2): the route table, the
//! seeded catalogue, a read-only role, changes that apply from the next request,
//! and who may give which roles.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use shared::api::access::{Access, ROUTES, UNLISTED_ZH};
use shared::domain::permissions::{Audience, CATALOGUE};

use crate::helpers::actors::Actors;
use crate::helpers::{shop_body, spawn_app, Resp, TestApp};

/// A route's path with its parameters filled in (ids nobody has).
fn concrete(method: &str, path: &str) -> String {
    let action = if method == "GET" {
        "realtime-status"
    } else {
        "refresh"
    };
    path.replace("{id}", "999999")
        .replace("{card_id}", "999999")
        .replace("{identifier}", "NOSUCH")
        .replace("{asset_type}", "card")
        .replace("{action}", action)
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str) -> Resp {
    let body = (method != "GET" && method != "DELETE").then(|| json!({}));
    app.call(method, &concrete(method, path), Some(token), body)
        .await
}

fn msg(r: &Resp) -> &str {
    r.body["msg"].as_str().unwrap_or_default()
}

/// Codes whose every route is a read: what a read-only role holds.
fn read_codes() -> BTreeSet<&'static str> {
    let mut codes = BTreeSet::new();
    for (_, _, access) in ROUTES {
        if let Access::Code(code) = access {
            let all_get = ROUTES
                .iter()
                .filter(|(_, _, a)| a == access)
                .all(|(m, _, _)| *m == "GET");
            if all_get {
                codes.insert(*code);
            }
        }
    }
    codes
}

async fn my_id(app: &TestApp, token: &str) -> u64 {
    app.get("/api/admin/me", token).await.ok()["account"]["id"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn every_route_is_listed_and_its_code_seeded_with_the_routes_it_guards() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    fn walk(nodes: &Value, out: &mut Vec<Value>) {
        for n in nodes.as_array().into_iter().flatten() {
            out.push(n.clone());
            walk(&n["children"], out);
        }
    }
    let mut nodes = Vec::new();
    walk(
        app.get("/api/admin/permissions", &sa).await.ok(),
        &mut nodes,
    );
    for (method, path, access) in ROUTES {
        if let Access::Code(code) = access {
            let node = nodes
                .iter()
                .find(|n| n["perm_code"] == *code)
                .unwrap_or_else(|| panic!("{code} is not seeded"));
            let routes = node["routes"].as_array().unwrap();
            assert!(
                routes.contains(&json!(format!("{method} {path}"))),
                "{code} does not list {method} {path}"
            );
        }
    }
    assert_eq!(nodes.len(), CATALOGUE.len(), "the whole catalogue, once");
    // Every listed route is served, and none is refused as unlisted (the super
    // admin bypasses codes, never the table).
    for (method, path, _) in ROUTES {
        // Logout would end the session; the docs page is HTML (`contract` checks it);
        // payment callbacks answer in the providers' formats (`payments` checks them).
        if *path == "/api/admin/logout"
            || *path == "/api/docs"
            || path.starts_with("/api/callback/")
        {
            continue;
        }
        let r = call(&app, method, path, &sa).await;
        assert_ne!(msg(&r), "路由不存在", "{method} {path} is not routed");
        assert_ne!(msg(&r), UNLISTED_ZH, "{method} {path}");
        assert!(r.status.as_u16() < 500, "{method} {path}: {:?}", r.body);
    }
    // A second start seeds nothing more.
    let created = shared::services::auth::seed_permissions(&app.state.store, 0)
        .await
        .unwrap();
    assert_eq!(created, 0);
}

#[tokio::test]
async fn a_read_only_agent_reads_and_cannot_write() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let reads: Vec<&str> = read_codes().into_iter().collect();
    let ro_role = app.role_with(&cast.sa, "read-only", 2, &reads).await;
    app.put(
        &format!("/api/admin/shops/{}/roles", cast.a),
        &cast.sa,
        json!({"role_ids": [cast.role, ro_role]}),
    )
    .await
    .ok();
    let body =
        json!({"username": "viewer", "password": "password-v", "user_type": 3, "shop_id": cast.a});
    app.account_with_roles(&cast.l1, &cast.sa, body, &[ro_role])
        .await;
    let viewer = app.login("viewer", "password-v").await;
    let me = app.get("/api/admin/me", &viewer).await;
    let mut held: Vec<&str> = me.ok()["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    held.sort();
    assert_eq!(held, reads);
    for (method, path, access) in ROUTES {
        let Access::Code(code) = access else { continue };
        let r = call(&app, method, path, &viewer).await;
        if reads.contains(code) {
            assert!(
                !msg(&r).contains("缺少权限"),
                "{method} {path} refused to a reader: {:?}",
                r.body
            );
        } else {
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (403, 1005),
                "{method} {path} allowed to a reader: {:?}",
                r.body
            );
            assert!(msg(&r).contains(code), "{:?}", r.body);
        }
    }
    // Nothing was written: the tree is as it was.
    let shops = app.get("/api/admin/shops", &cast.sa).await;
    assert_eq!(shops.ok()["total"], 4);
}

#[tokio::test]
async fn role_permission_and_membership_changes_apply_from_the_next_request() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let agent = &cast.l1;
    let shops = || app.get("/api/admin/shops", agent);
    let steady = shops().await;
    steady.ok();
    let steady_calls = steady.ddb_calls();
    let customer: Vec<&str> = CATALOGUE
        .iter()
        .filter(|d| d.audience == Audience::Everyone)
        .map(|d| d.code)
        .collect();
    let without_view: Vec<&str> = customer
        .iter()
        .copied()
        .filter(|c| *c != "shop:view")
        .collect();
    let set_perms = |codes: Vec<&'static str>| {
        let app = &app;
        let sa = cast.sa.clone();
        let role = cast.role;
        async move {
            let ids = app.permission_ids(&sa, &codes).await;
            app.put(
                &format!("/api/admin/roles/{role}/permissions"),
                &sa,
                json!({ "permission_ids": ids }),
            )
            .await
            .ok();
        }
    };

    // The role loses the code: the same token is refused at once.
    set_perms(without_view.clone()).await;
    shops().await.err(403, 1005);
    set_perms(customer.clone()).await;
    shops().await.ok();

    // The permission is disabled for everyone, then enabled again.
    let view_id = app.permission_ids(&cast.sa, &["shop:view"]).await[0];
    let perm = format!("/api/admin/permissions/{view_id}");
    app.put(&perm, &cast.sa, json!({"status": 0})).await.ok();
    shops().await.err(403, 1005);
    app.put(&perm, &cast.sa, json!({"status": 1})).await.ok();
    shops().await.ok();

    // The role is disabled.
    let role = format!("/api/admin/roles/{}/status", cast.role);
    app.put(&role, &cast.sa, json!({"status": 0})).await.ok();
    shops().await.err(403, 1005);
    app.put(&role, &cast.sa, json!({"status": 1})).await.ok();
    shops().await.ok();

    // The shop stops offering the role: its accounts lose it.
    let shop_roles = format!("/api/admin/shops/{}/roles", cast.a);
    let other = app.customer_role(&cast.sa, "other").await;
    app.put(&shop_roles, &cast.sa, json!({"role_ids": [other]}))
        .await
        .ok();
    shops().await.err(403, 1005);
    app.put(&shop_roles, &cast.sa, json!({"role_ids": [cast.role]}))
        .await
        .ok();
    shops().await.ok();

    // The account loses the role, then gets it back.
    let me = my_id(&app, agent).await;
    let account_roles = format!("/api/admin/accounts/{me}/roles");
    app.put(&account_roles, &cast.sa, json!({"role_ids": []}))
        .await
        .ok();
    shops().await.err(403, 1005);
    app.put(&account_roles, &cast.sa, json!({"role_ids": [cast.role]}))
        .await
        .ok();
    shops().await.ok();

    // A role the token does not name costs one more read until the token is renewed;
    // a renewed token reads everything in the one batch again.
    app.put(
        &shop_roles,
        &cast.sa,
        json!({"role_ids": [cast.role, other]}),
    )
    .await
    .ok();
    app.put(
        &account_roles,
        &cast.sa,
        json!({"role_ids": [cast.role, other]}),
    )
    .await
    .ok();
    let changed = shops().await;
    changed.ok();
    assert_eq!(changed.ddb_calls(), steady_calls + 1);
    let renewed = app.agent("A").await;
    let hot = app.get("/api/admin/shops", &renewed).await;
    hot.ok();
    assert_eq!(
        hot.ddb_calls(),
        steady_calls,
        "no extra read on the hot path"
    );

    // An enterprise account of shop A is bounded by A's roles too.
    app.get("/api/admin/enterprises", &cast.enterprise)
        .await
        .ok();
    app.put(&shop_roles, &cast.sa, json!({"role_ids": [other]}))
        .await
        .ok();
    app.get("/api/admin/enterprises", &cast.enterprise)
        .await
        .err(403, 1005);
}

#[tokio::test]
async fn nobody_changes_their_own_roles_and_agents_give_only_what_their_shop_holds() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    // Own roles: refused for platform staff and agents alike.
    for token in [&cast.platform, &cast.l1] {
        let me = my_id(&app, token).await;
        app.put(
            &format!("/api/admin/accounts/{me}/roles"),
            token,
            json!({"role_ids": []}),
        )
        .await
        .err(403, 1005);
    }
    // A role shop B holds but shop A does not.
    let extra = app.customer_role(&cast.sa, "extra").await;
    app.put(
        &format!("/api/admin/shops/{}/roles", cast.b),
        &cast.sa,
        json!({"role_ids": [cast.role, extra]}),
    )
    .await
    .ok();
    let body =
        json!({"username": "b-staff", "password": "password-b", "user_type": 3, "shop_id": cast.b});
    let staff = app.post("/api/admin/accounts", &cast.l1, body).await.ok()["id"]
        .as_u64()
        .unwrap();
    let staff_roles = format!("/api/admin/accounts/{staff}/roles");
    app.put(&staff_roles, &cast.l1, json!({"role_ids": [extra]}))
        .await
        .err(403, 1005);
    app.put(&staff_roles, &cast.l1, json!({"role_ids": [cast.role]}))
        .await
        .ok();
    // The platform may give it, since B holds it; nobody may give a role the
    // account's shop lacks (it would never count).
    app.put(
        &staff_roles,
        &cast.sa,
        json!({"role_ids": [cast.role, extra]}),
    )
    .await
    .ok();
    let lacking = app.customer_role(&cast.sa, "lacking").await;
    app.put(&staff_roles, &cast.sa, json!({"role_ids": [lacking]}))
        .await
        .err(400, 1001);
    // An agent keeps a role it could not give when editing the others.
    app.put(&staff_roles, &cast.l1, json!({"role_ids": [extra]}))
        .await
        .ok();
    // A sub-shop's default role must be one the agent's own shop holds.
    app.post(
        "/api/admin/shops",
        &cast.l1,
        shop_body("N1", Some(cast.b), extra),
    )
    .await
    .err(403, 1005);
    app.post(
        "/api/admin/shops",
        &cast.l1,
        shop_body("N2", Some(cast.b), cast.role),
    )
    .await
    .ok();
}

#[tokio::test]
async fn me_costs_three_calls_whatever_the_number_of_roles() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let mut roles = Vec::new();
    for i in 0..5 {
        roles.push(
            app.role_with(&sa, &format!("ops-{i}"), 1, &["shop:view"])
                .await,
        );
    }
    let body = json!({"username": "many", "password": "password-m", "user_type": 2});
    app.account_with_roles(&sa, &sa, body, &roles).await;
    let token = app.login("many", "password-m").await;
    let me = app.get("/api/admin/me", &token).await;
    assert_eq!(me.ok()["roles"].as_array().unwrap().len(), 5);
    assert_eq!(me.data()["permissions"], json!(["shop:view"]));
    // The per-request batch, the account with its roles, the permission tree.
    assert!(me.ddb_calls() <= 3, "{} calls", me.ddb_calls());
}
