//! The organisation: shop tree, data scope, enterprises, accounts, roles.

use std::collections::HashSet;

use serde_json::{json, Value};
use shared::store::str_attr;

use crate::helpers::{shop_body, spawn_app, whole, TestApp};

fn ids(list: &Value) -> HashSet<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect()
}

/// Platform → A (L1) → B (L2) → C (L3), and a sibling D (L1).
struct Tree {
    admin: String,
    role: u64,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
}

async fn tree(app: &TestApp) -> Tree {
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "agent-default").await;
    let a = app.shop(&admin, "A", None, role).await;
    let agent_a = app.agent("A").await;
    // Agents create children of their own subtree; the parent defaults to their shop.
    let r = app
        .post("/api/admin/shops", &agent_a, shop_body("B", None, role))
        .await;
    let b = r.ok()["id"].as_u64().unwrap();
    assert_eq!(r.data()["level"], 2);
    assert_eq!(r.data()["parent_id"], a);
    let c = app.shop(&agent_a, "C", Some(b), role).await;
    let d = app.shop(&admin, "D", None, role).await;
    Tree {
        admin,
        role,
        a,
        b,
        c,
        d,
    }
}

#[tokio::test]
async fn agents_see_exactly_their_subtree() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let all = app.get("/api/admin/shops?page_size=100", &t.admin).await;
    assert_eq!(ids(&all.ok()["list"]), HashSet::from([t.a, t.b, t.c, t.d]));
    assert_eq!(all.data()["total"], 4);

    let cases = [
        ("A", vec![t.a, t.b, t.c]),
        ("B", vec![t.b, t.c]),
        ("C", vec![t.c]),
        ("D", vec![t.d]),
    ];
    for (code, expected) in cases {
        let token = app.agent(code).await;
        let list = app.get("/api/admin/shops", &token).await;
        assert_eq!(
            ids(&list.ok()["list"]),
            expected.iter().copied().collect(),
            "agent {code}"
        );
        assert_eq!(list.data()["total"], expected.len(), "agent {code}");
        for shop in [t.a, t.b, t.c, t.d] {
            let r = app.get(&format!("/api/admin/shops/{shop}"), &token).await;
            if expected.contains(&shop) {
                r.ok();
            } else {
                r.err(404, 1002); // siblings and ancestors look missing
            }
        }
        let subs = app
            .get(
                &format!("/api/admin/shops/{}/subordinate-ids", expected[0]),
                &token,
            )
            .await;
        let subs: HashSet<u64> = serde_json::from_value(subs.ok().clone()).unwrap();
        assert_eq!(subs, expected.iter().copied().collect());
    }
    // Filters and paging.
    let l2 = app.get("/api/admin/shops?level=2", &t.admin).await;
    assert_eq!(ids(&l2.ok()["list"]), HashSet::from([t.b]));
    let first = app.get("/api/admin/shops?page_size=3", &t.admin).await;
    assert_eq!(first.ok()["list"].as_array().unwrap().len(), 3);
    assert_eq!(first.data()["has_more"], true);
    let cursor = first.data()["next_cursor"].as_str().unwrap();
    let page = app
        .get(
            &format!("/api/admin/shops?page_size=3&cursor={cursor}"),
            &t.admin,
        )
        .await;
    assert_eq!(whole(page.ok()).len(), 1);
    assert_eq!(page.data()["total"], 4);
    let named = app
        .get("/api/admin/shops?shop_name=Shop%20C", &t.admin)
        .await;
    assert_eq!(ids(&named.ok()["list"]), HashSet::from([t.c]));
    assert_eq!(named.data()["list"][0]["parent_shop_name"], "Shop B");
}

#[tokio::test]
async fn agents_cannot_create_outside_their_subtree_and_levels_stop_at_seven() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let agent_b = app.agent("B").await;
    app.post(
        "/api/admin/shops",
        &agent_b,
        shop_body("X1", Some(t.a), t.role),
    )
    .await
    .err(403, 1005);
    app.post(
        "/api/admin/shops",
        &agent_b,
        shop_body("X2", Some(t.d), t.role),
    )
    .await
    .err(403, 1005);

    let mut parent = t.c;
    for level in 4..=7 {
        let r = app
            .post(
                "/api/admin/shops",
                &t.admin,
                shop_body(&format!("L{level}"), Some(parent), t.role),
            )
            .await;
        assert_eq!(r.ok()["level"], level);
        parent = r.data()["id"].as_u64().unwrap();
    }
    let before = app.table.entity_keys().await;
    app.post(
        "/api/admin/shops",
        &t.admin,
        shop_body("L8", Some(parent), t.role),
    )
    .await
    .err(400, 1014);
    assert_eq!(app.table.entity_keys().await, before, "nothing written");
}

#[tokio::test]
async fn shop_creation_writes_shop_account_roles_and_wallets_atomically() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "agent-default").await;
    let shop = app.shop(&admin, "W", None, role).await;
    let items = app.table.scan().await;
    let sk_of = |pk: &str| -> HashSet<String> {
        items
            .iter()
            .filter(|i| str_attr(i, "pk") == Some(pk))
            .map(|i| str_attr(i, "sk").unwrap().to_string())
            .collect()
    };
    // The shop, its wallets and the counts of its subtree (itself and its account).
    assert_eq!(
        sk_of(&format!("SHOP#{shop}")),
        HashSet::from([
            "#".into(),
            "WALLET#main".into(),
            "WALLET#commission".into(),
            "TALLY".into()
        ])
    );
    // The shop and its first account hold the default role, which counts them.
    let shop_item = items
        .iter()
        .find(|i| {
            str_attr(i, "pk") == Some(&format!("SHOP#{shop}")) && str_attr(i, "sk") == Some("#")
        })
        .unwrap();
    let shop_roles: shared::domain::entities::Shop =
        shared::store::from_item(shop_item.clone()).unwrap();
    assert_eq!(shop_roles.role_ids, vec![role]);
    let role_now = app.get(&format!("/api/admin/roles/{role}"), &admin).await;
    assert_eq!(role_now.ok()["holders"], 2);
    let wallet = items
        .iter()
        .find(|i| {
            str_attr(i, "pk") == Some(&format!("SHOP#{shop}"))
                && str_attr(i, "sk") == Some("WALLET#main")
        })
        .unwrap();
    assert_eq!(shared::store::num_attr(wallet, "balance"), Some(0));
    let agent = app.agent("W").await;
    let me = app.get("/api/admin/me", &agent).await;
    assert_eq!(me.ok()["account"]["shop_id"], shop);
    assert_eq!(
        me.data()["roles"][0]["id"],
        role,
        "the initial account has the default role"
    );

    // Invalid default roles: missing, platform role, disabled role.
    let platform_role = app
        .post(
            "/api/admin/roles",
            &admin,
            json!({"role_name": "ops", "role_type": 1}),
        )
        .await;
    let platform_role = platform_role.ok()["id"].as_u64().unwrap();
    let disabled = app.customer_role(&admin, "disabled").await;
    app.put(
        &format!("/api/admin/roles/{disabled}/status"),
        &admin,
        json!({"status": 0}),
    )
    .await
    .ok();
    let before = app.table.entity_keys().await;
    for bad in [9999, platform_role, disabled] {
        app.post("/api/admin/shops", &admin, shop_body("Z", None, bad))
            .await
            .err(400, 1016);
    }
    // Duplicate shop code and duplicate initial username: nothing of either written.
    app.post("/api/admin/shops", &admin, shop_body("W", None, role))
        .await
        .err(409, 1015);
    let mut dup_user = shop_body("W2", None, role);
    dup_user["initial_account"]["username"] = json!("W-agent");
    app.post("/api/admin/shops", &admin, dup_user)
        .await
        .err(409, 1018);
    assert_eq!(app.table.entity_keys().await, before, "no partial writes");
}

#[tokio::test]
async fn concurrent_creation_of_the_same_code_has_one_winner() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "agent-default").await;
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let mut body = shop_body("SAME", None, role);
            body["initial_account"]["username"] = json!(format!("racer-{i}"));
            app.post("/api/admin/shops", &admin, body)
        })
        .collect();
    let results = futures_util_join(attempts).await;
    let ok = results.iter().filter(|r| r.code() == 0).count();
    assert_eq!(ok, 1);
    for r in results.iter().filter(|r| r.code() != 0) {
        r.err(409, 1015);
    }
    let list = app.get("/api/admin/shops?shop_code=SAME", &admin).await;
    assert_eq!(whole(list.ok()).len(), 1);
    // Only the winner's account exists.
    let accounts = app.get("/api/admin/accounts?user_type=3", &admin).await;
    assert_eq!(whole(accounts.ok()).len(), 1);
    let wallets = app
        .table
        .scan()
        .await
        .into_iter()
        .filter(|i| str_attr(i, "sk").is_some_and(|s| s.starts_with("WALLET#")))
        .count();
    assert_eq!(wallets, 2);
}

async fn futures_util_join<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    // Poll all concurrently on this task.
    let joined = async {
        let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
        let mut outs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in pinned.iter_mut().enumerate() {
                if outs[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => outs[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        outs.into_iter().map(Option::unwrap).collect::<Vec<_>>()
    };
    set.extend(joined.await);
    set
}

#[tokio::test]
async fn soft_delete_rules() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    app.delete(&format!("/api/admin/shops/{}", t.b), &t.admin)
        .await
        .err(409, 1019);
    app.delete(&format!("/api/admin/shops/{}", t.c), &t.admin)
        .await
        .ok();
    app.get(&format!("/api/admin/shops/{}", t.c), &t.admin)
        .await
        .err(404, 1002);
    // Now B has no live children.
    let b = app
        .get(&format!("/api/admin/shops/{}", t.b), &t.admin)
        .await;
    assert_eq!(b.ok()["child_count"], 0);
    app.delete(&format!("/api/admin/shops/{}", t.b), &t.admin)
        .await
        .ok();
    // The code is reusable; the deleted parent's name still resolves for display.
    let again = app.post("/api/admin/shops", &t.admin, {
        let mut body = shop_body("C", Some(t.a), t.role);
        body["initial_account"]["username"] = json!("c-again");
        body
    });
    again.await.ok();
    let accounts_of_deleted = app
        .call(
            "POST",
            "/api/admin/login",
            None,
            Some(json!({"username": "C-agent", "password": "password-C"})),
        )
        .await;
    accounts_of_deleted.err(403, 1012);
    app.delete(&format!("/api/admin/shops/{}", t.c), &t.admin)
        .await
        .err(404, 1002);
    // Agents may not delete shops.
    let agent_a = app.agent("A").await;
    app.delete(&format!("/api/admin/shops/{}", t.d), &agent_a)
        .await
        .err(403, 1005);
}

#[tokio::test]
async fn names_of_deleted_shops_still_display() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "r").await;
    let shop = app.shop(&admin, "P", None, role).await;
    let ent = app
        .post(
            "/api/admin/enterprises",
            &admin,
            json!({"enterprise_name": "E", "enterprise_code": "E", "owner_shop_id": shop}),
        )
        .await;
    let ent = ent.ok()["id"].as_u64().unwrap();
    app.delete(&format!("/api/admin/shops/{shop}"), &admin)
        .await
        .ok();
    let r = app
        .get(&format!("/api/admin/enterprises/{ent}"), &admin)
        .await;
    assert_eq!(r.ok()["owner_shop_name"], "Shop P");
    let list = app.get("/api/admin/enterprises", &admin).await;
    assert_eq!(list.ok()["list"][0]["owner_shop_name"], "Shop P");
}

#[tokio::test]
async fn updates_use_optimistic_locking_and_keep_codes_unique() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let path = format!("/api/admin/shops/{}", t.b);
    // B's version counts its sub-shop's creation too (counter changes bump it).
    let v = app.get(&path, &t.admin).await.ok()["version"]
        .as_i64()
        .unwrap();
    let r = app
        .put(
            &path,
            &t.admin,
            json!({"shop_name": "Renamed", "version": v}),
        )
        .await;
    assert_eq!(r.ok()["shop_name"], "Renamed");
    assert_eq!(r.data()["version"], v + 1);
    app.put(&path, &t.admin, json!({"shop_name": "Stale", "version": v}))
        .await
        .err(409, 1007);
    app.put(&path, &t.admin, json!({"shop_code": "A"}))
        .await
        .err(409, 1015);
    app.put(&path, &t.admin, json!({"shop_code": "B-new"}))
        .await
        .ok();
    // The old code is free again, the new one taken.
    let body = {
        let mut b = shop_body("B", None, t.role);
        b["initial_account"]["username"] = json!("b-reuse");
        b
    };
    app.post("/api/admin/shops", &t.admin, body).await.ok();
    // Agents cannot disable their own shop but can disable a descendant.
    let agent_b = app.agent("B").await;
    app.put(
        &format!("/api/admin/shops/{}/status", t.b),
        &agent_b,
        json!({"status": 0}),
    )
    .await
    .err(403, 1005);
    app.put(
        &format!("/api/admin/shops/{}/status", t.c),
        &agent_b,
        json!({"status": 0}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn enterprises_are_scoped_by_owner_subtree() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let agent_b = app.agent("B").await;
    let mk = |token: String, code: &'static str, owner: Option<u64>| {
        let app = &app;
        async move {
            let r = app
                .post("/api/admin/enterprises", &token, json!({"enterprise_name": code, "enterprise_code": code, "owner_shop_id": owner}))
                .await;
            r.ok()["id"].as_u64().unwrap()
        }
    };
    let platform_owned = mk(t.admin.clone(), "EP", None).await;
    let owned_by_b = mk(agent_b.clone(), "EB", None).await; // defaults to the agent's shop
    let owned_by_c = mk(agent_b.clone(), "EC", Some(t.c)).await;
    let owned_by_d = mk(t.admin.clone(), "ED", Some(t.d)).await;
    app.post(
        "/api/admin/enterprises",
        &agent_b,
        json!({"enterprise_name": "x", "enterprise_code": "EX", "owner_shop_id": t.a}),
    )
    .await
    .err(400, 1026);
    app.post(
        "/api/admin/enterprises",
        &t.admin,
        json!({"enterprise_name": "x", "enterprise_code": "EB"}),
    )
    .await
    .err(409, 1020);

    let all = app.get("/api/admin/enterprises", &t.admin).await;
    assert_eq!(
        ids(&all.ok()["list"]),
        HashSet::from([platform_owned, owned_by_b, owned_by_c, owned_by_d])
    );
    let agent_a = app.agent("A").await;
    let seen_a = app.get("/api/admin/enterprises", &agent_a).await;
    assert_eq!(
        ids(&seen_a.ok()["list"]),
        HashSet::from([owned_by_b, owned_by_c])
    );
    let seen_b = app.get("/api/admin/enterprises", &agent_b).await;
    assert_eq!(
        ids(&seen_b.ok()["list"]),
        HashSet::from([owned_by_b, owned_by_c])
    );
    assert_eq!(seen_b.data()["list"][0]["owner_shop_name"], "Shop B");
    let agent_c = app.agent("C").await;
    let seen_c = app.get("/api/admin/enterprises", &agent_c).await;
    assert_eq!(ids(&seen_c.ok()["list"]), HashSet::from([owned_by_c]));
    app.get(&format!("/api/admin/enterprises/{owned_by_b}"), &agent_c)
        .await
        .err(404, 1002);

    // The enterprise's account sees only its own enterprise.
    app.account_with_roles(&t.admin, &t.admin, json!({"username": "ec-user", "password": "password-ec", "user_type": 4, "enterprise_id": owned_by_c}), &[t.role])
        .await;
    app.post(
        "/api/admin/accounts",
        &t.admin,
        json!({"username": "ec-user2", "password": "password-ec", "user_type": 4, "enterprise_id": owned_by_c}),
    )
    .await
    .err(409, 1021);
    let ent = app.login("ec-user", "password-ec").await;
    let own = app.get("/api/admin/enterprises", &ent).await;
    assert_eq!(ids(&own.ok()["list"]), HashSet::from([owned_by_c]));
    app.get(&format!("/api/admin/enterprises/{owned_by_c}"), &ent)
        .await
        .ok();
    app.get(&format!("/api/admin/enterprises/{owned_by_b}"), &ent)
        .await
        .err(404, 1002);

    // Deleting an enterprise that still has its account is refused.
    app.delete(&format!("/api/admin/enterprises/{owned_by_c}"), &t.admin)
        .await
        .err(409, 1028);
    app.delete(&format!("/api/admin/enterprises/{owned_by_b}"), &agent_b)
        .await
        .ok();
    app.get(&format!("/api/admin/enterprises/{owned_by_b}"), &t.admin)
        .await
        .err(404, 1002);
}

#[tokio::test]
async fn accounts_crud_and_scope() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let agent_a = app.agent("A").await;
    // Agents create agent accounts for their subtree only.
    let r = app
        .post("/api/admin/accounts", &agent_a, json!({"username": "b-staff", "password": "password-b", "user_type": 3, "shop_id": t.b}))
        .await;
    let staff = r.ok()["id"].as_u64().unwrap();
    app.post(
        "/api/admin/accounts",
        &agent_a,
        json!({"username": "d-staff", "password": "password-d", "user_type": 3, "shop_id": t.d}),
    )
    .await
    .err(404, 1002);
    app.post(
        "/api/admin/accounts",
        &agent_a,
        json!({"username": "p-staff", "password": "password-p", "user_type": 2}),
    )
    .await
    .err(403, 1005);
    app.post(
        "/api/admin/accounts",
        &t.admin,
        json!({"username": "b-staff", "password": "password-b", "user_type": 2}),
    )
    .await
    .err(409, 1018);
    app.post(
        "/api/admin/accounts",
        &t.admin,
        json!({"username": "root2", "password": "password-b", "user_type": 1}),
    )
    .await
    .err(400, 1001);

    let agent_b = app.agent("B").await;
    let list_b = app.get("/api/admin/accounts", &agent_b).await;
    let names: HashSet<String> = list_b.ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["B-agent".into(), "C-agent".into(), "b-staff".into()])
    );
    let agent_d = app.agent("D").await;
    app.get(&format!("/api/admin/accounts/{staff}"), &agent_d)
        .await
        .err(404, 1002);

    // Update, reset password (ends sessions), roles, delete; each logged.
    app.put(
        &format!("/api/admin/accounts/{staff}"),
        &agent_b,
        json!({"phone": "13900000000"}),
    )
    .await
    .ok();
    let staff_token = app.login("b-staff", "password-b").await;
    app.put(
        &format!("/api/admin/accounts/{staff}/password"),
        &agent_b,
        json!({"password": "password-new"}),
    )
    .await
    .ok();
    app.get("/api/admin/me", &staff_token).await.err(401, 1004);
    app.login("b-staff", "password-new").await;
    let roles = app
        .put(
            &format!("/api/admin/accounts/{staff}/roles"),
            &agent_b,
            json!({"role_ids": [t.role]}),
        )
        .await;
    assert_eq!(roles.ok().as_array().unwrap().len(), 1);
    let other_role = app.customer_role(&t.admin, "not-for-shops").await;
    app.put(
        &format!("/api/admin/accounts/{staff}/roles"),
        &agent_b,
        json!({"role_ids": [other_role]}),
    )
    .await
    .err(403, 1005);
    let me = app.get("/api/admin/me", &agent_b).await;
    let me_id = me.ok()["account"]["id"].as_u64().unwrap();
    app.delete(&format!("/api/admin/accounts/{me_id}"), &agent_b)
        .await
        .err(403, 1005);
    app.delete(&format!("/api/admin/accounts/{staff}"), &agent_b)
        .await
        .ok();
    app.get(&format!("/api/admin/accounts/{staff}"), &t.admin)
        .await
        .err(404, 1002);
    let logs = app
        .get(
            &format!("/api/admin/accounts/{staff}/operation-logs"),
            &t.admin,
        )
        .await;
    let ops: Vec<&str> = logs.ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["operation_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        vec!["delete", "set_roles", "reset_password", "update", "create"]
    );
    assert!(
        !logs.body.to_string().contains("argon2"),
        "no password hashes in logs"
    );
    // The username is free again.
    app.post(
        "/api/admin/accounts",
        &agent_b,
        json!({"username": "b-staff", "password": "password-b", "user_type": 3, "shop_id": t.b}),
    )
    .await
    .ok();
    // Platform staff cannot touch the super admin.
    app.platform_account(&t.admin, "ops1", "password-ops").await;
    let ops = app.login("ops1", "password-ops").await;
    let admin_id = app.get("/api/admin/me", &t.admin).await.ok()["account"]["id"]
        .as_u64()
        .unwrap();
    app.put(
        &format!("/api/admin/accounts/{admin_id}/status"),
        &ops,
        json!({"status": 0}),
    )
    .await
    .err(403, 1005);
}

#[tokio::test]
async fn roles_and_permissions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "sales").await;
    app.post(
        "/api/admin/roles",
        &admin,
        json!({"role_name": "sales", "role_type": 2}),
    )
    .await
    .err(409, 1017);
    let other = app.customer_role(&admin, "other").await;
    app.put(
        &format!("/api/admin/roles/{other}"),
        &admin,
        json!({"role_name": "sales"}),
    )
    .await
    .err(409, 1017);
    app.put(
        &format!("/api/admin/roles/{other}"),
        &admin,
        json!({"role_name": "other2"}),
    )
    .await
    .ok();

    let menu = app
        .post(
            "/api/admin/permissions",
            &admin,
            json!({"perm_name": "Shops", "perm_code": "shop:menu", "perm_type": 1}),
        )
        .await;
    let menu = menu.ok()["id"].as_u64().unwrap();
    let button = app
        .post(
            "/api/admin/permissions",
            &admin,
            json!({"perm_name": "Create", "perm_code": "shop:extra", "perm_type": 2, "parent_id": menu}),
        )
        .await;
    let button = button.ok()["id"].as_u64().unwrap();
    app.post(
        "/api/admin/permissions",
        &admin,
        json!({"perm_name": "Dup", "perm_code": "shop:extra", "perm_type": 2}),
    )
    .await
    .err(409, 1022);
    let tree = app.get("/api/admin/permissions", &admin).await;
    assert_eq!(tree.ok()[0]["children"][0]["id"], button);
    app.delete(&format!("/api/admin/permissions/{menu}"), &admin)
        .await
        .err(409, 1025);

    // A seeded code (role:view) next to the new ones: agents of the role may list roles.
    let role_view = app.permission_ids(&admin, &["role:view"]).await[0];
    app.put(
        &format!("/api/admin/roles/{role}/permissions"),
        &admin,
        json!({"permission_ids": [menu, button, role_view]}),
    )
    .await
    .ok();
    app.put(
        &format!("/api/admin/roles/{role}/permissions"),
        &admin,
        json!({"permission_ids": [menu, 999]}),
    )
    .await
    .err(400, 1001);
    let perms = app
        .get(&format!("/api/admin/roles/{role}/permissions"), &admin)
        .await;
    assert_eq!(
        perms.ok().as_array().unwrap().len(),
        3,
        "a failed replace changed nothing"
    );

    // A shop's initial agent gets the default role's permissions.
    app.shop(&admin, "R", None, role).await;
    let agent = app.agent("R").await;
    let me = app.get("/api/admin/me", &agent).await;
    assert_eq!(
        me.ok()["permissions"],
        json!(["role:view", "shop:extra", "shop:menu"])
    );
    // Agents list the roles of their shop only.
    let roles = app.get("/api/admin/roles", &agent).await;
    assert_eq!(ids(&roles.ok()["list"]), HashSet::from([role]));
    // A role in use cannot be deleted; an unused one can, and its name is reusable.
    app.delete(&format!("/api/admin/roles/{role}"), &admin)
        .await
        .err(409, 1023);
    app.delete(&format!("/api/admin/roles/{other}"), &admin)
        .await
        .ok();
    app.customer_role(&admin, "other2").await;
}
